// list, status and chain in their plain forms run before yargs loads (cli/plain.ts): each must answer exactly as
// the yargs path does. `--json=false` / `--root=true` spellings force the yargs path for the same request.
import test from "ava";
import { newDepot, pki, pkiOk } from "./_helpers.js";

const PAIRS = [
  [["list"], ["list", "--json=false"]],
  [["list", "--json"], ["list", "--json=true"]],
  [["status"], ["status", "--json=false"]],
  [["status", "--json", "--warn", "400d"], ["status", "--json=true", "--warn", "400d"]],
  [["status", "web"], ["status", "--json=false", "web"]],
  [["status", "nope"], ["status", "--json=false", "nope"]],
  [["chain"], ["chain", "--root=true"]],
  [["chain", "web"], ["chain", "--root=true", "web"]],
  [["chain", "--no-root", "web"], ["chain", "--root=false", "web"]],
  [["chain", "nope"], ["chain", "--root=true", "nope"]],
  [["list", "--depot", "missing"], ["list", "--json=false", "--depot", "missing"]],
];

test("plain list/status/chain answer exactly as through yargs: stdout, stderr and exit status", async (t) => {
  t.timeout(180_000);
  const dir = await newDepot(t);
  await pkiOk(t, dir, ["issue", "--passphrase-file", "pass", "web", "localhost"]);
  await pkiOk(t, dir, ["init", "--intermediate", "issuing", "--passphrase-file", "pass"]);
  for (const [plain, viaYargs] of PAIRS) {
    const [a, b] = await Promise.all([pki(dir, plain), pki(dir, viaYargs)]);
    t.deepEqual({ code: a.code, out: a.out, err: a.stderr }, { code: b.code, out: b.out, err: b.stderr }, plain.join(" "));
  }
  t.is((await pki(dir, ["status", "--json", "--warn", "400d"])).code, 1, "WARN within 400 days: exit 1");
  t.regex((await pki(dir, ["status", "nope"])).stderr, /^pki: unknown name "nope"/);
});
