// `pki inspect`: each file kind described, and the fields compared with what openssl (and keytool) print.
import test from "ava";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { issue, openssl, pki, pkiOk, run, untar } from "./_helpers.js";
import { cheapDepot } from "./_lifecycle.js";
import { artefacts, blobFile } from "./_depot-read.js";

const json = async (t, dir, args, opts) => JSON.parse((await pkiOk(t, dir, ["inspect", "--json", ...args], opts)).out);
/** openssl's "Nov 25 23:17:45 2026 GMT" as ISO. */
const isoOf = (s) => new Date(s.replace(/ GMT$/, "Z")).toISOString();
const field = (text, re) => re.exec(text)?.[1]?.trim();

async function depotWithWeb(t) {
  const dir = await cheapDepot(t);
  await issue(t, dir, "web", ["--domain", "web.example", "--ip", "127.0.0.1", "--uri", "spiffe://example.org/ns/web", "--email", "ops@example.org", "--server"]);
  return dir;
}

test("a certificate and a chain: subject, issuer, serial, dates, key, extensions and fingerprint as openssl x509 reads them", async (t) => {
  const dir = await depotWithWeb(t);
  const crt = await blobFile(join(dir, ".pki"), "web", join(dir, "web.crt"));
  const o = (await openssl(["x509", "-in", crt, "-noout", "-text", "-serial", "-fingerprint", "-sha256", "-dates", "-ext", "subjectAltName,extendedKeyUsage,keyUsage,basicConstraints"])).out;
  const { certificate: c, depot } = await json(t, dir, [crt]);
  t.is(c.serial.toUpperCase(), field(o, /^serial=(\S+)/m));
  t.is(c.fingerprint.toUpperCase().match(/../g).join(":"), field(o, /^sha256 Fingerprint=(\S+)/m));
  t.is(c.notBefore, isoOf(field(o, /^notBefore=(.+)$/m)));
  t.is(c.notAfter, isoOf(field(o, /^notAfter=(.+)$/m)));
  t.is(c.signatureAlgorithm, field(o, /Signature Algorithm: (\S+)/));
  t.is(c.publicKey.bits, Number(field(o, /Public-Key: \((\d+) bit\)/)));
  t.is(c.subjectAltNames.join(", "), field(o, /X509v3 Subject Alternative Name: \n\s+(.+)/));
  t.is(c.extendedKeyUsage.join(", "), field(o, /X509v3 Extended Key Usage: \n\s+(.+)/));
  t.is(c.keyUsage.join(", "), field(o, /X509v3 Key Usage: critical\n\s+(.+)/));
  t.is(c.basicConstraints, `critical, ${field(o, /X509v3 Basic Constraints: critical\n\s+(.+)/)}`);
  t.is(c.subject.replace(/\s/g, ""), field(o, /Subject: (.+)/).replace(/\s/g, ""));
  t.is(c.issuer.replace(/\s/g, ""), field(o, /Issuer: (.+)/).replace(/\s/g, ""));
  t.deepEqual(depot, ['verifies: issued by the depot\'s CA "ca"; entry "web" (valid)']);

  const text = (await pkiOk(t, dir, ["inspect", crt])).out;
  t.regex(text, /^Certificate\n/);
  t.regex(text, /Subject Alternative Name: +DNS:web\.example, IP Address:127\.0\.0\.1, URI:spiffe:\/\/example\.org\/ns\/web, email:ops@example\.org\n/);
  t.regex(text, /Depot: +verifies: issued by the depot's CA "ca"/);
  const fp = (await pkiOk(t, dir, ["inspect", "--fingerprint", "sha1", crt])).out.trim();
  t.is(fp.toUpperCase().match(/../g).join(":"), field((await openssl(["x509", "-in", crt, "-noout", "-fingerprint", "-sha1"])).out, /Fingerprint=(\S+)/));

  // A chain from stdin; outside the depot, a certificate it did not issue.
  const chain = (await pkiOk(t, dir, ["chain", "web"])).stdout;
  const ch = await json(t, dir, ["-"], { input: chain });
  t.is(ch.kind, "chain");
  t.deepEqual(ch.certificates.map((x) => x.subject), ["CN=web", "O=pki, CN=pki Root CA"]);
  t.deepEqual(ch.depot[1], 'the depot\'s CA "ca" (its root)');
  t.is((await openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "o.key"), "-out", join(dir, "o.crt"), "-subj", "/CN=other", "-days", "1"])).code, 0);
  t.deepEqual((await json(t, dir, [join(dir, "o.crt")])).depot, ["does not verify against the depot's CAs"]);
  // DER is recognised too.
  await openssl(["x509", "-in", crt, "-outform", "DER", "-out", join(dir, "web.der")]);
  t.is((await json(t, dir, [join(dir, "web.der")])).certificate.serial, c.serial);
});

