// `pki fixtures SPEC`: every kind of certificate, judged by openssl (and keytool); malformed specs.
import test from "ava";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PASS, PKI, ROOT, openssl, pki, pkiOk, run, snapshot, tempDir, untar } from "./_helpers.js";

const SPEC = `
# every kind of fixture
passphrase: "${PASS}"
cas:
  - name: root
    commonName: Test Root CA
  - name: int
    issuer: root
    pathLength: 0
  - name: other-root
certs:
  - name: server
    issuer: int
    ip: [127.0.0.1, "::1"]
    domain: localhost
    usage: server
    outputs: [pem, insecure, chain, p12, jks, crl]
  - name: client
    issuer: int
    usage: client
    key: rsa-2048
    outputs: [pem, insecure, chain, crl]
  - name: expired
    issuer: int
    notBefore: -30d
    notAfter: -1d
    outputs: [insecure, chain, crl]
  - name: future
    issuer: int
    notBefore: +1d
    outputs: [insecure, chain]
  - name: wrong-ca
    issuer: other-root
    key: ed25519
    outputs: [insecure]
  - name: revoked
    issuer: int
    key: ecdsa-p384
    outputs: [insecure, chain, crl]
revocations:
  - cert: revoked
    reason: keyCompromise
`;

/** `openssl verify` of NAME.crt against root.crt with the intermediate as untrusted. */
const verify = (dir, name, extra = []) =>
  openssl(["verify", ...extra, "-CAfile", join(dir, "root.crt"), "-untrusted", join(dir, "int.crt"), join(dir, `${name}.crt`)]);

/** One build of SPEC (with --json) shared by the tests that only read it. */
let shared;
test.before(async () => {
  const dir = mkdtempSync(join(tmpdir(), "pki-fixtures-"));
  writeFileSync(join(dir, "spec.yaml"), SPEC);
  const r = await pki(dir, ["fixtures", "spec.yaml", "--out", "out", "--json"]);
  shared = { dir, out: join(dir, "out"), r };
});
test.after.always(() => shared && rmSync(shared.dir, { recursive: true, force: true }));
const built = (t) => {
  if (shared.r.code !== 0) t.fail(`pki fixtures exited ${shared.r.code}: ${shared.r.stderr}`);
  return shared;
};

async function build(t, spec = SPEC, args = []) {
  const dir = tempDir(t);
  writeFileSync(join(dir, "spec.yaml"), spec);
  const r = await pkiOk(t, dir, ["fixtures", "spec.yaml", "--out", "out", ...args]);
  return { dir, out: join(dir, "out"), r };
}

test("a spec with every kind of cert: openssl accepts the good ones and rejects the others for the right reason", async (t) => {
  const { out, r } = built(t);
  t.is(r.stderr, "", "no progress line or warning when stderr is not a terminal");

  const ok = await verify(out, "server", ["-purpose", "sslserver"]);
  t.is(ok.code, 0, ok.out + ok.stderr);
  t.regex(ok.out, /server\.crt: OK/);
  const cl = await verify(out, "client", ["-purpose", "sslclient"]);
  t.is(cl.code, 0, cl.out + cl.stderr);
  const notServer = await verify(out, "client", ["-purpose", "sslserver"]);
  t.not(notServer.code, 0, "a client-only cert is not a server cert");

  const exp = await verify(out, "expired");
  t.not(exp.code, 0);
  t.regex(exp.out + exp.stderr, /certificate has expired/);
  const fut = await verify(out, "future");
  t.not(fut.code, 0);
  t.regex(fut.out + fut.stderr, /certificate is not yet valid/);
  const wrong = await verify(out, "wrong-ca");
  t.not(wrong.code, 0);
  t.regex(wrong.out + wrong.stderr, /unable to get local issuer certificate/);
  // ...but it is a good cert of its own CA.
  const own = await openssl(["verify", "-CAfile", join(out, "other-root.crt"), join(out, "wrong-ca.crt")]);
  t.is(own.code, 0, own.out + own.stderr);

  const rev = await verify(out, "revoked", ["-crl_check", "-CRLfile", join(out, "revoked.crl.pem")]);
  t.not(rev.code, 0);
  t.regex(rev.out + rev.stderr, /certificate revoked/);
  const revNoCrl = await verify(out, "revoked");
  t.is(revNoCrl.code, 0, "without the CRL the revoked cert is otherwise fine");
  const good = await verify(out, "server", ["-crl_check_all", "-CRLfile", join(out, "server.crl.pem")]);
  t.is(good.code, 0, good.out + good.stderr);
  const crl = await openssl(["crl", "-in", join(out, "int.crl"), "-noout", "-text"]);
  t.regex(crl.out, /Key Compromise/);
  t.regex(crl.out, /X509v3 CRL Number/);

  // The chain file: leaf then intermediate, no root; enough with the root alone as trust anchor.
  const chain = readFileSync(join(out, "server.chain.pem"), "utf8");
  t.is(chain.match(/BEGIN CERTIFICATE/g).length, 2);
  const v = await openssl(["verify", "-CAfile", join(out, "root.crt"), "-untrusted", join(out, "server.chain.pem"), join(out, "server.crt")]);
  t.is(v.code, 0, v.out + v.stderr);

  // SANs as declared.
  const text = await openssl(["x509", "-in", join(out, "server.crt"), "-noout", "-ext", "subjectAltName,extendedKeyUsage"]);
  t.regex(text.out, /DNS:localhost/);
  t.regex(text.out, /IP Address:127\.0\.0\.1/);
  t.regex(text.out, /IP Address:0:0:0:0:0:0:0:1/);
  t.regex(text.out, /TLS Web Server Authentication/);
  t.notRegex(text.out, /Client Authentication/);
  const ed = await openssl(["x509", "-in", join(out, "wrong-ca.crt"), "-noout", "-text"]);
  t.regex(ed.out, /Public Key Algorithm: ED25519/);
});

