// `pki issue` runs without @peculiar/x509 (lib/x509/issuance.ts, certinfo.ts): what it records and reads must be
// exactly what the @peculiar/x509 path gives. Random subjects: subjectText = the Name text of the CSR as
// @peculiar/x509 parses it (index.json keeps that text and sign compares against it). Random certificates:
// CertInfo's fields = @peculiar/x509's.
import test from "ava";
import fc from "fast-check";
import { createCsrDer, createRootCertificateDer, issueCertificateDer, subjectText } from "../dist/lib/x509/issuance.js";
import { CertInfo } from "../dist/lib/x509/certinfo.js";
import { generateKeyPair } from "../dist/lib/x509/keys.js";
import { x509 } from "../dist/lib/x509/peculiar.js";

// Any Unicode, and the characters RFC 4514 escapes, at either end too.
const value = fc.oneof(
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }),
  fc.string({ unit: fc.constantFrom(..."ab ,+\"\\<>;#=\r\n\t"), minLength: 1, maxLength: 8 }),
).filter((v) => v.trim() !== "" || v.length > 0);
const subject = fc.record(
  { commonName: value, organization: value, organizationalUnit: value, country: fc.constantFrom("DE", "US", "NL"),
    locality: value, state: value },
  { requiredKeys: ["commonName"] },
);

test("subjectText is the subject text @peculiar/x509 reads back from the CSR", async (t) => {
  const keys = await generateKeyPair();
  await fc.assert(fc.asyncProperty(subject, async (s) => {
    const csr = new x509.Pkcs10CertificateRequest(createCsrDer(s, { ips: [], domains: [] }, keys));
    t.is(subjectText(s), csr.subject, JSON.stringify(s));
  }), { numRuns: 400 });
});

test("CertInfo reads serial, validity, key, basicConstraints and PEM as @peculiar/x509 does", async (t) => {
  const caKeys = await generateKeyPair();
  const leafKeys = await generateKeyPair({ type: "rsa", bits: 2048 });
  const arb = fc.record({
    from: fc.date({ min: new Date("1950-01-01T00:00:00Z"), max: new Date("9000-01-01T00:00:00Z"), noInvalidDate: true }),
    days: fc.integer({ min: 1, max: 400_000 }),
    pathLength: fc.option(fc.nat(20), { nil: undefined }),
    serial: fc.bigInt(1n, (1n << 159n) - 1n),
    ca: fc.boolean(),
  });
  await fc.assert(fc.asyncProperty(arb, async (o) => {
    const notBefore = new Date(Math.floor(o.from.getTime() / 1000) * 1000);
    const notAfter = new Date(Math.min(notBefore.getTime() + o.days * 86_400_000, Date.UTC(9999, 11, 31)));
    const serial = o.serial.toString(16).padStart(2, "0");
    const rootDer = createRootCertificateDer({ subject: { commonName: "CA" }, keys: caKeys, notBefore, notAfter,
      pathLength: o.pathLength, serial: serial.length % 2 ? `0${serial}` : serial });
    const root = new x509.X509Certificate(rootDer);
    const leafDer = issueCertificateDer({ subject: { commonName: "leaf" }, publicKey: leafKeys.publicKey,
      issuerCert: new CertInfo(rootDer), issuerKeys: caKeys, notBefore, notAfter,
      profile: o.ca ? { kind: "ca", pathLength: o.pathLength } : { kind: "leaf" } });
    for (const [der, cert] of [[rootDer, root], [leafDer, new x509.X509Certificate(leafDer)]]) {
      const info = new CertInfo(der);
      t.is(info.serialNumber, cert.serialNumber);
      t.is(info.notBefore.getTime(), cert.notBefore.getTime());
      t.is(info.notAfter.getTime(), cert.notAfter.getTime());
      t.deepEqual(Buffer.from(info.publicKey.rawData), Buffer.from(cert.publicKey.rawData));
      t.deepEqual(Buffer.from(info.subjectDer), Buffer.from(cert.subjectName.toArrayBuffer()));
      t.is(info.toString("pem"), cert.toString("pem"));
      const bc = cert.getExtension(x509.BasicConstraintsExtension);
      t.deepEqual(info.basicConstraints, bc ? { ca: bc.ca, pathLength: bc.pathLength } : undefined);
    }
    // The AKI of the leaf names the root's SKI, through CertInfo as through @peculiar/x509.
    const aki = new x509.X509Certificate(leafDer).getExtension(x509.AuthorityKeyIdentifierExtension);
    t.is(aki.keyId, root.getExtension(x509.SubjectKeyIdentifierExtension).keyId);
  }), { numRuns: 150 });
});