test("a CSR and a CRL: as openssl req and openssl crl read them; a tampered CSR says its signature fails", async (t) => {
  const dir = await depotWithWeb(t);
  const csr = join(dir, "x.csr");
  t.is((await openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "x.key"), "-out", csr, "-subj", "/O=Example/CN=x", "-addext", "subjectAltName=DNS:x.example,URI:urn:x"])).code, 0);
  const r = await json(t, dir, [csr]);
  t.is(r.kind, "csr");
  t.is(r.csr.subject, "O=Example, CN=x");
  t.deepEqual(r.csr.subjectAltNames, ["DNS:x.example", "URI:urn:x"]);
  t.true(r.csr.signatureValid);
  t.is(r.csr.publicKey.bits, 2048);
  const pub = (await openssl(["req", "-in", csr, "-noout", "-pubkey"])).out;
  const spki = (await run("openssl", ["pkey", "-pubin", "-outform", "DER"], { input: pub })).stdout;
  t.is(r.csr.publicKey.spkiFingerprint, createHash("sha256").update(spki).digest("hex"));
  const der = Buffer.from(readFileSync(csr, "utf8").replace(/-----[^-]+-----|\s/g, ""), "base64");
  der[der.length - 1] ^= 1;
  writeFileSync(join(dir, "bad.csr"), der);
  const ov = await openssl(["req", "-in", join(dir, "bad.csr"), "-inform", "DER", "-verify", "-noout"]);
  t.regex(ov.out + ov.stderr, /verify failure/, "openssl agrees it is bad");
  t.regex((await pkiOk(t, dir, ["inspect", join(dir, "bad.csr")])).out, /Signature: +DOES NOT VERIFY/);

  await pkiOk(t, dir, ["revoke", "web", "--reason", "keyCompromise"]);
  await pkiOk(t, dir, ["crl", "--passphrase-file", "pass"]);
  const crlFile = join(dir, "ca.crl");
  writeFileSync(crlFile, (await artefacts(join(dir, ".pki"))).find((a) => a.id === "ca.crl").pem);
  const o = (await openssl(["crl", "-in", crlFile, "-noout", "-text"])).out;
  const c = await json(t, dir, [crlFile]);
  t.is(c.crl.crlNumber, field(o, /X509v3 CRL Number: \n\s+(\d+)/));
  t.is(c.crl.revoked.length, 1);
  t.is(c.crl.revoked[0].serial.toUpperCase(), field(o, /Serial Number: (\S+)/));
  t.is(c.crl.revoked[0].reason, "keyCompromise");
  t.regex(o, /Key Compromise/);
  t.is(c.crl.nextUpdate, isoOf(field(o, /Next Update: (.+)/)));
  t.deepEqual(c.depot, ['signed by the depot\'s CA "ca"']);
});

