// The command line's habits: completion, suggestions, exit codes, EPIPE, dash values, file errors, help text.
import test from "ava";
import { spawn } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PASS, PKI, ROOT, issue, newDepot, openssl, pki, pkiOk, run, tempDir } from "./_helpers.js";
import { blobFile } from "./_depot-read.js";


/** A shell with `pki` on PATH: a wrapper around this build, like the installed bin. */
function shell(t, dir) {
  const bin = join(dir, "bin");
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, "pki"), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(PKI)} "$@"\n`, { mode: 0o755 });
  return (cmd, opts = {}) => run("bash", ["-c", cmd], { cwd: dir, env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, PKI_DEPOT: join(dir, ".pki") }, ...opts });
}

/** What bash completion offers for the words typed so far (the last one being completed). */
const completeBash = (sh, words) =>
  sh(`source <(pki completion bash) && COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(" ")}) COMP_CWORD=${words.length - 1} && _pki && printf '%s\\n' "\${COMPREPLY[@]}"`);

test("completion: the bash script completes commands, options and choices", async (t) => {
  const sh = shell(t, tempDir(t));
  t.deepEqual((await completeBash(sh, ["pki", "ne"])).out.trim().split("\n"), ["new-cert"]);
  t.deepEqual((await completeBash(sh, ["pki", "sign", "--not"])).out.trim().split("\n"), ["--not-before"]);
  t.deepEqual((await completeBash(sh, ["pki", "new-cert", "--key-type", "e"])).out.trim().split("\n").sort(), ["ecdsa", "ed25519"]);
  const listOpts = (await completeBash(sh, ["pki", "list", "--"])).out.trim().split("\n").sort();
  t.deepEqual(listOpts, ["--as-owner", "--depot", "--expiring", "--help", "--issuer", "--json", "--status"]);
  // NAMEs come from the depot (PKI_DEPOT), for commands that take an existing one.
  const depotSh = shell(t, shared.dir);
  t.deepEqual((await completeBash(depotSh, ["pki", "sign", "se"])).out.trim().split("\n"), ["server1"]);
  t.deepEqual((await completeBash(depotSh, ["pki", "new-cert", "--issuer", "c"])).out.trim().split("\n"), ["ca"]);
  const all = (await completeBash(depotSh, ["pki", "status", "--json", ""])).out.trim().split("\n");
  t.true(all.includes("ca") && all.includes("server1") && new Set(all).size === all.length, all.join(" "));
  t.true((await completeBash(depotSh, ["pki", "sign", "--passphrase-file", "pa"])).out.split("\n").includes("pass"), "a file after an option that takes one");
  const comp = await sh("complete -p pki 2>&1; source <(pki completion bash) && complete -p pki");
  t.regex(comp.out, /complete .*-F _pki pki/);
});

test("completion: the zsh script loads in zsh and registers _pki", async (t) => {
  const which = await run("sh", ["-c", "command -v zsh"]);
  if (which.code !== 0) return t.fail("zsh is needed (apt-get install zsh; .ci/run installs it)");
  const dir = tempDir(t);
  const r = await run("zsh", ["-fc", `eval "$(${process.execPath} ${PKI} completion zsh)" && whence -w _pki && echo $_comps[pki]`], { cwd: dir, env: { ...process.env, HOME: dir } });
  t.is(r.code, 0, r.stderr);
  t.regex(r.out, /_pki: function/);
});

const usage = [
  ["a typo of a command", ["sing", "x"], /^pki: unknown command "sing": did you mean sign\?/],
  ["a prefix of a command", ["ne"], /^pki: unknown command "ne": did you mean new-cert\?/],
  ["an unknown command", ["frobnicate"], /^pki: unknown command "frobnicate" \(see 'pki --help'\)$/],
  ["a typo of an option", ["list", "--jsn"], /^pki: unknown option --jsn for 'pki list': did you mean --json\?/],
  ["a typo of an option with a value", ["new-cert", "--domian", "a.example", "x"], /did you mean --domain\?/],
  ["an option of another command", ["list", "--insecure"], /^pki: unknown option --insecure for 'pki list'/],
  ["a missing NAME", ["sign"], /^pki: missing NAME; usage: pki sign \[options\] <name>$/],
  ["a missing SPEC", ["fixtures"], /^pki: missing SPEC; usage: pki fixtures \[options\] <spec>$/],
  ["an extra argument", ["status", "a", "b"], /^pki: unexpected argument "b"; usage: pki status \[options\] \[name\]$/],
  ["an invalid choice", ["new-cert", "--key-type", "dsa", "x"], /Invalid values: .*key-type/],
  ["conflicting options", ["new-cert", "--passphrase-file", "pass", "--ca", "--server", "x"], /--ca conflicts/],
  ["an option that needs another", ["export", "--p12-password-file", "pass", "x"], /--p12-password-file needs --p12/],
  ["no passphrase source", ["new-cert", "x"], /no passphrase for the CA key \(it seals the key of "x" too\)/],
  ["a directory as --passphrase-file", ["new-cert", "--passphrase-file", "/tmp", "x"], /^pki: cannot read --passphrase-file \/tmp: is a directory$/],
  ["a device as --passphrase-file", ["new-cert", "--passphrase-file", "/dev/zero", "x"], /^pki: cannot read --passphrase-file \/dev\/zero: not a regular file/],
  ["a missing --passphrase-file", ["new-cert", "--passphrase-file", "nosuch", "x"], /^pki: cannot read --passphrase-file nosuch: not found$/],
  ["a directory as --config", ["serve", "--config", "/tmp"], /^pki: cannot read --config \/tmp: is a directory$/],
  ["a directory as a fixtures spec", ["fixtures", "/tmp"], /^pki: cannot read spec \/tmp: is a directory$/],
];
// A value that fails validation is bad input (exit 1), as test/hostile.test.js holds.
const failures = [
  ["a file-system error no command words itself", ["fixtures", "spec.yaml", "--out", "/proc/pki-no-such"], /^pki: cannot mkdir \/proc\/\S+: not found\n$/],
  ["an invalid --ip", ["new-cert", "--passphrase-file", "pass", "--ip", "1.2.3", "x"], /invalid IP address/],
  ["an invalid --not-before", ["sign", "--not-before", "-2x", "x"], /invalid/],
  ["an unknown name", ["sign", "--passphrase-file", "pass", "nosuch"], /unknown name "nosuch"/],
  ["a name that exists", ["new-cert", "--passphrase-file", "pass", "server1"], /already exists/],
];

let shared;
test.before(async () => {
  const fakeT = { teardown: (f) => (shared.cleanup = f), fail: (m) => { throw new Error(m); }, is: () => {} };
  shared = {};
  shared.dir = await newDepot(fakeT);
  await issue(fakeT, shared.dir, "server1");
  writeFileSync(join(shared.dir, "wrong"), "wrong\n");
  writeFileSync(join(shared.dir, "spec.yaml"), "passphrase: x\ncas: [{ name: r }]\n");
});
test.after.always(() => shared?.cleanup?.());

for (const [label, args, re] of usage) {
  test(`usage error, exit 2: ${label}`, async (t) => {
    const r = await pki(shared.dir, args);
    t.is(r.code, 2, r.stderr);
    t.is(r.stderr.trim().split("\n").length, 1, r.stderr);
    t.regex(r.stderr.trim(), re);
    t.is(r.out, "");
  });
}
for (const [label, args, re] of failures) {
  test(`failure, exit 1: ${label}`, async (t) => {
    const r = await pki(shared.dir, args);
    t.regex(r.stderr, re);
    t.is(r.stderr.trim().split("\n").length, 1, r.stderr);
    t.is(r.code, 1, r.stderr);
  });
}

test("a wrong passphrase for the CA is exit 1", async (t) => {
  await pkiOk(t, shared.dir, ["new-cert", "--passphrase-file", "pass", "pending1"]);
  const r = await pki(shared.dir, ["sign", "--passphrase-file", "wrong", "pending1"]);
  t.is(r.code, 1);
  t.regex(r.stderr, /^pki: wrong passphrase/);
});

test("a FIFO as --passphrase-file is refused without blocking", async (t) => {
  const dir = tempDir(t);
  const fifo = join(dir, "fifo");
  t.is((await run("mkfifo", [fifo])).code, 0);
  const r = await pki(shared.dir, ["new-cert", "--passphrase-file", fifo, "x"]);
  t.is(r.code, 2);
  t.regex(r.stderr, /not a regular file/);
});

// Root reads any file, so as root the refusal is shown by user nobody, in a directory of its own.
test("an unreadable --passphrase-file: permission denied", async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, "locked"), "x\n");
  chmodSync(join(dir, "locked"), 0);
  let r;
  if (process.getuid?.() === 0) {
    const home = join(dir, "nobody");
    mkdirSync(home, { mode: 0o755 });
    chownSync(home, 65534, 65534);
    chmodSync(dir, 0o755);
    const as = ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, PKI];
    r = await run("setpriv", [...as, "init", "--depot", join(home, "d"), "--passphrase-file", join(dir, "locked")]);
    t.deepEqual(readdirSync(home), []);
  } else {
    r = await pki(shared.dir, ["new-cert", "--passphrase-file", join(dir, "locked"), "x"]);
  }
  t.is(r.code, 2);
  t.regex(r.stderr, /^pki: cannot read --passphrase-file .*locked: permission denied\n?$/);
});

test("pki alone prints the command list once, exit 2; -h and -v answer", async (t) => {
  const r = await pki(shared.dir, []);
  t.is(r.code, 2);
  t.is(r.stderr, "");
  t.is(r.out.match(/^Commands:/gm)?.length, 1);
  t.is(r.out.match(/pki new-cert <name>/g)?.length, 1);
  const h = await pkiOk(t, shared.dir, ["-h"]);
  t.regex(h.out, /pki completion \[shell\]/);
  const v = await pkiOk(t, shared.dir, ["-v"]);
  const { version } = JSON.parse((await import("node:fs")).readFileSync(join(ROOT, "package.json"), "utf8"));
  t.is(v.out.trim(), version);
  t.is((await pkiOk(t, shared.dir, ["sign", "-h"])).out.includes("pki sign <name>"), true);
});

test("--depot DIR before the command, as etcd-ca's --depot-path was used", async (t) => {
  const r = await pkiOk(t, "/tmp", ["--depot", join(shared.dir, ".pki"), "list"], { env: { PKI_DEPOT: "/nonexistent" } });
  t.regex(r.out, /server1/);
  const e = await pki("/tmp", ["--depot", join(shared.dir, ".pki"), "lst"]);
  t.is(e.code, 2);
  t.regex(e.stderr, /unknown command "lst": did you mean list\?/);
});

test("--not-before -2d works as '--opt value' and '--opt=value'", async (t) => {
  const dir = await newDepot(t);
  for (const [name, args] of [["a", ["--not-before", "-2d"]], ["b", ["--not-before=-2d"]]]) {
    await issue(t, dir, name, [], args);
    const crt = await blobFile(join(dir, ".pki"), name, join(dir, `${name}.crt`));
    const r = await openssl(["x509", "-noout", "-startdate", "-in", crt]);
    const start = new Date(r.out.trim().replace("notBefore=", ""));
    const days = (Date.now() - start.getTime()) / 86_400_000;
    t.true(days > 1.9 && days < 2.1, `${name}: notBefore ${start.toISOString()} is ${days} days ago`);
  }
});

test("passphrase sources: PKI_PASSPHRASE_FILE, and '-' takes the next line of stdin", async (t) => {
  const dir = await newDepot(t);
  await pkiOk(t, dir, ["new-cert", "c"], { env: { PKI_PASSPHRASE_FILE: join(dir, "pass") } });
  await pkiOk(t, dir, ["sign", "--passphrase-file", "-", "c"], { input: `${PASS}\n` });
  const r = await pki(dir, ["export", "--p12", "--passphrase-file", "-", "--p12-password-file", "-", "c"], { input: `${PASS}\np12secret\n` });
  t.is(r.code, 0, r.stderr);
  writeFileSync(join(dir, "c.tar"), r.stdout);
  t.is((await run("tar", ["xf", "c.tar"], { cwd: dir })).code, 0);
  const p12 = await openssl(["pkcs12", "-in", join(dir, "c.p12"), "-passin", "pass:p12secret", "-nokeys"]);
  t.is(p12.code, 0, p12.stderr);
  await pkiOk(t, dir, ["new-cert", "d"], { env: { PKI_PASSPHRASE_FILE: join(dir, "pass") } });
  const none = await pki(dir, ["sign", "--passphrase-file", "-", "d"], { input: "" });
  t.is(none.code, 2);
  t.regex(none.stderr, /^pki: --passphrase-file -: stdin has no line 1/);
});

test("a closed stdout (pki list | head -1) ends quietly with status 0", async (t) => {
  // Deterministic: the reader is gone before pki writes a byte.
  const child = spawn(process.execPath, [PKI, "list"], { cwd: shared.dir, env: { ...process.env, PKI_DEPOT: join(shared.dir, ".pki") }, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.destroy();
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const code = await new Promise((r) => child.on("close", r));
  t.is(stderr, "");
  t.is(code, 0);
  // As a user types it.
  const sh = shell(t, shared.dir);
  const r = await sh("pki list 2>err | head -1; echo \"status ${PIPESTATUS[0]}\"; cat err");
  t.regex(r.out, /^NAME +STATUS/);
  t.regex(r.out, /status 0\n$/);
});

test("help: every positional and option is described; --version and --depot only where they apply", async (t) => {
  const { COMMANDS, nameOf } = await import("../dist/cli/commands.js");
  for (const m of COMMANDS) {
    const name = nameOf(m);
    const r = await pkiOk(t, shared.dir, [name, "--help"]);
    // One entry per option or positional: "  -h, --help  Show help  [boolean]", maybe over several lines.
    const entries = r.out.split(/\n(?= {2}\S| {6}--)/).filter((l) => /^ {2}( {4})?(-|\w)/.test(l) && /\[(string|boolean|number|array)\]/.test(l));
    t.true(entries.length > 1, `pki ${name} --help: ${r.out}`);
    for (const e of entries) {
      const text = e.trim().replace(/^(-\w, )?-{0,2}[\w-]+/, "").replace(/\[[^\]]*\]/g, "").trim();
      t.not(text, "", `pki ${name}: undescribed: ${e.trim()}`);
    }
    t.false(/--version/.test(r.out), `pki ${name} --help lists --version`);
    t.is(/--depot/.test(r.out), !["fixtures", "completion"].includes(name), `--depot in pki ${name} --help`);
  }
});

test("init under /proc (mkdir refused with ENOENT) is one line, not a hang", async (t) => {
  const r = await run(process.execPath, [PKI, "init", "--depot", "/proc/pki-no-such/depot"], {
    env: { ...process.env, PKI_PASSPHRASE: PASS },
    timeout: 60_000,
  });
  t.is(r.code, 1);
  t.is(r.stderr, "pki: cannot mkdir /proc/pki-no-such: not found\n");
});
