// Dates at and past the bounds X.509 can carry, and a strict DER check (openssl asn1parse -strictpem, no empty
// SEQUENCE, the right time type, openssl's re-encoding byte-equal) of the certificates and CRLs pki makes.
import test from "ava";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pkiOk, run, tempDir } from "./_helpers.js";
import { cheapDepot, env } from "./_stress.js";
import { LONG, refused } from "./_tamper.js";
import { artefacts, blobFile } from "./_depot-read.js";

const OUTSIDE = /is outside the dates a certificate can carry \(1950-01-01T00:00:00Z to 9999-12-31T23:59:59Z\)$/;

/** Strict DER: openssl parses it strictly, no empty SEQUENCE, UTCTime up to 2049 and GeneralizedTime from 2050,
 *  and openssl's re-encoding of the whole structure equals the bytes. */
async function strictDer(t, file, kind) {
  const pem = readFileSync(file, "utf8");
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s+/g, ""), "base64");
  const asn = await run("openssl", ["asn1parse", "-strictpem", "-in", file]);
  t.is(asn.code, 0, `${file}: ${asn.stderr}`);
  t.notRegex(asn.out, /l=\s+0 cons: SEQUENCE/, `${file}: an empty SEQUENCE`);
  for (const m of asn.out.matchAll(/(UTCTIME|GENERALIZEDTIME)\s+:(\d+)Z/g)) {
    const year = m[1] === "UTCTIME" ? (Number(m[2].slice(0, 2)) >= 50 ? 1900 : 2000) + Number(m[2].slice(0, 2)) : Number(m[2].slice(0, 4));
    t.is(m[1], year < 2050 ? "UTCTIME" : "GENERALIZEDTIME", `${file}: ${m[0]}`);
  }
  const re = await run("openssl", [kind, "-in", file, "-outform", "DER"]);
  t.is(re.code, 0, re.stderr);
  t.true(re.stdout.equals(der), `${file}: openssl re-encodes it differently`);
}

/** Every certificate (current and past) and CRL the depot in DIR holds, written to files under OUT: [path, kind]. */
async function depotFiles(dir, out) {
  mkdirSync(out, { recursive: true });
  return (await artefacts(join(dir, ".pki"))).map(({ id, kind, pem }) => {
    const p = join(out, `${id}.${kind === "crl" ? "crl" : "crt"}`);
    writeFileSync(p, pem);
    return [p, kind];
  });
}

test("notBefore, notAfter and nextUpdate: at each bound accepted and encoded right, past it refused before anything is written", async (t) => {
  t.timeout(LONG);
  const dir = await cheapDepot(t);
  // The upper bound on the root itself (a root is not clamped): GeneralizedTime 99991231235959Z.
  await refused(t, dir, ["init", "--intermediate", "sub", "--expires", "10000 years"], OUTSIDE);
  await pkiOk(t, dir, ["new-cert", "web"], { env });
  await refused(t, dir, ["sign", "--not-before=1949-12-31", "web"], OUTSIDE);
  await refused(t, dir, ["sign", "--not-before=1949-12-31T23:59:59Z", "web"], OUTSIDE);
  await refused(t, dir, ["sign", "--expires", "10000 years", "web"], OUTSIDE);
  await refused(t, dir, ["sign", "--not-before=-100y", "web"], /^pki: notBefore 19\d\d-.* is outside the dates/);
  await refused(t, dir, ["crl", "--next-update", "10000 years"], OUTSIDE);
  await pkiOk(t, dir, ["sign", "--not-before=1950-01-01", "web"], { env });
  const web = await blobFile(join(dir, ".pki"), "web", join(dir, "web.crt"));
  const text = (await run("openssl", ["asn1parse", "-in", web])).out;
  t.regex(text, /UTCTIME\s+:500101000000Z/, "1950-01-01 is UTCTime 50...");
  await pkiOk(t, dir, ["crl", "--next-update", "9999-12-31T23:59:59Z"], { env });
  const crl = join(dir, "ca.crl");
  writeFileSync(crl, (await artefacts(join(dir, ".pki"))).find((a) => a.id === "ca.crl").pem);
  t.regex((await run("openssl", ["asn1parse", "-in", crl])).out, /GENERALIZEDTIME\s+:99991231235959Z/);
  const fresh = tempDir(t);
  await refused(t, fresh, ["init", "--expires", "10000 years"], OUTSIDE);
  t.deepEqual(readdirSync(fresh), [], "init wrote nothing");
});

