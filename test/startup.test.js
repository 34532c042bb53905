// What start-up loads (issue 11's first row): `pki --version` runs from pki.js, one CommonJS file, and loads no node
// module beyond those `node -e 0` loads, nor node's ES-module loader unless node sets it up for an empty CommonJS
// script too (node 24 does); `pki list` and `pki status` add the SQLite driver and the read path, nothing more.
// Judged from node's own record (process.moduleLoadList) of each process, taken at exit by a preloaded script.
import test from "ava";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PASS, PKI, ROOT, pkiOk, run, tempDir } from "./_helpers.js";

const ESM_LOADER = "NativeModule internal/modules/esm/loader";
const DUMP =
  "process.on('exit', () => require('fs').writeFileSync(process.env.DUMP, process.moduleLoadList.join('\\n')));";

/** The modules node records for `node -r dump ARGS`, run with stdout and stderr on pipes (as the bench runs it). */
async function loaded(t, dir, args, env = {}, preload = undefined) {
  const dump = preload ?? join(dir, "dump.cjs");
  if (!preload) writeFileSync(dump, DUMP);
  const out = join(dir, `loaded-${Math.random().toString(36).slice(2)}.txt`);
  const r = await run(process.execPath, ["-r", dump, ...args], {
    cwd: dir,
    env: { ...process.env, ...env, DUMP: out },
  });
  t.is(r.code, 0, r.stderr);
  return { r, modules: new Set(readFileSync(out, "utf8").split("\n")) };
}

test("pki --version loads nothing node -e 0 does not, and no ES-module loader", async (t) => {
  const dir = tempDir(t);
  const base = (await loaded(t, dir, ["-e", "0"])).modules;
  t.true(base.has(ESM_LOADER), "node -e 0 itself sets up the ES-module loader");
  // For a CommonJS script node 20 does not, node 24 always does: pki must not be what sets it up.
  writeFileSync(join(dir, "empty.cjs"), "");
  const script = (await loaded(t, dir, [join(dir, "empty.cjs")])).modules;
  const { r, modules } = await loaded(t, dir, [PKI, "--version"]);
  t.regex(r.out, /^\d+\.\d+\.\d+/);
  const extra = [...modules].filter((m) => !base.has(m));
  t.deepEqual(extra, [], `pki --version loaded ${extra.join(", ")}`);
  t.false(modules.has(ESM_LOADER) && !script.has(ESM_LOADER), "pki --version set up the ES-module loader");
});

// On a depot held in depot.db, list and status load the SQLite driver and the record store's read path, one
// CommonJS file: nothing beyond what a script loading better-sqlite3, node:crypto, os, timers/promises and
// async_hooks loads (no PostgreSQL driver: no net or tls; no ES-module loader unless node sets it up for an empty
// CommonJS script), and not the X.509 issuance stack (it installs reflect-metadata's Reflect.getMetadata).
test("pki list and status on depot.db load SQLite and the read path: no issuance stack, no pg", async (t) => {
  const dir = tempDir(t);
  const env = { PKI_DEPOT: join(dir, ".pki"), PKI_PASSPHRASE: PASS };
  await pkiOk(t, dir, ["init"], { env });
  await pkiOk(t, dir, ["issue", "web", "web.example.com", "127.0.0.1", "::1"], { env }); // IPs: the checks read back
  t.true(existsSync(join(dir, ".pki", "depot.db")));
  writeFileSync(join(dir, "like.cjs"), [
    `require(${JSON.stringify(join(ROOT, "node_modules", "better-sqlite3"))})(":memory:").prepare("select 1").get();`,
    "require('node:crypto'); require('node:os'); require('node:timers/promises');",
    // The read path takes node:fs whole (esbuild's CommonJS face reads every property): on node 24 that loads
    // internal/fs/dir, a lazy property of node:fs since then.
    "Object.getOwnPropertyDescriptors(require('node:fs'));",
    "new (require('node:async_hooks').AsyncLocalStorage)().run(1, () => 0);",
  ].join("\n"));
  const like = (await loaded(t, dir, [join(dir, "like.cjs")])).modules;
  writeFileSync(join(dir, "empty.cjs"), "");
  const script = (await loaded(t, dir, [join(dir, "empty.cjs")])).modules;
  const dump = join(dir, "dump.cjs");
  writeFileSync(dump, `${DUMP}\nprocess.on('exit', () => { if (Reflect.getMetadata) process.exitCode = 99; });`);
  for (const args of [["list"], ["list", "--json"], ["status"]]) {
    const { r, modules } = await loaded(t, dir, [PKI, ...args], { PKI_DEPOT: join(dir, ".pki") }, dump);
    t.regex(r.out, /web/);
    const extra = [...modules].filter((m) => !like.has(m) && !m.startsWith("/") && !m.startsWith("file:"));
    t.deepEqual(extra, [], `pki ${args.join(" ")} loaded ${extra.join(", ")}`);
    t.false(modules.has(ESM_LOADER) && !script.has(ESM_LOADER), `pki ${args.join(" ")} set up the ES-module loader`);
  }
});

// `pki issue`, `pki new-cert` and `pki sign` are one CommonJS file each (scripts/build-bundle.mjs): they set up no
// ES-module loader (unless node does for an empty CommonJS script), and of the npm packages they require only
// better-sqlite3's addon; the others (the ASN.1 stack, tar, pg, pkcs11js) stay unloaded unless a path needs them.
test("issue, new-cert and sign run as CommonJS: no ES-module loader, no npm package but better-sqlite3", async (t) => {
  const dir = tempDir(t);
  const env = { PKI_DEPOT: join(dir, ".pki"), PKI_PASSPHRASE: PASS };
  await pkiOk(t, dir, ["init"], { env });
  writeFileSync(join(dir, "empty.cjs"), "");
  const script = (await loaded(t, dir, [join(dir, "empty.cjs")])).modules;
  const dump = join(dir, "dump.cjs");
  const packages = "Object.keys(require.cache).filter((f) => f.includes('/node_modules/'))";
  writeFileSync(dump, `${DUMP}\nprocess.on('exit', () => require('fs').writeFileSync(process.env.DUMP + '.pkg', ` +
    `JSON.stringify(${packages})));`);
  const commands = [
    [["issue", "web", "web.example.com", "127.0.0.1"], /^Issued "web"/],
    [["new-cert", "--domain", "api.example.com", "api"], /^Created key and CSR for "api"/],
    [["sign", "api"], /^Signed "api"/],
  ];
  for (const [args, said] of commands) {
    const { r, modules } = await loaded(t, dir, [PKI, ...args], env, dump);
    t.regex(r.stderr, said);
    const out = [...readdirSync(dir)].find((f) => f.endsWith(".txt.pkg"));
    const pkgs = JSON.parse(readFileSync(join(dir, out), "utf8")).map((f) => f.split("/node_modules/").pop());
    rmSync(join(dir, out));
    t.deepEqual(pkgs.filter((f) => !f.startsWith("better-sqlite3/")), [], `pki ${args[0]}: npm packages loaded`);
    t.true(pkgs.some((f) => f.endsWith("better_sqlite3.node")), "else this test judges nothing");
    if (script.has(ESM_LOADER)) t.log("this node sets up its ES-module loader for any CommonJS script: no judging");
    else t.false(modules.has(ESM_LOADER), `pki ${args[0]} set up the ES-module loader`);
  }
});