test("CertInfo refuses what is not one certificate", (t) => {
  for (const bad of [Buffer.alloc(0), Buffer.from([0x30, 0x00]), Buffer.from([0x30, 0x82, 0xff, 0xff, 0x00]),
    Buffer.from("not DER at all")]) {
    t.throws(() => new CertInfo(bad), undefined, bad.toString("hex"));
  }
});

test("csrView reads subject, SANs, key and signature as @peculiar/x509 does, or leaves the request to it", async (t) => {
  const { csrView } = await import("../dist/lib/x509/csrinfo.js");
  const { sansOf } = await import("../dist/lib/x509/cert.js");
  const keys = {
    ecdsa: await generateKeyPair(), p384: await generateKeyPair({ type: "ecdsa", curve: "P-384" }),
    rsa: await generateKeyPair({ type: "rsa", bits: 2048 }), ed25519: await generateKeyPair({ type: "ed25519" }),
  };
  const ipv6 = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((g) => g.map((x) => x.toString(16)).join(":"));
  const arb = fc.record({
    s: subject, key: fc.constantFrom(...Object.keys(keys)), flip: fc.boolean(),
    sans: fc.record({
      ips: fc.array(fc.oneof(fc.ipV4(), ipv6), { maxLength: 3 }), domains: fc.array(fc.domain(), { maxLength: 3 }),
      uris: fc.array(fc.webUrl(), { maxLength: 2 }), emails: fc.array(fc.emailAddress(), { maxLength: 2 }),
    }),
  });
  await fc.assert(fc.asyncProperty(arb, async ({ s, key, flip, sans }) => {
    const der = Buffer.from(createCsrDer(s, sans, keys[key]));
    if (flip) der[der.length - 3] ^= 1; // inside the signature
    const want = new x509.Pkcs10CertificateRequest(der);
    const got = csrView(der);
    t.truthy(got, "pki's own requests are read without @peculiar/x509");
    t.is(got.subject, want.subject);
    t.deepEqual(Buffer.from(got.subjectDer), Buffer.from(want.subjectName.toArrayBuffer()));
    t.deepEqual(Buffer.from(got.publicKey.rawData), Buffer.from(want.publicKey.rawData));
    t.is(got.verified, await want.verify());
    t.is(got.verified, !flip);
    const norm = (x) => [x.ips.map((i) => new URL(`http://${i.includes(":") ? `[${i}]` : i}`).hostname), x.domains, x.uris ?? [], x.emails ?? []];
    t.deepEqual(norm(got.sans), norm(sansOf(want)));
  }), { numRuns: 200 });
});

test("csrView leaves other requests to @peculiar/x509: openssl's with other attributes and string types", async (t) => {
  const { csrView } = await import("../dist/lib/x509/csrinfo.js");
  const { execFileSync } = await import("node:child_process");
  const conf = "[req]\ndistinguished_name=dn\nattributes=at\nprompt=no\nstring_mask=nombstr\n[dn]\nCN=x\n[at]\nchallengePassword=secret\n";
  const { writeFileSync, mkdtempSync } = await import("node:fs");
  const dir = mkdtempSync("/tmp/pki-csrinfo-");
  writeFileSync(`${dir}/req.cnf`, conf);
  const pem = execFileSync("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", `${dir}/k.pem`, "-config", `${dir}/req.cnf`], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ""), "base64");
  t.is(csrView(der), undefined, "a challengePassword attribute: not pki's form");
  t.truthy(await new x509.Pkcs10CertificateRequest(der).verify(), "@peculiar/x509 reads it");
});

