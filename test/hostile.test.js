// Hostile input: odd names, addresses, domains, subjects, files and damaged depots. Each is refused with
// one line naming the rule or the file, a non-zero exit, no stack trace, no secret, and an unchanged depot.
import test from "ava";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PKI, pki, pkiOk, run, snapshot } from "./_helpers.js";
import { cheapDepot, env } from "./_stress.js";
import { entry, LAYOUT1_PASS, layout1Depot, sqlite } from "./_state.js";

const LONG = 10 * 60_000; // per test: CLI runs take seconds on an idle machine, minutes on a loaded one

const SECRET = "Sekr1t-Passphrase-Do-Not-Print";
const RULE = "names are 1-64 characters of A-Z a-z 0-9 . _ - and must not start with '.' or contain '..'";
const esc = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** Runs `pki ARGS`; the refusal must be one `pki: ` line matching `re`, with exit `code`, and leave `dir` as it was. */
async function refused(t, dir, args, code, re, opts = { env }) {
  const before = snapshot(dir);
  const r = await pki(dir, args, opts);
  const what = args.join(" ").slice(0, 100);
  t.is(r.code, code, `${what}: ${r.stderr}`);
  const lines = r.stderr.split("\n").filter((l) => l && !l.startsWith("pki: warning:"));
  t.is(lines.length, 1, `${what}: one line, got ${JSON.stringify(r.stderr)}`);
  t.regex(lines[0] ?? "", /^pki: /, what);
  t.regex(lines[0] ?? "", re, what);
  t.true(lines[0].length < 400, `${what}: a short message`);
  t.false(r.stderr.includes(SECRET), `${what}: the passphrase leaked`);
  t.is(r.out, "", `${what}: nothing on stdout`);
  t.deepEqual(snapshot(dir), before, `${what}: the depot changed`);
  return r;
}

/** Runs async jobs two at a time (refusals change nothing, so order does not matter). */
async function pool(jobs, width = 2) {
  const queue = [...jobs];
  await Promise.all(Array.from({ length: width }, async () => { while (queue.length) await queue.shift()(); }));
}

test("names: anything but [A-Za-z0-9._-]{1,64} not starting with '.' is refused with the rule, by every command", async (t) => {
  t.timeout(LONG);
  const dir = await cheapDepot(t);
  const bad = ["../evil", "..", ".hidden", "a/b", "a\\b", "a b", "x".repeat(65), "café", "a\nb", "\x1b[31mred", "a\u202eb", "*", "a:b", "~root", "$(id)"];
  const jobs = [];
  for (const name of bad) {
    const msg = new RegExp(`^pki: invalid name ".*": ${esc(RULE)}$`);
    jobs.push(() => refused(t, dir, ["new-cert", name], 1, msg));
  }
  for (const cmd of ["sign", "status", "export", "renew", "revoke"]) jobs.push(() => refused(t, dir, [cmd, "../evil"], 1, new RegExp(`invalid name "\\.\\./evil": ${esc(RULE)}`)));
  jobs.push(() => refused(t, dir, ["new-cert", "ca"], 1, /^pki: "ca" (already exists|is reserved)/));
  await pool(jobs);
  // Names differing only in case would share files on macOS/Windows: refused (after the work, before any write).
  await pkiOk(t, dir, ["new-cert", "web"], { env });
  await refused(t, dir, ["new-cert", "WEB"], 1, /^pki: "WEB" already exists in the depot \(as "web": names may not differ only in case\)$/);
  // The boundary is exact: 64 characters and single inner dots are fine; '..' anywhere is not.
  await pkiOk(t, dir, ["new-cert", "x".repeat(64)], { env });
  await pkiOk(t, dir, ["new-cert", "a.b_c-D.9"], { env });
  await refused(t, dir, ["new-cert", "a..b"], 1, new RegExp(`^pki: invalid name "a\\.\\.b": ${esc(RULE)}$`));
});

