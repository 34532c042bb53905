// The fast issuance path (lib/x509/der.ts + build.ts): certificates, CSRs and keys for every key type parse in openssl
// with the expected fields, verify with -x509_strict and serve TLS to curl; a property test compares random
// subjects/SANs/validities with @peculiar/x509's parse of the same bytes.
import test from "ava";
import fc from "fast-check";
import { once } from "node:events";
import https from "node:https";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createCsrDer, createRootCertificateDer, issueCertificateDer, sansOf } from "../dist/lib/x509/cert.js";
import { exportPkcs8, generateKeyPair } from "../dist/lib/x509/keys.js";
import { int, oid, readTlv, time } from "../dist/lib/x509/der.js";
import { ipBytes, nameDer } from "../dist/lib/x509/build.js";
import { toPem } from "../dist/lib/x509/pem.js";
import { x509 } from "../dist/lib/x509/peculiar.js";
import { curl, openssl, tempDir } from "./_helpers.js";

const SPECS = {
  "ECDSA P-256": { type: "ecdsa", curve: "P-256" },
  "ECDSA P-384": { type: "ecdsa", curve: "P-384" },
  "RSA 2048": { type: "rsa", bits: 2048 },
  "RSA 4096": { type: "rsa", bits: 4096 },
  Ed25519: { type: "ed25519" },
};
const SIG = { "ECDSA P-256": "ecdsa-with-SHA256", "ECDSA P-384": "ecdsa-with-SHA384", "RSA 2048": "sha256WithRSAEncryption", "RSA 4096": "sha256WithRSAEncryption", Ed25519: "ED25519" };
const pem = (der) => toPem("CERTIFICATE", der);
const text = async (args) => { const r = await openssl(args); if (r.code) throw new Error(r.stderr); return r.out; };
const section = (out, name) => out.split(/\n(?= {12}X509v3 )/).find((s) => s.trimStart().startsWith(name)) ?? "";

