// Tampering as an attacker would, who can write the depot's files but knows no passphrase: every command
// refuses with one line, exit 1, and changes nothing in the depot or beside it.
import test from "ava";
import { chmodSync, chownSync, mkdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pki, pkiOk, run, tempDir } from "./_helpers.js";
import { cheapDepot, env } from "./_stress.js";
import { at, LONG, otherUser, readJson, refused, withEdited } from "./_tamper.js";
import { blobPem, certPem, depotFormat, entry, keyPem, LAYOUT1_PASS, layout1Depot, replaceBlob, sqlite } from "./_state.js";

// Tests of layout 1's own files start from a copy of test/fixtures/layout1, not `pki init` (which makes depot.db
// once layout 1 retires): a layout-1 depot is then read as it is, and one that writes upgrades it, which must
// refuse a damaged one the same way.
const l1 = { env: { PKI_PASSPHRASE: LAYOUT1_PASS } };

const damaged = (field) => new RegExp(`^pki: index\\.json is damaged: ${field.replace(/[[\]."]/g, "\\$&")} `);

test("layout 1: traversing and malformed index fields are refused before use, naming the field", async (t) => {
  t.timeout(LONG);
  const dir = layout1Depot(t);
  const idx = (f) => (v) => f(v);
  const cases = [
    [idx((v) => { v.entries.web.issuer = "../../evil"; }), ["renew", "web"], 'entries["web"].issuer'],
    [idx((v) => { v.entries.web.serial = "../../../evil"; }), ["renew", "web"], 'entries["web"].serial'],
    [idx((v) => { v.entries.web.serial = "AB"; }), ["renew", "web"], 'entries["web"].serial'],
    [idx((v) => { v.entries.web.serial = "ab".repeat(21); }), ["revoke", "web"], 'entries["web"].serial'],
    [idx((v) => { v.entries.web.history = [{ serial: "../../pwn", issuer: "ca", notBefore: "2020-01-01T00:00:00Z", notAfter: "2030-01-01T00:00:00Z" }]; }), ["revoke", "--serial", "../../pwn", "web"], 'entries["web"].history[0].serial'],
    [idx((v) => { v.entries.web.issuer = "api"; }), ["renew", "web"], 'entries["web"].issuer'],
    [idx((v) => { v.entries["../x"] = { ...v.entries.api, name: "../x" }; }), ["list"], "the entry key"],
    [idx((v) => { v.entries.api.sans.domains = ["a/b.example"]; }), ["renew", "api"], 'entries["api"].sans.domains[0]'],
    [idx((v) => { v.entries.api.sans.ips = ["1.2.3.4/../../x"]; }), ["renew", "api"], 'entries["api"].sans.ips[0]'],
    [idx((v) => { v.entries.api.sans.ips = Array.from({ length: 1001 }, (_, i) => `10.0.${i >> 8}.${i & 255}`); }), ["renew", "api"], 'entries["api"].sans.ips'],
    [idx((v) => { v.entries.web.notAfter = "whenever"; }), ["list"], 'entries["web"].notAfter'],
    [idx((v) => { v.entries.web.notAfter = "+275760-09-13T00:00:00.000Z"; }), ["list"], 'entries["web"].notAfter'],
    [idx((v) => { v.entries.web.subject = "CN=web\u001b[2J"; }), ["list"], 'entries["web"].subject'],
    [idx((v) => { v.entries.web.kind = "root"; }), ["list"], 'entries["web"].kind'],
    [idx((v) => { v.entries.ca.issuer = "web"; }), ["list"], 'entries["ca"]'],
    [idx((v) => { v.crlNumbers = { ca: 1e300 }; }), ["crl"], 'crlNumbers["ca"]'],
    [idx((v) => { v.serials = ["zz"]; }), ["list"], "serials[0]"],
    [idx((v) => { v.serials = {}; }), ["list"], "serials"],
  ];
  for (const [edit, args, field] of cases) await withEdited(t, dir, "index.json", edit, args, damaged(field), l1);
  await withEdited(t, dir, "depot.json", (v) => { v.layout = 0; }, ["list"], /^pki: depot\.json is damaged: layout /, l1);
  await withEdited(t, dir, "depot.json", (v) => { v.layout = "1"; }, ["list"], /^pki: depot\.json is damaged: layout /, l1);
  // Oversized files are refused before they are parsed.
  await withEdited(t, dir, "depot.json", (v) => { v.pad = "x".repeat(70_000); }, ["list"], /^pki: depot\.json is larger than 65536 bytes$/, l1);
});