test("--ip, --domain and subject values are parsed strictly", async (t) => {
  t.timeout(LONG);
  const dir = await cheapDepot(t);
  const jobs = [];
  for (const ip of ["1.2.3", "::g", "256.0.0.1", "1.2.3.4.5", "01.2.3.4", "1.2.3.-1", "fe80::1%eth0", "10.0.0.0/8", "1:2:3:4:5:6:7:8:9", "localhost", "9".repeat(5000)]) {
    jobs.push(() => refused(t, dir, ["new-cert", `--ip=${ip}`, "n"], 1, /^pki: invalid IP address ".*": expected IPv4 like 127\.0\.0\.1 or IPv6 like ::1$/));
  }
  for (const d of ["a..b", "-a.com", "a-.com", "a b.com", "a/b.com", "a@b.com", "a:80", "*.*.a.com", "a.*.com", `${"x".repeat(64)}.com`, `${"a.".repeat(127)}com`,
    "1.2.3.4", "\u202egoogle.com", "xn--zz.com", "exa\u0007mple.com", "."]) {
    jobs.push(() => refused(t, dir, ["new-cert", `--domain=${d}`, "n"], 1, /^pki: invalid domain ".*": expected a DNS name like example\.com or \*\.example\.com$/));
  }
  for (const cn of ["\x1b[2J", "evil\u202etxt.exe", "x".repeat(65), "\ufffd\ufffd", "tab\there"]) {
    jobs.push(() => refused(t, dir, ["new-cert", `--common-name=${cn}`, "n"], 1, /^pki: invalid common name ".*": 1-64 printable characters$/));
  }
  jobs.push(() => refused(t, dir, ["new-cert", "--country", "USA", "n"], 1, /^pki: invalid country "USA": a two-letter code like US$/));
  await pool(jobs);
  // Bytes that are not UTF-8, straight from a shell, are binary: refused.
  const before = snapshot(dir);
  const r = await run("sh", ["-c", `exec "${process.execPath}" "${PKI}" new-cert --common-name "$(printf '\\377\\376\\001')" n`], { cwd: dir, env: { ...process.env, ...env, PKI_DEPOT: join(dir, ".pki") } });
  t.is(r.code, 1);
  t.regex(r.stderr, /^pki: invalid common name "\\ufffd\\ufffd\\u0001": 1-64 printable characters\n$/);
  t.deepEqual(snapshot(dir), before);
  // The valid forms are accepted and stored canonically: IDN as punycode, IPv6 compressed, no dotted quad.
  await pkiOk(t, dir, ["new-cert", "--ip", "0:0:0:0:0:0:0:1,::ffff:192.0.2.1, 192.0.2.7", "--domain", "Bücher.Example,*.Web.example.", "ok"], { env });
  const e = await entry(dir, "ok");
  t.deepEqual(e.sans, { ips: ["::1", "::ffff:c000:201", "192.0.2.7"], domains: ["xn--bcher-kva.example", "*.web.example"] });
});

test("input files over 1 MB or binary are refused (usage error, exit 2); so is a wrong passphrase, before anything is written", async (t) => {
  t.timeout(LONG);
  const dir = await cheapDepot(t);
  await pkiOk(t, dir, ["new-cert", "n"], { env });
  writeFileSync(join(dir, "big"), "x".repeat((1 << 20) + 1));
  writeFileSync(join(dir, "bin"), Buffer.from([0x70, 0, 0xff, 0x0a]));
  writeFileSync(join(dir, "wrong"), "not the passphrase\n");
  await refused(t, dir, ["sign", "--passphrase-file", "big", "n"], 2, /^pki: --passphrase-file big is larger than 1 MB$/, {});
  await refused(t, dir, ["sign", "--passphrase-file", "bin", "n"], 2, /^pki: --passphrase-file bin is binary, not text$/, {});
  await refused(t, dir, ["sign", "--passphrase-file", "missing", "n"], 2, /^pki: cannot read --passphrase-file missing: not found$/, {});
  await refused(t, dir, ["sign", "--passphrase-file", "wrong", "n"], 1, /^pki: wrong passphrase for the CA key$/, {});
  // On the command line: a warning, and the value is never echoed, even in a refusal.
  const r = await refused(t, dir, ["sign", "--passphrase", SECRET, "n"], 1, /^pki: wrong passphrase for the CA key$/, {});
  t.regex(r.stderr, /^pki: warning: --passphrase is visible to other processes/m);
  await refused(t, dir, ["new-cert", "--passphrase", SECRET, "--domain", "bad domain", "m"], 1, /invalid domain/, {});
  await refused(t, dir, ["export", "--insecure", "--passphrase", SECRET + "x", "n"], 1, /not signed yet|wrong passphrase/, {});
});

