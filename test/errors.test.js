// Bad input: one clear line on stderr, a non-zero exit, and a byte-identical depot.
import test from "ava";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PASS, newDepot, pki, pkiOk, issue, run, snapshot, PKI } from "./_helpers.js";

/**
 * The depot's files but its lock: the refusals share one depot and run side by side, and a sign that refuses
 * a wrong passphrase holds the lock for a moment. A lock left behind is caught once they are all done. On a
 * depot.db depot, likewise SQLite's -shm index and an empty WAL, there while another refusal has it open.
 */
const EMPTY = "600 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const settled = (dir) => Object.fromEntries(Object.entries(snapshot(dir)).filter(([k, v]) =>
  !/^(lock|\.lock\.tmp-.*|depot\.db-shm)$/.test(k) && !(k === "depot.db-wal" && v === EMPTY)));

/** Asserts `pki ARGS` fails with one line matching `re` and leaves the depot untouched. */
async function refuses(t, dir, args, re, opts) {
  const before = settled(join(dir, ".pki"));
  const r = await pki(dir, args, opts);
  t.not(r.code, 0, `pki ${args.join(" ")} should fail`);
  const lines = r.stderr.split("\n").filter((l) => l && !/^pki: warning:/.test(l));
  t.is(lines.length, 1, `one line of error, got: ${r.stderr}`);
  t.regex(lines[0], /^pki: /);
  t.regex(lines[0], re);
  t.false(r.stderr.includes(PASS), "the passphrase never appears in an error");
  t.false(/\n\s+at /.test(r.stderr), "no stack trace");
  t.deepEqual(settled(join(dir, ".pki")), before, "depot unchanged");
  return r;
}

let shared;
test.before(async (t) => {
  // One depot for all the read-only refusals: ca, server1 (signed), pending (unsigned).
  const fakeT = { teardown: (f) => (shared.cleanup = f), fail: (m) => { throw new Error(m); }, is: () => {} };
  shared = {};
  shared.dir = await newDepot(fakeT);
  await issue(fakeT, shared.dir, "server1", ["--ip", "127.0.0.1"]);
  await pkiOk(fakeT, shared.dir, ["new-cert", "--passphrase-file", "pass", "pending"]);
  writeFileSync(join(shared.dir, "wrong"), "not the passphrase\n");
});
test.after("no refusal left the shared depot locked", (t) => {
  t.deepEqual(readdirSync(join(shared.dir, ".pki")).filter((f) => /^(lock|\.lock)/.test(f)), []);
});
test.after.always(() => shared?.cleanup?.());

const P = ["--passphrase-file", "pass"];
const cases = [
  ["wrong passphrase on sign", ["sign", "--passphrase-file", "wrong", "pending"], /wrong passphrase for the CA key/],
  ["wrong passphrase on export --insecure", ["export", "--insecure", "--passphrase-file", "wrong", "server1"], /wrong passphrase for the key of "server1"/],
  ["wrong passphrase on export (checked when given)", ["export", "--passphrase-file", "wrong", "server1"], /wrong passphrase/],
  ["unknown name on sign", ["sign", ...P, "nosuch"], /unknown name "nosuch"/],
  ["unknown name on export", ["export", "nosuch"], /unknown name "nosuch"/],
  ["unknown name on status", ["status", "nosuch"], /unknown name "nosuch"/],
  ["duplicate name", ["new-cert", ...P, "server1"], /"server1" already exists/],
  ["already signed", ["sign", ...P, "server1"], /already signed/],
  ["unsigned cert on export", ["export", "pending"], /not signed yet/],
  ["invalid IP 1.2.3", ["new-cert", ...P, "--ip", "1.2.3", "x"], /invalid IP address "1\.2\.3"/],
  ["invalid IP 256.0.0.1", ["new-cert", ...P, "--ip", "256.0.0.1", "x"], /invalid IP address/],
  ["invalid IP ::g", ["new-cert", ...P, "--ip", "::g", "x"], /invalid IP address/],
  ["invalid domain with a space", ["new-cert", ...P, "--domain", "exa mple.com", "x"], /invalid domain/],
  ["invalid domain label", ["new-cert", ...P, "--domain=-bad-.example", "x"], /invalid domain/],
  ["invalid domain empty label", ["new-cert", ...P, "--domain", "a..example", "x"], /invalid domain/],
  ["name with /", ["new-cert", ...P, "a/b"], /invalid name "a\/b"/],
  ["name ..", ["new-cert", ...P, ".."], /invalid name/],
  ["name ../x", ["new-cert", ...P, "../x"], /invalid name/],
  ["name with .. inside", ["new-cert", ...P, "a..b"], /invalid name "a\.\.b": .*must not start with '\.' or contain '\.\.'/],
  ["name with whitespace", ["new-cert", ...P, "a b"], /invalid name/],
  ["name with a control character", ["new-cert", ...P, "a\x01b"], /invalid name/],
  ["name starting with a dot", ["new-cert", ...P, ".hidden"], /invalid name/],
  ["reserved name ca", ["new-cert", ...P, "ca"], /reserved|"ca" already exists/],
  ["unknown key type", ["new-cert", ...P, "--key-type", "dsa", "x"], /Invalid values: .*key-type.*"dsa"/],
  ["bad expiry", ["sign", ...P, "--expires", "soonish", "pending"], /invalid duration/],
  ["CA exists", ["init", ...P], /a CA already exists/],
  ["no passphrase and no terminal", ["sign", "pending"], /no passphrase for the CA key: use --passphrase-file/],
  ["empty passphrase", ["new-cert", "--passphrase", "", "x"], /empty passphrase/],
  ["unreadable passphrase file", ["new-cert", "--passphrase-file", "/nonexistent", "x"], /cannot read --passphrase-file/],
  ["unknown command", ["frobnicate"], /Unknown argument|Unknown command|frobnicate/],
];
for (const [label, args, re] of cases) test(`refuses: ${label}`, (t) => refuses(t, shared.dir, args, re));

test("no depot: a clear error, nothing created", async (t) => {
  const r = await pki("/tmp", ["list"], { env: { PKI_DEPOT: "/tmp/pki-no-such-depot" } });
  t.is(r.code, 1);
  t.regex(r.stderr, /^pki: no depot at \/tmp\/pki-no-such-depot: run 'pki init' first/);
});

test("export refuses to write a tar to a terminal", async (t) => {
  const which = await run("sh", ["-c", "command -v script"]);
  if (which.code !== 0) return t.fail("util-linux 'script' is needed to give pki a terminal");
  const r = await run("script", ["-qec", `${process.execPath} ${PKI} export`, "/dev/null"], { env: { ...process.env, PKI_DEPOT: join(shared.dir, ".pki") } });
  t.not(r.code, 0);
  t.regex(r.out, /refusing to write a tar archive to a terminal: pipe it, e.g. 'pki export \| tar xvf -'/);
});

test("a wrong passphrase on sign is detected before anything is written (fresh depot)", async (t) => {
  const dir = await newDepot(t);
  await pkiOk(t, dir, ["new-cert", ...P, "a"]);
  writeFileSync(join(dir, "wrong"), "nope\n");
  await refuses(t, dir, ["sign", "--passphrase-file", "wrong", "a"], /wrong passphrase for the CA key/);
  await pkiOk(t, dir, ["sign", ...P, "a"]);
});