test("layout 1: KDF downgrade and overflow in depot.json: refused, nothing written; 100,000 iterations is the floor", async (t) => {
  t.timeout(LONG);
  const dir = layout1Depot(t);
  const noEscape = { env: { ...l1.env, PKI_TEST_ONLY_KDF_ITERATIONS: "" } };
  // The test-only escape belongs to the caller: without it, this depot's 1000 iterations are a downgrade.
  await refused(t, dir, ["new-cert", "x"], /^pki: depot\.json is damaged: kdf\.iterations is not an integer from 100000 to 10000000: run 'pki doctor'$/, { opts: noEscape });
  const iter = (n) => (v) => { v.kdf.iterations = n; };
  for (const n of [99_999, 10_000_001, 2 ** 23, 2 ** 53, 1e308, -600_000, 600_000.5, "600000", null]) {
    if (n === 2 ** 23) continue; // within bounds: covered by the pkcs8 decode fix, not a refusal
    await withEdited(t, dir, "depot.json", iter(n), ["new-cert", "x"], /^pki: depot\.json is damaged: kdf\.iterations /, { opts: noEscape });
  }
  await withEdited(t, dir, "depot.json", (v) => { v.kdf.salt = "AAAA"; }, ["new-cert", "x"], /^pki: depot\.json is damaged: kdf\.salt is not base64 of at least 16 bytes/, l1);
  await withEdited(t, dir, "depot.json", (v) => { delete v.kdf; }, ["new-cert", "x"], /^pki: depot\.json is damaged: kdf is not an object/, l1);
  // At the floor: accepted, and the key written is what openssl decrypts with 100000 PBKDF2 rounds.
  const meta = readJson(dir, "depot.json");
  writeFileSync(at(dir, "depot.json"), JSON.stringify({ ...meta, kdf: { ...meta.kdf, iterations: 100_000 } }));
  await pkiOk(t, dir, ["new-cert", "x"], noEscape);
  const asn = await run("openssl", ["asn1parse"], { input: await keyPem(dir, "x") });
  t.regex(asn.out, /INTEGER\s+:0*186A0/);
});

test("a swapped issuer certificate: the decrypted key must match it, or nothing is signed", async (t) => {
  t.timeout(LONG);
  const dir = await cheapDepot(t);
  await pkiOk(t, dir, ["new-cert", "web"], { env });
  const ssl = await run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "/dev/null",
    "-out", join(dir, "evil-ca.crt"), "-subj", "/CN=pki CA", "-days", "2"]);
  t.is(ssl.code, 0, ssl.stderr);
  const saved = await certPem(dir);
  await replaceBlob(dir, "ca", "cert", readFileSync(join(dir, "evil-ca.crt"), "utf8"));
  const mismatch = /^pki: the key of the root CA does not match its certificate( ca\.crt)?: refusing to use it$/;
  await refused(t, dir, ["sign", "web"], mismatch);
  await refused(t, dir, ["crl"], mismatch);
  await replaceBlob(dir, "ca", "cert", saved);
  await pkiOk(t, dir, ["sign", "web"], { env });
});

test("a replaced CSR: other names or another key than NAME's are refused", async (t) => {
  t.timeout(LONG);
  const dir = await cheapDepot(t);
  await pkiOk(t, dir, ["new-cert", "--common-name", "victim", "--domain", "victim.example", "victim"], { env });
  const csr = async (subj, san) => {
    const r = await run("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "/dev/null",
      "-subj", subj, "-addext", `subjectAltName=${san}`]);
    t.is(r.code, 0, r.stderr);
    return r.out;
  };
  const saved = await blobPem(dir, "victim", "csr");
  // What layout 1 names by its files (certs/victim.csr, index.json), depot.db names by the record.
  const [req, rec] = depotFormat(dir) === "db" ? ['the request of "victim"', "the depot records"]
    : ["certs\\/victim\\.csr", "index\\.json records"];
  await replaceBlob(dir, "victim", "csr", await csr("/CN=victim", "DNS:victim.example,DNS:evil.example"));
  await refused(t, dir, ["sign", "victim"], new RegExp(`^pki: ${req} asks for other names \\(SANs\\) than ${rec}( for "victim")?: refusing to sign$`));
  await replaceBlob(dir, "victim", "csr", await csr("/CN=evil", "DNS:victim.example"));
  await refused(t, dir, ["sign", "victim"], new RegExp(`^pki: ${req} asks for the subject "CN=evil", but ${rec} "CN=victim": refusing to sign$`));
  // Same names, the attacker's key: refused when the CA passphrase opens NAME's key (here, the same passphrase).
  await replaceBlob(dir, "victim", "csr", await csr("/CN=victim", "DNS:victim.example"));
  await refused(t, dir, ["sign", "victim"], new RegExp(`^pki: ${req} does not carry the key of "victim"( \\(certs\\/victim\\.key\\))?: refusing to sign$`));
  await replaceBlob(dir, "victim", "csr", saved);
  await pkiOk(t, dir, ["sign", "victim"], { env });
});

