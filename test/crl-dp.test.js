// lib/x509/crl-dp.ts: the CRL Distribution Points extension (RFC 5280 §4.2.1.13) pki writes, as openssl reads it
// and byte for byte as openssl itself encodes `crlDistributionPoints=URI:...`; the URLs it refuses.
import test from "ava";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { crlDistributionPoints, crlUrlPath, crlUrlProblem } from "../dist/lib/x509/crl-dp.js";
import { createRootCertificateDer } from "../dist/lib/x509/issuance.js";
import { generateKeyDer, keyPairOf } from "../dist/lib/x509/keys.js";
import { openssl, tempDir } from "./_helpers.js";

const URL_ = "http://127.0.0.1:8080/crl/ca.crl?v=1";

test("openssl reads the extension as one full-name URI, encoded exactly as openssl encodes it", async (t) => {
  const dir = tempDir(t);
  const ext = crlDistributionPoints(URL_);
  t.is(ext.oid, "2.5.29.31");
  t.false(ext.critical);
  const keys = await keyPairOf(await generateKeyDer({ type: "ecdsa", curve: "P-256" }));
  const der = createRootCertificateDer({
    subject: { commonName: "CDP test" }, keys, notAfter: new Date(Date.now() + 86400e3), extensions: [ext],
  });
  writeFileSync(join(dir, "ours.der"), der);
  const text = await openssl(["x509", "-inform", "DER", "-in", join(dir, "ours.der"), "-noout", "-text"]);
  t.is(text.code, 0, text.stderr);
  const uri = /X509v3 CRL Distribution Points: *\n +Full Name:\n +URI:(\S+)\n/.exec(text.out);
  t.is(uri?.[1], URL_);
  const theirs = await openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", join(dir, "k.pem"), "-subj", "/CN=x", "-addext", `crlDistributionPoints=URI:${URL_}`,
    "-outform", "DER", "-out", join(dir, "theirs.der")]);
  t.is(theirs.code, 0, theirs.stderr);
  const value = Buffer.from(ext.value);
  t.true(readFileSync(join(dir, "theirs.der")).includes(Buffer.concat([Buffer.from([0x04, value.length]), value])),
    "openssl's certificate holds the same extension value");
});

test("only http:// URLs a certificate can carry are accepted", (t) => {
  t.is(crlUrlProblem("http://ca.example/root.crl"), undefined);
  t.is(crlUrlProblem("HTTP://ca.example:8080/x"), undefined);
  t.regex(crlUrlProblem("https://ca.example/root.crl"), /must be an http:\/\/ URL/);
  t.regex(crlUrlProblem("ldap://ca.example/cn=x"), /must be an http:\/\/ URL/);
  t.regex(crlUrlProblem("ca.example/root.crl"), /is not a URL/);
  t.regex(crlUrlProblem("http://user:pw@ca.example/x"), /user name or password/);
  t.regex(crlUrlProblem("http://ca.example/x#y"), /fragment/);
  t.regex(crlUrlProblem("http://ca.example/a b"), /printable ASCII/);
  t.regex(crlUrlProblem("http://ca.example/é"), /printable ASCII/);
  t.regex(crlUrlProblem(`http://ca.example/${"x".repeat(1100)}`), /1 to 1024 characters/);
  t.regex(crlUrlProblem(""), /1 to 1024/);
  t.throws(() => crlDistributionPoints("https://x/"), { message: /http:\/\// });
  t.is(crlUrlPath("http://ca.example:81/crl/a.crl?x=1"), "/crl/a.crl?x=1");
});
