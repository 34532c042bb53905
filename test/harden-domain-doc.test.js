// docs/security.md says what the code does about `_` in a domain: it is refused (strict LDH host names).
import test from "ava";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PASS, pki, pkiOk, ROOT, snapshot, tempDir } from "./_helpers.js";

test("--domain with '_' is refused, and docs/security.md says so", async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, "pass"), PASS + "\n");
  const env = { PKI_TEST_ONLY_KDF_ITERATIONS: "1000" };
  await pkiOk(t, dir, ["init", "--passphrase-file", "pass"], { env });
  const before = snapshot(dir);
  const r = await pki(dir, ["new-cert", "--passphrase-file", "pass", "--domain", "evil_name.example", "web"], { env });
  t.true(r.code === 1 || r.code === 2, r.stderr);
  t.regex(r.stderr, /^pki: invalid domain "evil_name\.example"[^\n]*\n$/);
  t.deepEqual(snapshot(dir), before);

  const doc = readFileSync(join(ROOT, "docs", "security.md"), "utf8");
  const bullet = /^- \*\*`--domain`\*\*:[\s\S]*?(?=\n- |\n\n)/m.exec(doc)?.[0] ?? "";
  t.truthy(bullet, "docs/security.md has a --domain bullet");
  t.notRegex(bullet, /underscores? (are |is )?allowed|allows? underscores?/i);
  t.regex(bullet, /no `_`/);
});