test("keys: encrypted ones open with the passphrase and match their certs; insecure ones are plain; modes 0600", async (t) => {
  const { out } = built(t);
  const modOf = async (args) => (await openssl(args)).out.trim();
  for (const name of ["server", "client", "root", "int"]) {
    const key = join(out, `${name}.key`);
    t.regex(readFileSync(key, "utf8"), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    t.is(statSync(key).mode & 0o777, 0o600);
    const pub = await modOf(["pkey", "-in", key, "-passin", `pass:${PASS}`, "-pubout"]);
    t.is(pub, await modOf(["x509", "-in", join(out, `${name}.crt`), "-noout", "-pubkey"]), `${name}.key belongs to ${name}.crt`);
    const wrong = await openssl(["pkey", "-in", key, "-passin", "pass:wrong", "-noout"]);
    t.not(wrong.code, 0);
  }
  for (const name of ["server", "expired", "wrong-ca", "revoked"]) {
    const key = join(out, `${name}.key.insecure`);
    t.regex(readFileSync(key, "utf8"), /^-----BEGIN PRIVATE KEY-----/);
    t.is(statSync(key).mode & 0o777, 0o600);
    const pub = await modOf(["pkey", "-in", key, "-pubout"]);
    t.is(pub, await modOf(["x509", "-in", join(out, `${name}.crt`), "-noout", "-pubkey"]));
  }
  t.is(statSync(join(out, "server.crt")).mode & 0o777, 0o644);
  t.false(existsSync(join(out, "expired.key")), "no encrypted key unless 'pem' is asked for");
});

test("p12 and jks: openssl and keytool read them with the default password \"changeit\" (not the passphrase), with the whole chain", async (t) => {
  const { out } = built(t);
  const p12 = await openssl(["pkcs12", "-in", join(out, "server.p12"), "-passin", "pass:changeit", "-nodes"]);
  t.is(p12.code, 0, p12.stderr);
  t.is(p12.out.match(/BEGIN CERTIFICATE/g).length, 3, "leaf, intermediate, root");
  t.regex(p12.out, /friendlyName: server/);
  t.regex(p12.out, /BEGIN PRIVATE KEY/);
  const bad = await openssl(["pkcs12", "-in", join(out, "server.p12"), "-passin", `pass:${PASS}`, "-noout"]);
  t.not(bad.code, 0);
  const jks = await run("keytool", ["-list", "-v", "-keystore", join(out, "server.jks"), "-storepass", "changeit", "-storetype", "JKS"]);
  t.is(jks.code, 0, jks.out + jks.stderr);
  t.regex(jks.out, /Alias name: server/);
  t.regex(jks.out, /Entry type: PrivateKeyEntry/);
  t.regex(jks.out, /Certificate chain length: 3/);
});

test("the tar on stdout holds the same files as --out, with the same modes; the table goes to stderr", async (t) => {
  const { dir, out } = built(t);
  const r = await pki(dir, ["fixtures", "spec.yaml"]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /^NAME\s+KIND\s+ISSUER/m, "the summary goes to stderr when stdout carries the tar");
  t.regex(r.stderr, /^expired\s+leaf\s+int\s+ECDSA P-256\s+expired/m);
  t.regex(r.stderr, /^revoked\s+leaf\s+int\s+ECDSA P-384\s+revoked/m);
  t.regex(r.stderr, /^future\s+leaf\s+int\s+ECDSA P-256\s+not-yet-valid/m);
  const x = tempDir(t);
  const listing = await untar(t, x, r.stdout);
  t.regex(listing, /-rw------- .* server\.p12/);
  t.regex(listing, /-rw-r--r-- .* root\.crt/);
  const modes = (d) => Object.fromEntries(Object.entries(snapshot(d)).map(([k, v]) => [k, v.split(" ")[0]]));
  t.deepEqual(modes(x), modes(out));
  // Every certificate in the tar is new (keys are random), and still verifies.
  t.not(readFileSync(join(x, "server.crt"), "utf8"), readFileSync(join(out, "server.crt"), "utf8"));
  const v = await verify(x, "server");
  t.is(v.code, 0, v.out + v.stderr);
});

test("--json summary and the fixtures.json manifest describe every entry", async (t) => {
  const { out, r } = built(t);
  const summary = JSON.parse(r.out);
  const manifest = JSON.parse(readFileSync(join(out, "fixtures.json"), "utf8"));
  t.deepEqual(summary.entries, manifest.entries);
  const by = Object.fromEntries(manifest.entries.map((e) => [e.name, e]));
  t.deepEqual(Object.keys(by), ["root", "int", "other-root", "server", "client", "expired", "future", "wrong-ca", "revoked"]);
  t.is(by.expired.state, "expired");
  t.is(by.future.state, "not-yet-valid");
  t.is(by.revoked.state, "revoked");
  t.is(by.server.state, "valid");
  t.is(by.int.issuer, "root");
  t.deepEqual(by.server.sans, { ips: ["127.0.0.1", "::1"], domains: ["localhost"] });
  const serial = (await openssl(["x509", "-in", join(out, "server.crt"), "-noout", "-serial"])).out.trim().split("=")[1];
  t.is(serial.toLowerCase(), by.server.serial.toLowerCase());
  const files = manifest.entries.flatMap((e) => e.files).concat("fixtures.json").sort();
  t.deepEqual(readdirSync(out).sort(), files, "deterministic names: exactly the files the manifest lists");
});

const BAD = [
  ["unknown issuer", (s) => s.replace("name: client\n    issuer: int", "name: client\n    issuer: int2"), /^pki: spec\.yaml: certs\[1\]\.issuer: unknown CA "int2"$/],
  ["issuer cycle", (s) => s.replace("  - name: root\n", "  - name: root\n    issuer: int\n"), /^pki: spec\.yaml: cas\[0\]\.issuer: issuer cycle: root → int → root$/],
  ["a leaf as issuer", (s) => s.replace("issuer: other-root", "issuer: server"), /^pki: spec\.yaml: certs\[4\]\.issuer: unknown CA "server" \(certs\[0\] is a leaf certificate, not a CA\)$/],
  ["bad IP", (s) => s.replace("[127.0.0.1,", "[127.0.0.1, 10.0.0.256,"), /^pki: spec\.yaml: certs\[0\]\.ip\[1\]: invalid IP address "10\.0\.0\.256"/],
  ["bad domain", (s) => s.replace("domain: localhost", "domain: [ok.example, 'bad domain']"), /^pki: spec\.yaml: certs\[0\]\.domain\[1\]: invalid domain "bad domain"/],
  ["unknown key type", (s) => s.replace("key: rsa-2048", "key: dsa-1024"), /^pki: spec\.yaml: certs\[1\]\.key: unknown key type "dsa-1024"/],
  ["bad RSA size", (s) => s.replace("key: rsa-2048", "key: {type: rsa, bits: 1024}"), /^pki: spec\.yaml: certs\[1\]\.key: unsupported RSA key size "1024"/],
  ["unknown output", (s) => s.replace("outputs: [insecure]", "outputs: [insecure, pfx]"), /^pki: spec\.yaml: certs\[4\]\.outputs\[1\]: unknown output "pfx"/],
  ["unknown key (typo)", (s) => s.replace("    pathLength: 0", "    pathlength: 0"), /^pki: spec\.yaml: cas\[1\]\.pathlength: unknown key/],
  ["duplicate name", (s) => s.replace("name: client", "name: server"), /^pki: spec\.yaml: certs\[1\]\.name: duplicate name "server" \(also certs\[0\]\)$/],
  ["path in a name", (s) => s.replace("name: client", "name: ../client"), /^pki: spec\.yaml: certs\[1\]\.name: invalid name/],
  ["unknown revoked cert", (s) => s.replace("- cert: revoked", "- cert: nobody"), /^pki: spec\.yaml: revocations\[0\]\.cert: unknown certificate "nobody"$/],
  ["unknown reason", (s) => s.replace("reason: keyCompromise", "reason: boredom"), /^pki: spec\.yaml: revocations\[0\]\.reason: unknown revocation reason "boredom"/],
  ["notAfter before notBefore", (s) => s.replace("notAfter: -1d", "notAfter: -31d"), /^pki: spec\.yaml: certs\[2\]\.notAfter: notAfter .* is not after notBefore/],
  ["bad duration", (s) => s.replace("notBefore: +1d", "notBefore: tomorrow"), /^pki: spec\.yaml: certs\[3\]\.notBefore: invalid duration or date "tomorrow"/],
  ["a cert that would start after its CA expires", (s) => s.replace("    pathLength: 0\n", "    pathLength: 0\n    notBefore: -60d\n    notAfter: -2d\n"), /^pki: spec\.yaml: certs\[0\]\.notBefore: .* is not before the issuer "int" expires/],
  ["no cas", () => "cas: []\n", /^pki: spec\.yaml: cas: must be a non-empty list of CAs$/],
  ["not YAML", () => "cas: [\n", /^pki: spec\.yaml: not valid YAML or JSON/],
];

for (const [i, [what, mutate, re]] of BAD.entries()) {
  test(`malformed spec (${what}): one line naming the spec path, non-zero exit, nothing written`, async (t) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, "spec.yaml"), mutate(SPEC));
    mkdirSync(join(dir, "existing"));
    writeFileSync(join(dir, "existing", "keep.txt"), "x");
    const before = snapshot(dir);
    // Every output mode for the first; one each for the rest (they share the code path).
    for (const args of i === 0 ? [["--out", "new"], ["--out", "existing"], []] : [[["--out", "new"], ["--out", "existing"], []][i % 3]]) {
      const r = await pki(dir, ["fixtures", "spec.yaml", ...args]);
      t.not(r.code, 0);
      t.regex(r.stderr.trimEnd(), re);
      t.is(r.stderr.trim().split("\n").length, 1, r.stderr);
      t.is(r.stdout.length, 0);
      t.deepEqual(snapshot(dir), before);
    }
  });
}

