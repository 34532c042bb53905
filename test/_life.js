// Depots held in depot.db for the life-cycle commands' tests (test/depot-cli-life*.test.js).
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PASS, pkiOk, tempDir } from "./_helpers.js";
import "./_depot.js"; // the test-only cheap KDF, for `pki init` and the depot API alike

/** `pki init` of a depot.db depot in a temp dir, then what `fill(dir)` adds. Returns { dir, depot }. */
export async function dbDepot(t, fill = async () => {}) {
  const dir = tempDir(t, "pki-life-");
  writeFileSync(join(dir, "pass"), PASS + "\n");
  await pkiOk(t, dir, ["init", "--passphrase-file", "pass"]);
  const depot = join(dir, ".pki");
  t.true(existsSync(join(depot, "depot.db")));
  await fill(dir);
  return { dir, depot };
}
