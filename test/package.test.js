// The package as a user gets it: `npm pack`, `npm install -g` of the tarball into a fresh prefix, and with only
// node on PATH, every command from the installed `pki` and the README's API example against the installed package.
import test from "ava";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { PASS, ROOT, openssl, run, tempDir } from "./_helpers.js";

const LONG = 15 * 60_000; // npm install and ~20 CLI runs: minutes on a loaded 2-core machine
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));

/** The ```js block of README.md's API section. */
function readmeApiExample(readme = readFileSync(join(ROOT, "README.md"), "utf8")) {
  const blocks = [...readme.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
  return blocks.find((b) => b.includes(`from "${pkg.name}"`));
}

/** The command of the README's ```text line that starts with `start`: the line without its # comment. */
function readmeCommand(readme, start) {
  const texts = [...readme.matchAll(/^```text\n([\s\S]*?)^```$/gm)].flatMap((m) => m[1].split("\n"));
  const line = texts.find((l) => l.startsWith(start));
  return line?.replace(/\s+#.*$/, "");
}

/**
 * better-sqlite3's install script (prebuild-install, else node-gyp) compiles SQLite for minutes when it cannot
 * download a prebuild. A CI cache would hold one; here it is this checkout's own build, offered where prebuild-install
 * looks first (npm_config_better_sqlite3_local_prebuilds), so the README's commands run unchanged and quickly.
 */
async function sqlitePrebuild(t, tmp) {
  const dir = join(ROOT, "node_modules", "better-sqlite3");
  const { version } = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const out = join(tmp, "prebuilds");
  mkdirSync(out);
  const abi = process.versions.modules;
  const file = join(out, `better-sqlite3-v${version}-node-v${abi}-${process.platform}-${process.arch}.tar.gz`);
  const tar = await run("tar", ["czf", file, "-C", dir, "build/Release/better_sqlite3.node"]);
  t.is(tar.code, 0, tar.stderr);
  return { npm_config_better_sqlite3_local_prebuilds: out };
}

/** This process's environment without npm's (an `npm test` run sets npm_config_prefix, npm_config_local_prefix...). */
const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|INIT_CWD$)/i.test(k)));

test("a new user: a fresh clone, the README's install line, then the README's API snippet from a project of its own", async (t) => {
  t.timeout(LONG);
  const tmp = tempDir(t, "pki-newuser-");
  const [clone, prefix, app] = ["clone", "prefix", "app"].map((d) => join(tmp, d));
  const c = await run("git", ["clone", "-q", ROOT, clone]);
  t.is(c.code, 0, c.stderr);
  const readme = readFileSync(join(clone, "README.md"), "utf8");
  const install = readmeCommand(readme, "npm ci");
  const link = readmeCommand(readme, `npm link ${pkg.name}`);
  t.is(install, "npm ci && npm link && pki --version", "the set-up line");
  t.is(link, `npm link ${pkg.name}`, "the API section's install line");
  // npm's global prefix in the temp dir (nothing global changes); its packages come from npm's cache.
  const env = {
    ...cleanEnv(), ...(await sqlitePrebuild(t, tmp)),
    PATH: `${join(prefix, "bin")}:${dirname(process.execPath)}:${process.env.PATH}`,
    npm_config_prefix: prefix, npm_config_prefer_offline: "true", npm_config_audit: "false", npm_config_fund: "false",
    npm_config_update_notifier: "false",
  };
  const i = await run("sh", ["-c", install], { cwd: clone, env, timeout: LONG });
  t.is(i.code, 0, i.out + i.stderr);
  t.is(i.out.trim().split("\n").pop(), pkg.version, "pki --version from the linked command");
  // A project of the user's own, outside the clone.
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "my-service", private: true }));
  const l = await run("sh", ["-c", link], { cwd: app, env, timeout: LONG });
  t.is(l.code, 0, l.out + l.stderr);
  writeFileSync(join(app, "example.mjs"), readmeApiExample(readme));
  const ex = await run(process.execPath, ["example.mjs"], { cwd: app, env, timeout: LONG });
  t.is(ex.code, 0, ex.stderr);
  t.regex(ex.out, /200 \["v1"\]/);
});