test("names that differ only in case are refused (their files would collide on macOS)", async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, "spec.yaml"), "cas: [{name: ca, outputs: [insecure]}]\ncerts:\n  - {name: web, outputs: [insecure]}\n  - {name: Web, outputs: [insecure]}\n");
  const r = await pki(dir, ["fixtures", "spec.yaml", "--out", "o"]);
  t.not(r.code, 0);
  t.regex(r.stderr.trimEnd(), /^pki: spec\.yaml: certs\[1\]\.name: file "Web\.crt" would overwrite the one written for certs\[0\] on a case-insensitive filesystem$/);
  t.false(existsSync(join(dir, "o")));
});

test("passphrase from --passphrase-file when the spec has none; none needed for insecure-only outputs", async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, "pass"), PASS + "\n");
  writeFileSync(join(dir, "spec.json"), JSON.stringify({ cas: [{ name: "ca" }], certs: [{ name: "s", ip: "127.0.0.1", outputs: ["pem", "p12"] }] }));
  const none = await pki(dir, ["fixtures", "spec.json", "--out", "o"]);
  t.not(none.code, 0);
  t.regex(none.stderr, /no passphrase/);
  t.false(existsSync(join(dir, "o")));
  await pkiOk(t, dir, ["fixtures", "spec.json", "--out", "o", "--passphrase-file", "pass"]);
  const k = await openssl(["pkey", "-in", join(dir, "o", "s.key"), "-passin", `pass:${PASS}`, "-noout"]);
  t.is(k.code, 0, k.stderr);
  const p = await openssl(["pkcs12", "-in", join(dir, "o", "s.p12"), "-passin", "pass:changeit", "-noout"]);
  t.is(p.code, 0, p.stderr);
  // --passphrase-file wins over the spec's passphrase.
  writeFileSync(join(dir, "with.json"), JSON.stringify({ passphrase: "in the spec", cas: [{ name: "ca" }] }));
  await pkiOk(t, dir, ["fixtures", "with.json", "--out", "w1"]);
  await pkiOk(t, dir, ["fixtures", "with.json", "--out", "w2", "--passphrase-file", "pass"]);
  t.is((await openssl(["pkey", "-in", join(dir, "w1", "ca.key"), "-passin", "pass:in the spec", "-noout"])).code, 0);
  t.is((await openssl(["pkey", "-in", join(dir, "w2", "ca.key"), "-passin", `pass:${PASS}`, "-noout"])).code, 0);

  writeFileSync(join(dir, "plain.json"), JSON.stringify({ cas: [{ name: "ca", outputs: ["insecure"] }], defaults: { outputs: ["insecure"] }, certs: [{ name: "s" }] }));
  await pkiOk(t, dir, ["fixtures", "plain.json", "--out", "p"]);
  t.deepEqual(readdirSync(join(dir, "p")).sort(), ["ca.crt", "ca.key.insecure", "fixtures.json", "s.crt", "s.key.insecure"]);
});