for (const [label, spec] of Object.entries(SPECS)) {
  test(`${label}: cert, CSR and key parse in openssl with the expected fields, verify -x509_strict, serve curl`, async (t) => {
    t.timeout(120_000);
    const dir = tempDir(t);
    const [caKeys, keys] = await Promise.all([generateKeyPair(spec), generateKeyPair(spec)]);
    const notBefore = new Date(Date.UTC(2025, 0, 2, 3, 4, 5)), notAfter = new Date(Date.UTC(2051, 6, 8, 9, 10, 11));
    const caDer = createRootCertificateDer({ subject: { commonName: "Fast Root", organization: "Ünïcode Org", country: "DE" }, keys: caKeys, notBefore, notAfter, pathLength: 1, serial: "7f01" });
    const ca = new x509.X509Certificate(new Uint8Array(caDer));
    const sans = { domains: ["localhost", "*.example.com"], ips: ["127.0.0.1", "::1"], uris: ["spiffe://example.com/web"], emails: ["ops@example.com"] };
    const leafDer = issueCertificateDer({
      subject: { commonName: "web", organizationalUnit: "Ops" }, publicKey: keys.publicKey, sans, issuerCert: ca, issuerKeys: caKeys,
      serial: "00ff", notBefore, notAfter: new Date(Date.UTC(2049, 11, 31, 23, 59, 59)), profile: { kind: "leaf", usage: "server" },
    });
    const csrDer = createCsrDer({ commonName: "web" }, sans, keys);
    writeFileSync(join(dir, "ca.pem"), pem(caDer));
    writeFileSync(join(dir, "leaf.pem"), pem(leafDer));
    writeFileSync(join(dir, "leaf.csr"), toPem("CERTIFICATE REQUEST", csrDer));
    writeFileSync(join(dir, "leaf.key"), toPem("PRIVATE KEY", await exportPkcs8(keys.privateKey)));

    const c = await text(["x509", "-in", join(dir, "ca.pem"), "-noout", "-text", "-nameopt", "utf8"]);
    t.regex(c, /Serial Number: 32513 \(0x7f01\)/);
    t.regex(c, /Issuer: C ?= ?DE, O ?= ?Ünïcode Org, CN ?= ?Fast Root/);
    t.regex(c, /Subject: C ?= ?DE, O ?= ?Ünïcode Org, CN ?= ?Fast Root/);
    t.regex(c, /Not Before: Jan {2}2 03:04:05 2025 GMT/);
    t.regex(c, /Not After : Jul {2}8 09:10:11 2051 GMT/);
    t.regex(section(c, "X509v3 Basic Constraints"), /critical\s+CA:TRUE, pathlen:1/);
    t.regex(section(c, "X509v3 Key Usage"), /critical\s+Certificate Sign, CRL Sign\s*$/);
    t.regex(c, new RegExp(`Signature Algorithm: ${SIG[label]}`));

    const l = await text(["x509", "-in", join(dir, "leaf.pem"), "-noout", "-text"]);
    t.regex(l, /Serial Number: 255 \(0xff\)/);
    t.regex(l, /Subject: OU = Ops, CN = web/);
    t.regex(l, /Not After : Dec 31 23:59:59 2049 GMT/);
    t.regex(section(l, "X509v3 Basic Constraints"), /critical\s+CA:FALSE/);
    t.regex(section(l, "X509v3 Key Usage"), spec.type === "rsa" ? /critical\s+Digital Signature, Key Encipherment\s*$/ : /critical\s+Digital Signature\s*$/);
    t.regex(section(l, "X509v3 Extended Key Usage"), /^\s*X509v3 Extended Key Usage: \n\s+TLS Web Server Authentication\s*$/);
    t.regex(section(l, "X509v3 Subject Alternative Name"),
      /DNS:localhost, DNS:\*\.example\.com, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1, URI:spiffe:\/\/example\.com\/web, email:ops@example\.com/);
    const ski = /X509v3 Subject Key Identifier: \n\s+([0-9A-F:]+)/.exec(c)[1];
    t.regex(section(l, "X509v3 Authority Key Identifier"), new RegExp(ski));
    t.notRegex(l, /Authority Key Identifier[\s\S]*(DirName|serial)/);

    // DER the encoder itself would not produce twice: openssl re-encodes and the bytes match.
    t.deepEqual(Buffer.from((await openssl(["x509", "-in", join(dir, "leaf.pem"), "-outform", "DER"], { encoding: "buffer" })).stdout), leafDer);
    const v = await openssl(["verify", "-x509_strict", "-CAfile", join(dir, "ca.pem"), join(dir, "leaf.pem")]);
    t.is(v.code, 0, v.stderr + v.out);
    const req = await openssl(["req", "-in", join(dir, "leaf.csr"), "-noout", "-verify", "-text"]);
    t.is(req.code, 0, req.stderr);
    t.regex(req.stderr + req.out, /verify OK/i);
    t.regex(req.out, /Subject: CN ?= ?web/);
    t.regex(req.out, /DNS:localhost, DNS:\*\.example\.com, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1, URI:spiffe/);
    const k = await openssl(["pkey", "-in", join(dir, "leaf.key"), "-noout", "-check"].filter((a) => spec.type !== "ed25519" || a !== "-check"));
    t.is(k.code, 0, k.stderr);

    // Only a leaf valid now serves TLS: a second one, same key, dated around now.
    const now = Date.now();
    const live = issueCertificateDer({ subject: { commonName: "localhost" }, publicKey: keys.publicKey, sans, issuerCert: ca, issuerKeys: caKeys, notAfter: new Date(now + 864e5), profile: { kind: "leaf", usage: "server" } });
    const server = https.createServer({ cert: pem(live), key: toPem("PRIVATE KEY", await exportPkcs8(keys.privateKey)) }, (_q, s) => s.end(`hello ${label}\n`));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    t.teardown(() => server.close());
    const r = await curl(["--cacert", join(dir, "ca.pem"), "--resolve", `localhost:${server.address().port}:127.0.0.1`, `https://localhost:${server.address().port}/`]);
    t.is(r.code, 0, r.stderr);
    t.is(r.out, `hello ${label}\n`);
  });
}

test("der: times switch to GeneralizedTime in 2050; integers and OIDs are minimal", (t) => {
  t.is(time(new Date(Date.UTC(2049, 11, 31, 23, 59, 59, 999))).toString("latin1", 2), "491231235959Z");
  t.is(time(new Date(Date.UTC(2049, 11, 31, 23, 59, 59)))[0], 0x17);
  t.is(time(new Date(Date.UTC(2050, 0, 1))).toString("latin1", 2), "20500101000000Z");
  t.is(time(new Date(Date.UTC(1949, 11, 31)))[0], 0x18);
  t.is(int(0).toString("hex"), "020100");
  t.is(int(128).toString("hex"), "02020080");
  t.is(int("0000ff").toString("hex"), "020200ff");
  t.is(int("7f").toString("hex"), "02017f");
  t.is(oid("1.2.840.113549.1.1.11").toString("hex"), "06092a864886f70d01010b");
  t.is(oid("2.999.3").toString("hex"), "0603883703");
  t.is(ipBytes("::ffff:1.2.3.4").toString("hex"), "00000000000000000000ffff01020304");
  t.is(ipBytes("1:2:3:4:5:6:7:8").toString("hex"), "00010002000300040005000600070008");
  t.is(ipBytes("fe80::1").toString("hex"), "fe800000000000000000000000000001");
  const big = Buffer.alloc(300, 1);
  const t300 = readTlv(Buffer.concat([Buffer.from([0x04, 0x82, 0x01, 0x2c]), big]));
  t.deepEqual([t300.valueStart, t300.end], [4, 304]);
});