test("a replaced current certificate: renew and revoke start from the serial the index records, or refuse", async (t) => {
  t.timeout(LONG);
  const dir = await cheapDepot(t);
  for (const n of ["web", "evil"]) {
    await pkiOk(t, dir, ["new-cert", "--domain", `${n}.example`, n], { env });
    await pkiOk(t, dir, ["sign", n], { env });
  }
  const saved = await certPem(dir, "web");
  const evilSerial = (await entry(dir, "evil")).serial;
  const webSerial = (await entry(dir, "web")).serial;
  await replaceBlob(dir, "web", "cert", await certPem(dir, "evil"));
  const serials = 'the certificate of "web" has serial [0-9a-f]+, not the recorded [0-9a-f]+: run \'pki doctor\''
  await refused(t, dir, ["renew", "web"], new RegExp(`^pki: ${serials}$`));
  await refused(t, dir, ["revoke", "web"], new RegExp(`^pki: ${serials}$`));
  // The record edited to agree with the swapped certificate: the subject tells them apart.
  const forEvil = /^pki: the certificate of "web" is for "CN=evil", but the depot records "CN=web": refusing to renew$/;
  await sqlite(dir, `UPDATE entries SET serial = '${evilSerial}' WHERE name = 'web'`);
  await refused(t, dir, ["renew", "web"], forEvil);
  await sqlite(dir, `UPDATE entries SET serial = '${webSerial}' WHERE name = 'web'`);
  await replaceBlob(dir, "web", "cert", saved);
  await pkiOk(t, dir, ["revoke", "web"], { env });
  // A revoked entry whose recorded serial is not its certificate's: the CRL would list the wrong serial.
  await sqlite(dir, `UPDATE entries SET serial = '${evilSerial}' WHERE name = 'web'`);
  await refused(t, dir, ["crl"], new RegExp(`^pki: ${serials}$`));
  await sqlite(dir, `UPDATE entries SET serial = '${webSerial}' WHERE name = 'web'`);
  await pkiOk(t, dir, ["crl"], { env });
});

test("renew after a keyCompromise revocation needs --rekey, and says why", async (t) => {
  t.timeout(LONG);
  const dir = await cheapDepot(t);
  await pkiOk(t, dir, ["new-cert", "web"], { env });
  await pkiOk(t, dir, ["sign", "web"], { env });
  await pkiOk(t, dir, ["renew", "web"], { env });
  const old = (await entry(dir, "web")).history[0].serial;
  // An earlier certificate for the same key, revoked for keyCompromise, is enough.
  await pkiOk(t, dir, ["revoke", "--reason", "keyCompromise", "--serial", old, "web"], { env });
  await refused(t, dir, ["renew", "web"], /^pki: a certificate of "web" for its current key was revoked for keyCompromise: renew with --rekey$/);
  await pkiOk(t, dir, ["renew", "--rekey", "web"], { env });
  await pkiOk(t, dir, ["renew", "web"], { env }); // the new key is not compromised
});

test("renew --rekey of an intermediate warns how many certificates stay valid under the old key", async (t) => {
  t.timeout(LONG);
  const dir = await cheapDepot(t);
  await pkiOk(t, dir, ["init", "--intermediate", "sub"], { env });
  for (const n of ["a", "b"]) {
    await pkiOk(t, dir, ["new-cert", "--issuer", "sub", n], { env });
    await pkiOk(t, dir, ["sign", n], { env });
  }
  const r = await pkiOk(t, dir, ["renew", "--rekey", "sub"], { env });
  t.regex(r.stderr, /^pki: warning: 2 certificates "sub" issued stay valid under its old key: renew them, or revoke them if that key is compromised$/m);
});

