// Depots held in depot.db for the life-cycle commands' tests (test/depot-cli-life*.test.js).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { PASS } from "./_helpers.js";
import { initDepot, openDepot } from "./_depot.js";

/**
 * A depot in a temp dir: `pki init` (cheap KDF), what `fill(dir)` adds, then upgraded to depot.db through the
 * depot API, as a layout-1 depot of an earlier release is. Returns { dir, depot }.
 */
export async function dbDepot(t, fill = async () => {}) {
  const { dir, depot } = await initDepot(t);
  await fill(dir);
  const d = await openDepot({ depot, passphrase: PASS, upgrade: true });
  await d.close();
  t.true(existsSync(join(depot, "depot.db")));
  return { dir, depot };
}
