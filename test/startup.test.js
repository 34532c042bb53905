// What start-up loads (issue 11's first row): `pki list`, `pki status` and `pki --version` run from pki.js, one
// CommonJS file, and load no node module beyond those `node -e 0` loads, nor node's ES-module loader unless node sets
// it up for an empty CommonJS script too (node 24 does). Judged from node's own record (process.moduleLoadList) of
// each process, taken at exit by a preloaded script.
import test from "ava";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PASS, PKI, pkiOk, run, tempDir } from "./_helpers.js";

const ESM_LOADER = "NativeModule internal/modules/esm/loader";
const DUMP =
  "process.on('exit', () => require('fs').writeFileSync(process.env.DUMP, process.moduleLoadList.join('\\n')));";

/** The modules node records for `node -r dump ARGS`, run with stdout and stderr on pipes (as the bench runs it). */
async function loaded(t, dir, args, env = {}) {
  const dump = join(dir, "dump.cjs");
  writeFileSync(dump, DUMP);
  const out = join(dir, `loaded-${Math.random().toString(36).slice(2)}.txt`);
  const r = await run(process.execPath, ["-r", dump, ...args], {
    cwd: dir,
    env: { ...process.env, ...env, DUMP: out },
  });
  t.is(r.code, 0, r.stderr);
  return { r, modules: new Set(readFileSync(out, "utf8").split("\n")) };
}

test("pki list, status and --version load nothing node -e 0 does not, and no ES-module loader", async (t) => {
  const dir = tempDir(t);
  const env = { PKI_DEPOT: join(dir, ".pki"), PKI_PASSPHRASE: PASS };
  await pkiOk(t, dir, ["init"], { env });
  await pkiOk(t, dir, ["issue", "web", "web.example.com", "127.0.0.1", "::1"], { env }); // IPs: index checks
  const base = (await loaded(t, dir, ["-e", "0"])).modules;
  t.true(base.has(ESM_LOADER), "node -e 0 itself sets up the ES-module loader");
  // For a CommonJS script node 20 does not, node 24 always does: pki must not be what sets it up.
  writeFileSync(join(dir, "empty.cjs"), "");
  const script = (await loaded(t, dir, [join(dir, "empty.cjs")])).modules;
  for (const args of [["list"], ["status"], ["--version"]]) {
    const { r, modules } = await loaded(t, dir, [PKI, ...args], { PKI_DEPOT: join(dir, ".pki") });
    if (args[0] === "list") t.regex(r.out, /^web\s/m);
    const extra = [...modules].filter((m) => !base.has(m));
    t.deepEqual(extra, [], `pki ${args.join(" ")} loaded ${extra.join(", ")}`);
    const esm = modules.has(ESM_LOADER) && !script.has(ESM_LOADER);
    t.false(esm, `pki ${args.join(" ")} set up the ES-module loader`);
  }
});