test("world-writable depot, group-writable file: refused; doctor --fix narrows the modes, never widens", async (t) => {
  t.timeout(LONG);
  const dir = await cheapDepot(t);
  await pkiOk(t, dir, ["new-cert", "web"], { env });
  chmodSync(at(dir, ""), 0o777);
  await refused(t, dir, ["list"], /^pki: the depot .* is writable by group or others \(mode 0777\): 'pki doctor --fix' narrows the modes$/);
  await refused(t, dir, ["sign", "web"], /writable by group or others/);
  chmodSync(at(dir, ""), 0o700);
  // layout 1: a CSR file and the certs/ directory; depot.db: the database and the depot directory.
  const db = depotFormat(dir) === "db";
  const [file, sub, narrowed] = db ? ["depot.db", "", 0o600] : ["certs/web.csr", "certs", 0o644];
  chmodSync(at(dir, file), 0o664);
  await refused(t, dir, ["sign", "web"], new RegExp(`^pki: depot file ${file.replace(/[/.]/g, "\\$&")} is writable by group or others \\(mode 0664\\): 'pki doctor --fix' narrows the modes$`));
  chmodSync(at(dir, sub), 0o757);
  await pkiOk(t, dir, ["doctor", "--fix"], { env });
  t.is(statSync(at(dir, file)).mode & 0o777, narrowed);
  t.is(statSync(at(dir, sub)).mode & 0o777, 0o700);
  await pkiOk(t, dir, ["sign", "web"], { env });
});