test("npm pack → npm install -g --prefix → every command and the README API example run from the install", async (t) => {
  t.timeout(LONG);
  const tmp = tempDir(t, "pki-pkg-");
  // --ignore-scripts: pack the dist/ this test run uses (prepare would rebuild it under the other tests' feet).
  const pack = await run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", tmp], { cwd: ROOT, timeout: LONG });
  t.is(pack.code, 0, pack.stderr);
  const [{ filename, files }] = JSON.parse(pack.out);
  t.true(files.some((f) => f.path === pkg.bin.pki.replace(/^\.\//, "")), "the bin (the bundle) is packed");
  t.false(files.some((f) => /^(test|cli|lib|store)\//.test(f.path) || f.path.endsWith(".ts") && !f.path.endsWith(".d.ts")), "no sources or tests packed");

  // Every package the packed code imports is a declared dependency (not one that happens to be hoisted).
  const imported = new Set();
  for (const f of files.filter((f) => f.path.endsWith(".js"))) {
    const code = readFileSync(join(ROOT, f.path), "utf8");
    const statics = code.matchAll(/^\s*(?:import|export)\b[^;'"]*?from\s*["']([^"']+)["']/gm);
    const dynamics = code.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g);
    for (const m of [...statics, ...dynamics]) {
      if (!m[1].startsWith("node:") && !m[1].startsWith(".")) imported.add(m[1].split("/").slice(0, m[1].startsWith("@") ? 2 : 1).join("/"));
    }
  }
  t.true(imported.size > 3, [...imported].join(" "));
  t.deepEqual([...imported].filter((d) => !(d in pkg.dependencies)).sort(), [], "imported but not in dependencies");

  const prefix = join(tmp, "prefix");
  const install = await run("npm", ["install", "-g", "--prefix", prefix, `./${filename}`, "--prefer-offline", "--no-audit", "--no-fund"],
    { cwd: tmp, timeout: LONG, env: { ...process.env, ...(await sqlitePrebuild(t, tmp)) } });
  t.is(install.code, 0, install.stderr);

  // A machine with only node: PATH holds the install's bin and node, nothing else (no openssl, no git).
  const work = join(tmp, "work");
  mkdirSync(work);
  writeFileSync(join(tmp, "passphrase"), `${PASS}\n`, { mode: 0o600 });
  const env = { PATH: `${join(prefix, "bin")}:${dirname(process.execPath)}`, HOME: tmp, PKI_PASSPHRASE_FILE: join(tmp, "passphrase") };
  const pki = async (args, opts = {}) => {
    const r = await run(join(prefix, "bin", "pki"), args, { cwd: work, env, timeout: LONG, ...opts });
    t.is(r.code, 0, `pki ${args.join(" ")}: ${r.stderr}`);
    return r;
  };
  t.is((await pki(["--version"])).out.trim(), pkg.version);
  await pki(["init"]);
  await pki(["new-cert", "--ip", "127.0.0.1", "--domain", "localhost", "server1"]);
  await pki(["sign", "server1"]);
  await pki(["new-cert", "--client", "client1"]);
  await pki(["sign", "client1"]);
  t.regex((await pki(["list"])).out, /server1 +valid/i);
  t.regex((await pki(["status"])).out, /server1/);
  t.regex((await pki(["chain", "server1"])).out, /BEGIN CERTIFICATE[\s\S]*BEGIN CERTIFICATE/);
  const tar = await pki(["export", "--p12", "--p12-password-file", join(tmp, "passphrase"), "--jks", "--jks-password-file", join(tmp, "passphrase"), "--bundle", "server1"]);
  const list = await run("tar", ["tvf", "-"], { input: tar.stdout });
  mkdirSync(join(work, "x"));
  t.is((await run("tar", ["xf", "-", "-C", join(work, "x")], { input: tar.stdout })).code, 0);
  t.regex(list.out, /server1\.p12[\s\S]*server1\.jks|server1\.jks[\s\S]*server1\.p12/);
  t.regex((await pki(["check", "--name", "server1", "--client", "client1"])).out, /PASS/);
  await pki(["renew", "client1"]);
  await pki(["revoke", "client1"]);
  const crl = await pki(["crl"]);
  t.is((await openssl(["crl", "-noout", "-text"], { input: crl.out })).code, 0);
  await pki(["doctor"]);
  writeFileSync(join(work, "spec.yaml"), "cas: [{ name: root }]\ncerts: [{ name: web, ip: [127.0.0.1], outputs: [pem, p12] }]\n");
  await pki(["fixtures", "spec.yaml", "--out", "fx"]);
  t.regex((await pki(["completion", "bash"])).out, /complete .*-F _pki pki/);
  t.regex((await pki(["inspect", "server1.chain.pem"], { cwd: join(work, "x") })).out, /Subject/);
  await pki(["new-cert", "gone"]);
  await pki(["rm", "gone"]);
  t.regex((await pki(["acme", "eab", "add", "ci"])).out, /hmac key: /);
  // Commands that need a peer here (a running server, an etcd-ca depot, root for the trust stores): their help loads.
  for (const cmd of ["serve", "import", "trust"]) t.regex((await pki([cmd, "--help"])).out, new RegExp(`pki ${cmd}`));

  // The README's API example, importing the installed package by name.
  const example = readmeApiExample();
  t.truthy(example, `README.md has a \`\`\`js block importing "${pkg.name}"`);
  const app = join(tmp, "app");
  mkdirSync(app);
  symlinkSync(join(prefix, "lib", "node_modules"), join(app, "node_modules"));
  writeFileSync(join(app, "example.mjs"), example);
  const ex = await run(process.execPath, ["example.mjs"], { cwd: app, env, timeout: LONG });
  t.is(ex.code, 0, ex.stderr);
  t.regex(ex.out, /200 \["v1"\]/);
});