test("createCrlDer: openssl verifies the CRL, reads its number, serials and reasons, and re-encodes the same DER", async (t) => {
  const { createCrlDer } = await import("../dist/lib/x509/crl-der.js");
  const { toPem } = await import("../dist/lib/x509/pem.js");
  const { execFileSync, spawnSync } = await import("node:child_process");
  const { mkdtempSync, writeFileSync } = await import("node:fs");
  const dir = mkdtempSync("/tmp/pki-crlder-");
  const keys = await generateKeyPair();
  const rootDer = createRootCertificateDer({ subject: { commonName: "CRL CA", organization: "pki" }, keys,
    notAfter: new Date(Date.now() + 86_400_000 * 365) });
  writeFileSync(`${dir}/ca.pem`, toPem("CERTIFICATE", rootDer));
  const reasons = [undefined, "unspecified", "keyCompromise", "cACompromise", "superseded", "aACompromise"];
  const shown = { keyCompromise: "Key Compromise", cACompromise: "CA Compromise", superseded: "Superseded",
    aACompromise: "AA Compromise" };
  for (const n of [0, 1, 3, 6]) {
    const revoked = Array.from({ length: n }, (_, i) => ({
      serial: `${(0x40 + i).toString(16)}0102030405060708090a0b0c0d0e0f`, date: new Date(Date.UTC(2026, 0, 1 + i)),
      reason: reasons[i % reasons.length],
    }));
    const der = Buffer.from(createCrlDer({ issuerCert: new CertInfo(rootDer), issuerKeys: keys, revoked,
      crlNumber: 7 + n, thisUpdate: new Date(Date.UTC(2026, 5, 1)), nextUpdate: new Date(Date.UTC(2026, 6, 1)) }));
    writeFileSync(`${dir}/c.der`, der);
    const openssl = (...a) => execFileSync("openssl", ["crl", "-inform", "DER", "-in", `${dir}/c.der`, ...a],
      { encoding: "latin1", stdio: ["ignore", "pipe", "pipe"] });
    const verify = (file) => spawnSync("openssl", ["crl", "-inform", "DER", "-in", file, "-CAfile", `${dir}/ca.pem`,
      "-noout", "-verify"], { encoding: "utf8" });
    const ok = verify(`${dir}/c.der`);
    t.is(ok.status, 0, ok.stderr);
    t.regex(ok.stderr, /verify OK/);
    const bad = Buffer.from(der);
    bad[bad.length - 5] ^= 1; // inside the signature
    writeFileSync(`${dir}/bad.der`, bad);
    t.notRegex(verify(`${dir}/bad.der`).stderr, /verify OK/, "a tampered signature fails openssl's verify");
    const text = openssl("-noout", "-text");
    t.regex(text, new RegExp(`CRL Number: *\\n *${7 + n}\\b`), `${n} revoked: the CRL number`);
    t.regex(text, /Authority Key Identifier/);
    for (const r of revoked) {
      const entry = text.split("Serial Number: ").find((e) => e.toLowerCase().startsWith(r.serial));
      t.truthy(entry, `serial ${r.serial} listed`);
      if (shown[r.reason]) t.regex(entry, new RegExp(`Reason Code:\\s*\\n\\s*${shown[r.reason]}`));
      else t.notRegex(entry, /CRL entry extensions/, "no reason: no (empty) entry extensions");
    }
    t.is(Buffer.from(openssl("-outform", "DER"), "latin1").toString("hex"), der.toString("hex"), "strict DER");
  }
});