test("a root valid to 9999-12-31T23:59:59Z; every certificate and CRL pki makes is strict DER", async (t) => {
  t.timeout(LONG);
  const dir = await cheapDepot(t);
  const far = tempDir(t);
  await pkiOk(t, far, ["init", "--expires", "9999-12-31T23:59:59Z"], { env });
  const farCa = await blobFile(join(far, ".pki"), "ca", join(far, "ca.crt"));
  t.regex((await run("openssl", ["asn1parse", "-in", farCa])).out, /GENERALIZEDTIME\s+:99991231235959Z/);
  await pkiOk(t, far, ["new-cert", "--domain", "far.example", "far"], { env });
  await pkiOk(t, far, ["sign", "--expires", "2100-01-01", "far"], { env });
  // A mix: intermediate, each key type, renewals, revocations with and without a reason, CRLs of both CAs.
  await pkiOk(t, dir, ["init", "--intermediate", "sub"], { env });
  for (const [n, args] of [["ec", []], ["rsa", ["--key-type", "rsa"]], ["ed", ["--key-type", "ed25519"]], ["p384", ["--curve", "P-384"]], ["leaf2", ["--issuer", "sub"]]]) {
    await pkiOk(t, dir, ["new-cert", "--domain", `${n}.example`, "--ip", "192.0.2.1,::1", ...args, n], { env });
    await pkiOk(t, dir, ["sign", n], { env });
  }
  await pkiOk(t, dir, ["renew", "ec"], { env });
  await pkiOk(t, dir, ["revoke", "rsa"], { env });
  await pkiOk(t, dir, ["revoke", "--reason", "keyCompromise", "ed"], { env });
  await pkiOk(t, dir, ["revoke", "leaf2"], { env });
  await pkiOk(t, dir, ["crl"], { env });
  await pkiOk(t, dir, ["crl", "--issuer", "sub"], { env });
  await pkiOk(t, far, ["revoke", "far"], { env });
  await pkiOk(t, far, ["crl"], { env });
  const files = [...await depotFiles(dir, join(dir, "out")), ...await depotFiles(far, join(far, "out"))];
  t.true(files.length >= 12, files.join(" "));
  for (const [f, kind] of files) await strictDer(t, f, kind);
});

test("the API path too: every certificate and CRL buildFixtures makes is strict DER, far dates included", async (t) => {
  t.timeout(LONG);
  const { buildFixtures } = await import("../dist/lib/index.js");
  const set = await buildFixtures({
    passphrase: "p",
    cas: [{ name: "root", notAfter: "9999-12-31T23:59:59Z" }, { name: "int", issuer: "root", key: "rsa-2048" }],
    certs: [{ name: "a", issuer: "int", outputs: ["pem", "crl"] }, { name: "b", issuer: "int", key: "ed25519" }, { name: "c", issuer: "root", notBefore: "1950-01-01T00:00:00Z", notAfter: "2050-01-01T00:00:00Z" }],
    revocations: [{ cert: "b" }, { cert: "c", reason: "keyCompromise" }],
  });
  const dir = tempDir(t);
  const files = [];
  for (const f of set.files) {
    if (!/\.(crt|crl)$/.test(f.name) || !/^-----BEGIN (CERTIFICATE|X509 CRL)-----\n[^-]+-----END [A-Z0-9 ]+-----\n$/.test(f.data)) continue;
    const p = join(dir, f.name.replace(/\//g, "_"));
    writeFileSync(p, f.data);
    files.push(p);
  }
  t.true(files.some((p) => p.endsWith(".crl")) && files.length >= 5, files.join(" "));
  for (const f of files) await strictDer(t, f, f.endsWith(".crl") ? "crl" : "x509");
});