// ---- property: random subjects, SANs and validities read back identically by @peculiar/x509 ----

const value = fc.string({ minLength: 1, maxLength: 40, unit: fc.oneof(fc.constantFrom(..."abcXYZ019 '()+,-./:=?\"\\#"), fc.constantFrom("é", "ß", "日本", "🙂")) });
const subject = fc.record({
  commonName: value, organization: fc.option(value, { nil: undefined }), organizationalUnit: fc.option(value, { nil: undefined }),
  country: fc.option(fc.constantFrom("US", "DE", "JP"), { nil: undefined }), locality: fc.option(value, { nil: undefined }), state: fc.option(value, { nil: undefined }),
});
const dns = fc.stringMatching(/^(\*\.)?[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z]{2,6}){1,2}$/);
const ip = fc.oneof(fc.ipV4(), fc.ipV6().map((s) => new URL(`http://[${s}]`).hostname.slice(1, -1)));
const sansArb = fc.record({
  domains: fc.uniqueArray(dns, { maxLength: 4 }), ips: fc.uniqueArray(ip, { maxLength: 4 }),
  uris: fc.uniqueArray(fc.webUrl(), { maxLength: 2 }), emails: fc.uniqueArray(fc.emailAddress(), { maxLength: 2 }),
});
const instant = fc.integer({ min: Date.UTC(1950, 0, 1) / 1000, max: Date.UTC(9960, 11, 31) / 1000 }).map((s) => new Date(s * 1000));
const ATTR = { country: "C", state: "ST", locality: "L", organization: "O", organizationalUnit: "OU", commonName: "CN" };

test("property: random subjects, SANs and validities: @peculiar/x509 parses back exactly what the fast path wrote", async (t) => {
  t.timeout(120_000);
  const caKeys = await generateKeyPair();
  const keys = await generateKeyPair();
  const ca = new x509.X509Certificate(new Uint8Array(createRootCertificateDer({ subject: { commonName: "prop CA" }, keys: caKeys, notBefore: new Date(Date.UTC(1950, 0, 1)), notAfter: new Date(Date.UTC(9999, 11, 31)) })));
  await fc.assert(fc.asyncProperty(subject, sansArb, instant, fc.integer({ min: 1, max: 86400 * 365 * 30 }), fc.bigInt({ min: 1n, max: (1n << 159n) - 1n }),
    async (s, sans, notBefore, secs, serial) => {
      const notAfter = new Date(notBefore.getTime() + secs * 1000);
      const der = issueCertificateDer({ subject: s, publicKey: keys.publicKey, sans, issuerCert: ca, issuerKeys: caKeys, serial: serial.toString(16), notBefore, notAfter, profile: { kind: "leaf" } });
      const c = new x509.X509Certificate(new Uint8Array(der));
      const want = Object.entries(ATTR).filter(([k]) => s[k] !== undefined).map(([k, a]) => ({ [a]: [s[k]] }));
      t.deepEqual(c.subjectName.toJSON(), want);
      t.deepEqual(c.issuerName.toJSON(), [{ CN: ["prop CA"] }]);
      t.is(c.notBefore.getTime(), notBefore.getTime());
      t.is(c.notAfter.getTime(), notAfter.getTime());
      t.is(BigInt(`0x${c.serialNumber}`), serial);
      t.deepEqual(sansOf(c), { domains: sans.domains, ips: sans.ips, ...(sans.uris.length ? { uris: sans.uris } : {}), ...(sans.emails.length ? { emails: sans.emails } : {}) });
      t.true(await c.verify({ publicKey: ca.publicKey, signatureOnly: true }));
      // Where @peculiar/x509's own Name encoder does not reinterpret the text (quotes, backslashes, '#'), the bytes agree.
      if (!Object.values(s).some((v) => v && /["\\#]/.test(v))) {
        t.deepEqual(nameDer(s), Buffer.from(new x509.Name(want).toArrayBuffer()));
      }
    }), { numRuns: 150 });
});