test("keys: type, size and public-key fingerprint, encrypted or not, never the secret", async (t) => {
  const dir = await depotWithWeb(t);
  t.is((await openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072", "-out", join(dir, "rsa.pem")])).code, 0);
  const plain = readFileSync(join(dir, "rsa.pem"), "utf8");
  const out = (await pkiOk(t, dir, ["inspect", join(dir, "rsa.pem")])).out;
  t.regex(out, /Key: +RSA 3072 bit/);
  t.regex((await openssl(["pkey", "-in", join(dir, "rsa.pem"), "-noout", "-text"])).out, /Private-Key: \(3072 bit/);
  const spki = (await openssl(["pkey", "-in", join(dir, "rsa.pem"), "-pubout", "-outform", "DER"])).stdout;
  t.true(out.includes(createHash("sha256").update(spki).digest("hex").toUpperCase().match(/../g).join(":")));
  for (const line of plain.split("\n").slice(1, -2)) t.false(out.includes(line), "no line of the key's PEM body");

  // The depot's own encrypted key: its scheme without the passphrase, its identity with it.
  const key = await blobFile(join(dir, ".pki"), "web", join(dir, "web.key"), "key");
  const locked = (await pkiOk(t, dir, ["inspect", key])).out;
  t.regex(locked, /Encrypted: +PBES2 \(PBKDF2-HMAC-SHA256, \d+ iterations, aes-256-cbc\)/);
  t.notRegex(locked, /Key: /);
  const unlocked = await json(t, dir, ["--passphrase-file", "pass", key]);
  t.is(unlocked.key.key.type, "ECDSA");
  t.is(unlocked.key.key.curve, "P-256");
  t.deepEqual(unlocked.depot, ['the key of the depot\'s entry "web"']);
  t.false(JSON.stringify(unlocked).includes("PRIVATE"), "no key material in the JSON");
  const legacy = join(dir, "legacy.pem");
  t.is((await openssl(["pkey", "-in", join(dir, "rsa.pem"), "-traditional", "-des3", "-passout", "pass:secret", "-out", legacy])).code, 0);
  writeFileSync(join(dir, "secret"), "secret\n");
  t.regex((await pkiOk(t, dir, ["inspect", "--passphrase-file", "secret", legacy])).out, /Format: +PKCS#1, legacy PEM encryption\n\s+Encrypted: +DES-EDE3-CBC\n\s+Key: +RSA 3072 bit/);
  const wrong = await pki(dir, ["inspect", "--passphrase-file", "pass", legacy]);
  t.regex(wrong.stderr, /^pki: the key: wrong passphrase \(the key is encrypted\)\n$/);
});

test("PKCS#12 and keystores: MAC checked with the password, certificates and key as openssl pkcs12 and keytool list them", async (t) => {
  const dir = await depotWithWeb(t);
  writeFileSync(join(dir, "p12pass"), "p12 secret\n");
  const x = join(dir, "x");
  mkdirSync(x);
  for (const extra of [[], ["--p12-legacy"]]) {
    const r = await pkiOk(t, dir, ["export", "--p12", "--p12-password-file", "p12pass", ...extra, "--jks", "--jks-password-file", "p12pass", "--passphrase-file", "pass", "web"]);
    await untar(t, x, r.stdout);
    const p12 = join(x, "web.p12");
    const info = (await openssl(["pkcs12", "-in", p12, "-info", "-nokeys", "-passin", "pass:p12 secret", ...(extra.length ? ["-legacy"] : [])])).stderr;
    const certs = (await openssl(["pkcs12", "-in", p12, "-nokeys", "-passin", "pass:p12 secret", ...(extra.length ? ["-legacy"] : [])])).out;
    const s = (await json(t, dir, ["--password-file", "p12pass", p12])).store;
    t.true(s.verified);
    t.is(s.integrity, `HMAC-${field(info, /MAC: (\w+)/).toUpperCase()}, ${field(info, /Iteration (\d+)/)} iterations`);
    t.deepEqual(s.certificates.map((c) => c.subject.replace(/\s/g, "")), [...certs.matchAll(/^subject=(.+)$/gm)].map((m) => m[1].replace(/\s/g, "")));
    t.is(s.keys[0].matches, "CN=web");
    t.regex(s.encryption.join(";"), extra.length ? /pbeWithSHA1And3-KeyTripleDES-CBC/ : /PBES2 \(PBKDF2-HMAC-SHA256/);
  }
  // Without the password: the structure; with a wrong one: one line, exit 1.
  t.regex((await pkiOk(t, dir, ["inspect", join(x, "web.p12")])).out, /Integrity: +HMAC-SHA1, \d+ iterations \(not checked: give the password\)/);
  const bad = await pki(dir, ["inspect", "--password", "nope", join(x, "web.p12")]);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /the PKCS#12 MAC does not verify: wrong password/);
  // The JKS: aliases and certificates as keytool lists them.
  const jks = join(x, "web.jks");
  const kt = (await run("keytool", ["-list", "-v", "-keystore", jks, "-storepass", "p12 secret"])).out;
  const js = (await json(t, dir, ["--password-file", "p12pass", jks])).store;
  t.true(js.verified);
  t.is(js.keys[0].alias, field(kt, /Alias name: (\S+)/));
  t.is(js.certificates.length, Number(field(kt, /Certificate chain length: (\d+)/)));
  t.is(js.certificates[0].fingerprint.toUpperCase().match(/../g).join(":"), field(kt, /SHA256: (\S+)/));
  t.regex((await pki(dir, ["inspect", "--password", "nope", jks])).stderr, /integrity digest does not verify/);
});
