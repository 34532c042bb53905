// `pki inspect` of a damaged file says so in one line of its own, never a parser's message
// ("Unsupported format of 'raw' argument", "error:1E08010C:DECODER routines::unsupported", "ASN1 schema").
import test from "ava";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pki, snapshot, tempDir } from "./_helpers.js";

const LIBRARY = /Unsupported format|'raw' argument|error:[0-9A-F]{8}|routines|ASN1 schema|buffer|offset|Base4Url/i;
const LABELS = ["CERTIFICATE", "X509 CRL", "CERTIFICATE REQUEST", "PUBLIC KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY",
  "EC PRIVATE KEY", "RSA PRIVATE KEY"];

test("inspect: a PEM block whose body is not what its label says gets one line of pki's own", async (t) => {
  const dir = tempDir(t);
  const files = [];
  for (const [i, label] of LABELS.entries())
    for (const [j, body] of ["AAAA", "MAA=", "MA==", ""].entries()) {
      const f = `b${i}-${j}.pem`;
      writeFileSync(join(dir, f), `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`);
      files.push([f, label]);
    }
  // A damaged PKCS#12 (the version 3 a PFX starts with, then junk).
  writeFileSync(join(dir, "junk.p12"), Buffer.from("3082001002010330820008deadbeefdeadbeef", "hex"));
  files.push(["junk.p12", "PKCS#12"]);
  const before = snapshot(dir);
  for (const [f, label] of files) {
    const r = await pki(dir, ["inspect", f], { env: { PKI_P12_PASSWORD: "pw" } });
    t.is(r.code, 1, `${label}: ${r.stderr}`);
    t.regex(r.stderr, /^pki: [^\n]+\n$/, label);
    t.notRegex(r.stderr, LIBRARY, `${label}: ${r.stderr}`);
  }
  t.deepEqual(snapshot(dir), before);
});