test("foreign-owned files are refused; root acts on another user's depot only with --as-owner, as its owner", async (t) => {
  t.timeout(LONG);
  if (process.getuid() !== 0) return t.pass("needs root to create a second user");
  const uid = await otherUser();
  t.true(uid > 0);
  const dir = await cheapDepot(t);
  await pkiOk(t, dir, ["new-cert", "web"], { env });
  const db = depotFormat(dir) === "db";
  const file = db ? "depot.db" : "certs/web.csr";
  chownSync(at(dir, file), uid, uid);
  await refused(t, dir, ["sign", "web"], new RegExp(`^pki: depot file ${file.replace(/[/.]/g, "\\$&")} is owned by uid ${uid}, not by the depot's owner \\(uid 0\\): chown it back, or remove it$`));
  // The whole depot belongs to the other user: root refuses, unless --as-owner.
  const r = await run("chown", ["-R", `${uid}:${uid}`, at(dir, "")]);
  t.is(r.code, 0, r.stderr);
  await refused(t, dir, ["sign", "web"], new RegExp(`^pki: the depot .* is owned by uid ${uid}, not by you \\(uid 0\\): pass --as-owner to act as its owner$`));
  await pkiOk(t, dir, ["sign", "--as-owner", "web"], { env });
  await pkiOk(t, dir, ["renew", "--as-owner", "web"], { env });
  for (const f of db ? ["depot.db", ""] : ["certs/web.crt", "index.json", "history"]) t.is(statSync(at(dir, f)).uid, uid, `${f} belongs to the depot's owner`);
  // And the owner can still use it (the ownership rule holds for them).
  chmodSync(dir, 0o755); // let the other user reach the depot inside this temp dir
  const list = await run("setpriv", [`--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", process.execPath, join(process.cwd(), "dist/cli/pki.js"), "list"],
    { env: { ...process.env, PKI_DEPOT: at(dir, "") }, cwd: "/" });
  t.is(list.code, 0, list.stderr);
  t.regex(list.out, /web/);
});

test("a symlinked certs/ (depot.db) is refused: nothing is read or written through it", async (t) => {
  t.timeout(LONG);
  const dir = await cheapDepot(t);
  await pkiOk(t, dir, ["new-cert", "web"], { env });
  const file = depotFormat(dir) === "db" ? "depot.db" : "certs";
  mkdirSync(join(dir, "elsewhere"), { mode: 0o700 });
  renameSync(at(dir, file), join(dir, "elsewhere", file));
  symlinkSync(join(dir, "elsewhere", file), at(dir, file));
  const link = new RegExp(`^pki: depot file ${file.replace(".", "\\.")} is a symbolic link: a depot holds only regular files and directories$`);
  await refused(t, dir, ["new-cert", "x"], link);
  await refused(t, dir, ["sign", "web"], link);
  await refused(t, dir, ["list"], link);
});

test("init and import create a depot only in an absent or empty directory, and never chmod an existing one", async (t) => {
  t.timeout(LONG);
  const dir = tempDir(t);
  mkdirSync(join(dir, ".pki"), { mode: 0o755 });
  writeFileSync(join(dir, ".pki", "notes.txt"), "mine\n");
  const notADepot = /^pki: no depot at .*\.pki \(it holds notes\.txt, but no depot\.json\): pass --depot DIR, or make a new one in an absent or empty directory$/;
  await refused(t, dir, ["init"], notADepot);
  await refused(t, dir, ["import", "--from", "certstrap", dir], notADepot);
  const empty = tempDir(t);
  mkdirSync(join(empty, ".pki"));
  chmodSync(join(empty, ".pki"), 0o750);
  writeFileSync(join(empty, "pass"), "x\n");
  await pkiOk(t, empty, ["init"], { env });
  t.is(statSync(join(empty, ".pki")).mode & 0o777, 0o750, "an existing directory keeps its mode");
  chmodSync(join(empty, ".pki"), 0o770);
  const again = tempDir(t);
  mkdirSync(join(again, ".pki"), { mode: 0o700 });
  chmodSync(join(again, ".pki"), 0o777);
  await refused(t, again, ["init"], /writable by group or others \(mode 0777\)/);
  t.is(statSync(join(again, ".pki")).mode & 0o777, 0o777);
});

test("path length: the CLI, the API and fixtures apply one rule, with the same intermediate default (0)", async (t) => {
  t.timeout(LONG);
  const { createCA, planFixtures, SpecError } = await import("../dist/lib/index.js");
  const NO = /the CA "int" has path length 0: it may not issue CA certificates/;
  const root = await createCA({ name: "root" });
  const int = await root.createIntermediate({ name: "int" });
  await t.throwsAsync(int.createIntermediate({ name: "int2" }), { message: NO });
  await t.throwsAsync(root.createIntermediate({ name: "x", pathLength: 0 }).then((x) => x.createIntermediate({ name: "y" })), { message: /the CA "x" has path length 0/ });
  const deep = await root.createIntermediate({ name: "deep", pathLength: 1 });
  t.truthy(await deep.createIntermediate({ name: "under" }));
  const spec = { cas: [{ name: "root" }, { name: "int", issuer: "root" }, { name: "int2", issuer: "int" }], certs: [] };
  const e = t.throws(() => planFixtures(spec), { instanceOf: SpecError });
  t.regex(e.message, /^cas\[2\]\.pathLength: the CA "int" has path length 0: it may not issue CA certificates$/);
  t.notThrows(() => planFixtures({ ...spec, cas: [{ name: "root" }, { name: "int", issuer: "root", pathLength: 1 }, { name: "int2", issuer: "int" }] }));
  // The CLI: the same default and the same message, and nothing written.
  const dir = await cheapDepot(t);
  await pkiOk(t, dir, ["init", "--intermediate", "int"], { env });
  await refused(t, dir, ["init", "--intermediate", "int2", "--parent", "int"], NO);
});

test("fixtures: an absurd spec (thousands of RSA-4096 keys) is refused before any work unless --yes", async (t) => {
  t.timeout(LONG);
  const { buildFixtures, InputError } = await import("../dist/lib/index.js");
  const spec = { cas: [{ name: "root" }], certs: Array.from({ length: 2000 }, (_, i) => ({ name: `c${i}`, key: "rsa-4096" })) };
  const e = await t.throwsAsync(buildFixtures(spec), { instanceOf: InputError });
  t.regex(e.message, /^the spec's 2001 certificates would take about \d+ minutes of CPU \(mostly RSA key generation\): confirm with --yes \(API: \{ yes: true \}\)$/);
  const dir = tempDir(t);
  writeFileSync(join(dir, "spec.json"), JSON.stringify(spec));
  await refused(t, dir, ["fixtures", "spec.json", "--out", "out"], /^pki: spec\.json: the spec's 2001 certificates would take about \d+ minutes of CPU/, { code: 2 });
  // A modest RSA spec goes through without --yes.
  const small = await buildFixtures({ passphrase: "p", cas: [{ name: "root", key: "rsa-2048" }], certs: [{ name: "s", key: "rsa-2048" }] });
  t.truthy(small);
});