// A copy of test/fixtures/layout1, not `pki init` (which makes depot.db once layout 1 retires): the damage is to
// layout 1's files, which a command reads as they are, or refuses to upgrade.
test("layout 1: a damaged depot file is named in a one-line error, never a stack trace; a newer layout is refused", async (t) => {
  t.timeout(LONG);
  const dir = layout1Depot(t);
  const p = (f) => join(dir, ".pki", f);
  const damage = async (file, content, args, re) => {
    const saved = readFileSync(p(file));
    writeFileSync(p(file), typeof content === "function" ? content(saved) : content);
    const r = await refused(t, dir, args, 1, re, { env: { PKI_PASSPHRASE: LAYOUT1_PASS } });
    t.notRegex(r.stderr, /\n\s+at /, "no stack trace");
    writeFileSync(p(file), saved);
  };
  const half = (b) => b.subarray(0, b.length >> 1);
  await damage("ca.crt", half, ["renew", "web"], /^pki: ca\.crt is damaged \(no PEM "CERTIFICATE" block found\): run 'pki doctor'$/);
  await damage("ca.crt", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", ["renew", "web"], /^pki: ca\.crt: not a valid certificate/);
  const noKey = /^pki: ca\.key is damaged \(no PEM "ENCRYPTED PRIVATE KEY" block found\): run 'pki doctor'$/;
  await damage("ca.key", half, ["renew", "web"], noKey);
  await damage("ca.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", ["renew", "web"], noKey);
  await damage("ca.key", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n", ["renew", "web"], /^pki: .*(ca\.key|the CA key).*/);
  await damage("certs/web.csr", "\x00\x01binary", ["renew", "web"], /^pki: certs\/web\.csr is damaged \(no PEM "CERTIFICATE REQUEST" block found\): run 'pki doctor'$/);
  await damage("index.json", half, ["list"], /^pki: index\.json is damaged/);
  await damage("index.json", "[]", ["list"], /^pki: index\.json is damaged/);
  await damage("depot.json", half, ["list"], /^pki: depot\.json is damaged/);
  await damage("depot.json", (b) => JSON.stringify({ ...JSON.parse(b), layout: 99 }), ["new-cert", "m"], /^pki: depot layout version 99 is newer than this pki understands \(\d+\): upgrade pki$/);
  // doctor too reports rather than crashes.
  writeFileSync(p("index.json"), "{");
  const d = await pki(dir, ["doctor"]);
  t.is(d.code, 1);
  t.is(d.out, "index.json: is damaged (not JSON) (fix: restore it from a backup)\n");
  t.regex(d.stderr, /^pki: 1 problem in .*: 'pki doctor --fix' repairs what it can\n$/);
});

test("depot.db: a damaged record is named in a one-line error, never a stack trace; a newer schema is refused", async (t) => {
  t.timeout(LONG);
  const dir = await cheapDepot(t);
  await pkiOk(t, dir, ["new-cert", "n"], { env });
  await pkiOk(t, dir, ["issue", "web", "web.example"], { env });
  const damage = async (sql, args, re) => {
    const db = join(dir, ".pki", "depot.db");
    const saved = readFileSync(db);
    await sqlite(dir, sql);
    const r = await refused(t, dir, args, 1, re);
    t.notRegex(r.stderr, /\n\s+at /, "no stack trace");
    writeFileSync(db, saved);
  };
  const blob = (name, kind, data) => `UPDATE blobs SET data = ${data} WHERE name = '${name}' AND kind = '${kind}' AND serial = ''`;
  const notDer = (what) => new RegExp(`^pki: depot\\.db is damaged: blobs\\["${what[0]}"\\]\\.${what[1]} is not one DER SEQUENCE`);
  await damage(blob("ca", "cert", "substr(data, 1, 100)"), ["sign", "n"], notDer(["ca", "cert"]));
  await damage(blob("ca", "cert", "X'3000'"), ["sign", "n"], /^pki: the certificate of the root CA is damaged \(not a certificate\): run 'pki doctor'$/);
  await damage(blob("ca", "key", "substr(data, 1, 50)"), ["sign", "n"], notDer(["ca", "key"]));
  await damage(blob("n", "csr", "X'00017788'"), ["sign", "n"], notDer(["n", "csr"]));
  await damage("UPDATE entries SET not_after = 'whenever' WHERE name = 'web'", ["list"],
    /^pki: depot\.db is damaged: entries\["web"\]\.notAfter is not a date from 1950 to 9999: run 'pki doctor'$/);
  await damage("UPDATE depot SET kdf_iterations = 5", ["new-cert", "m"], /^pki: depot\.db is damaged: depot\.kdf\.iterations /);
  await damage("PRAGMA user_version = 99", ["new-cert", "m"],
    /^pki: depot\.db has schema version 99, newer than this pki understands \(\d+\): upgrade pki$/);
});

test("--insecure writes the plain key to stdout only: nothing in the depot or the working directory", async (t) => {
  t.timeout(LONG);
  const dir = await cheapDepot(t);
  await pkiOk(t, dir, ["new-cert", "n"], { env });
  await pkiOk(t, dir, ["sign", "n"], { env });
  const before = snapshot(dir);
  const r = await pkiOk(t, dir, ["export", "--insecure", "n"], { env });
  t.true(r.stdout.includes("-----BEGIN PRIVATE KEY-----"));
  t.deepEqual(snapshot(dir), before);
});
