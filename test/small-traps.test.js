// The smaller traps of issue 28: help and version as commands, info lines not styled as errors, the terminal
// refusal's hint with the NAME, a fresh certificate's days in status, name constraints refused at new-cert.
import test from "ava";
import { join } from "node:path";
import { issue, newDepot, openssl, pki, pkiOk, snapshot, tempDir } from "./_helpers.js";
import { onTerminal } from "./_pty.js";

test("pki help [COMMAND] and pki version are --help and --version", async (t) => {
  const dir = tempDir(t);
  for (const [words, same] of [[["help"], ["--help"]], [["help", "new-cert"], ["new-cert", "--help"]], [["version"], ["--version"]]]) {
    const a = await pki(dir, words), b = await pki(dir, same);
    t.is(a.code, 0, a.stderr);
    t.is(a.out, b.out, words.join(" "));
    t.true(a.out.length > 5);
  }
  t.regex((await pki(dir, ["help"])).out, /'pki help \[COMMAND\]' and 'pki version' work as --help and --version/);
  const bad = await pki(dir, ["help", "sing"]);
  t.is(bad.code, 2);
  t.is(bad.stderr, 'pki: unknown command "sing": did you mean sign? (see \'pki --help\')\n');
  const extra = await pki(dir, ["version", "x"]);
  t.is(extra.code, 2);
  t.is(extra.stderr, 'pki: unexpected argument "x"; usage: pki version\n');
});

test("info lines are not styled as errors: no 'pki: ' prefix, which errors and warnings keep", async (t) => {
  const dir = await newDepot(t);
  const ok = await pkiOk(t, dir, ["doctor"]);
  t.regex(ok.stderr, /^Depot \S+ is consistent: 1 entries, 1 certificates verified\n$/);
  const lock = await pkiOk(t, dir, ["doctor", "--break-lock"]);
  t.is(lock.stderr, "The depot is not locked\n");
  // A server stopped by a signal says so as information (test/serve.test.js: "Stopped by SIGTERM").
});

test("the terminal refusal's hint names the NAME given", async (t) => {
  const dir = await newDepot(t);
  await issue(t, dir, "web");
  const before = snapshot(join(dir, ".pki"));
  const r = await onTerminal(t, dir, ["export", "--insecure", "web"], "", "pki:");
  t.is(r.code, 2);
  t.is(r.out, "pki: refusing to write a tar archive to a terminal: pipe it, e.g. 'pki export web | tar xvf -'\r\n");
  const ca = await onTerminal(t, dir, ["export"], "", "pki:");
  t.is(ca.out, "pki: refusing to write a tar archive to a terminal: pipe it, e.g. 'pki export | tar xvf -'\r\n");
  t.deepEqual(snapshot(join(dir, ".pki")), before);
});

test("status: a fresh --expires 10d certificate has 10 days left, not 9", async (t) => {
  const dir = await newDepot(t);
  await issue(t, dir, "ten", [], ["--expires", "10d"]);
  const r = await pki(dir, ["status", "--warn", "30d"]);
  t.is(r.code, 1);
  t.regex(r.out, /\nten\s+leaf\s+ca\s+\S+\s+WARN \(10 days\)\n/);
  const json = JSON.parse((await pki(dir, ["status", "--json"])).out);
  t.is(json.find((e) => e.name === "ten").daysLeft, 10);
});

test("a name-constrained CA refuses new-cert --domain outside its constraints, as sign does, writing nothing", async (t) => {
  const dir = await newDepot(t, ["--permit-domain", "example.test", "--permit-ip", "127.0.0.0/8"]);
  const before = snapshot(join(dir, ".pki"));
  const p = ["--passphrase-file", "pass"];
  const issued = await pki(dir, ["issue", ...p, "--domain", "evil.org", "web"]);
  t.is(issued.code, 1);
  for (const args of [["--domain", "evil.org"], ["--ip", "10.0.0.1"], ["--domain", "a.example.test,evil.org"]]) {
    const r = await pki(dir, ["new-cert", ...p, ...args, "web"]);
    t.is(r.code, 1, r.stderr);
    t.regex(r.stderr, /^pki: [^\n]+\n$/);
    if (args[1] === "evil.org") t.is(r.stderr, issued.stderr, "the message sign and issue give");
    t.deepEqual(snapshot(join(dir, ".pki")), before, args.join(" "));
  }
  // A request made elsewhere is judged when it is filed, too.
  const csr = await openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
    join(dir, "evil.key"), "-out", join(dir, "evil.csr"), "-subj", "/CN=web", "-addext", "subjectAltName=DNS:evil.org"]);
  t.is(csr.code, 0, csr.stderr);
  const filed = await pki(dir, ["new-cert", ...p, "--csr", "evil.csr", "web"]);
  t.is(filed.code, 1, filed.stderr);
  t.is(filed.stderr, issued.stderr);
  t.deepEqual(snapshot(join(dir, ".pki")), before, "--csr");
  await pkiOk(t, dir, ["new-cert", ...p, "--domain", "api.example.test", "--ip", "127.0.0.1", "api"]);
  await pkiOk(t, dir, ["sign", ...p, "api"]);
});