test("--out into an existing directory replaces the files; an --out that is a file is refused", async (t) => {
  const { dir, out } = await build(t);
  const old = readFileSync(join(out, "root.crt"), "utf8");
  writeFileSync(join(out, "mine.txt"), "kept");
  await pkiOk(t, dir, ["fixtures", "spec.yaml", "--out", "out"]);
  t.not(readFileSync(join(out, "root.crt"), "utf8"), old);
  t.is(readFileSync(join(out, "mine.txt"), "utf8"), "kept");
  t.deepEqual(readdirSync(out).filter((f) => f.includes(".tmp")), []);
  const v = await verify(out, "server");
  t.is(v.code, 0, v.out + v.stderr);
  writeFileSync(join(dir, "afile"), "x");
  const r = await pki(dir, ["fixtures", "spec.yaml", "--out", "afile"]);
  t.not(r.code, 0);
  t.regex(r.stderr.trimEnd(), /^pki: --out .*afile exists and is not a directory$/);
  t.deepEqual(readdirSync(dir).filter((f) => f.includes(".tmp")), []);
});

test("progress: a line on stderr when it is a terminal", async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, "spec.json"), JSON.stringify({ cas: [{ name: "ca", outputs: ["insecure"] }], defaults: { outputs: ["insecure"] }, certs: Array.from({ length: 5 }, (_, i) => ({ name: `c${i}` })) }));
  // script(1) gives the command a pseudo-terminal; stdout goes to a file, so only stderr is the terminal.
  const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(PKI)} fixtures spec.json --out o > summary.txt`;
  const r = await run("script", ["-qec", cmd, "/dev/null"], { cwd: dir });
  t.is(r.code, 0, r.out);
  t.regex(r.out, /\rkeys 1\/6, certificates 0\/6/);
  t.regex(r.out, /\rkeys 6\/6, certificates 6\/6\r?\n/);
  t.regex(readFileSync(join(dir, "summary.txt"), "utf8"), /^c4\s+leaf/m);
});

test("the JSON Schema accepts exactly the keys and values the parser does", async (t) => {
  const schema = JSON.parse(readFileSync(join(ROOT, "schema", "fixtures.schema.json"), "utf8"));
  const { SPEC_KEYS, OUTPUTS, USAGES } = await import("../dist/lib/api/fixtures.js");
  const { KEY_NAMES } = await import("../dist/lib/api/api.js");
  const { REASONS } = await import("../dist/lib/x509/crl.js");
  const keys = (o) => Object.keys(o.properties).sort();
  t.deepEqual(keys(schema), [...SPEC_KEYS.top].sort());
  t.deepEqual(keys(schema.properties.defaults), [...SPEC_KEYS.defaults].sort());
  t.deepEqual(keys(schema.properties.cas.items), [...SPEC_KEYS.ca].sort());
  t.deepEqual(keys(schema.properties.certs.items), [...SPEC_KEYS.cert].sort());
  t.deepEqual(keys(schema.properties.revocations.items), [...SPEC_KEYS.revocation].sort());
  t.deepEqual(schema.$defs.outputs.items.enum, [...OUTPUTS]);
  t.deepEqual(schema.$defs.usage.enum, USAGES);
  t.deepEqual(schema.$defs.key.oneOf[0].enum, Object.keys(KEY_NAMES));
  t.deepEqual(schema.properties.revocations.items.properties.reason.enum, REASONS);
  for (const o of [schema, schema.properties.defaults, schema.properties.cas.items, schema.properties.certs.items, schema.properties.revocations.items]) t.false(o.additionalProperties);
  // The documented example is a valid spec.
  const doc = readFileSync(join(ROOT, "docs", "fixtures.md"), "utf8");
  const example = /```yaml\n([\s\S]*?)```/.exec(doc)[1];
  const { planFixtures, parseFixtureSpec } = await import("../dist/lib/api/fixtures.js");
  const parsed = await parseFixtureSpec(example);
  t.notThrows(() => planFixtures(parsed));
  t.deepEqual(await parseFixtureSpec(JSON.stringify(parsed)), parsed, "JSON and YAML specs parse alike");
});
