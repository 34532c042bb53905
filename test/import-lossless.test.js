// Lossless import: a certstrap out/ with go.step.sm/crypto-encrypted EC/Ed25519 keys (the `00 00` PRF quirk),
// a CRL, a certificate without key, URI SANs, several roots and huge serials; an etcd-ca depot whose keys
// were encrypted with an empty passphrase. The sources are built with openssl and node crypto.
import test from "ava";
import { createCipheriv, createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openssl, PASS, pki, pkiOk, snapshot, tempDir, untar } from "./_helpers.js";
import { depotFile, depotFormat, entries, readDepot } from "./_state.js";
import { sh } from "./_lifecycle.js";

async function shell(t, dir, lines) {
  for (const cmd of lines) {
    const r = await sh(dir, cmd);
    if (r.code !== 0) t.fail(`${cmd}: ${r.stderr}`);
  }
}

const pem = (label, der) => `-----BEGIN ${label}-----\n${der.toString("base64").match(/.{1,64}/g).join("\n")}\n-----END ${label}-----\n`;

/**
 * A key as go.step.sm/crypto encrypts it: PKCS#8 PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) whose PRF
 * AlgorithmIdentifier carries `00 00` where the NULL `05 00` belongs. Writes the plain key beside it for openssl.
 */
function stepKey(dir, name, type, pass) {
  const { privateKey } = type === "ec" ? generateKeyPairSync("ec", { namedCurve: "P-256" }) : generateKeyPairSync("ed25519");
  const der = Buffer.from(privateKey.export({ type: "pkcs8", format: "der", cipher: "aes-256-cbc", passphrase: pass }));
  const prf = Buffer.from("300c06082a864886f70d02090500", "hex");
  const at = der.indexOf(prf);
  if (at < 0) throw new Error("no hmacWithSHA256 PRF in node's encrypted PKCS#8");
  der[at + 12] = 0x00; // 05 00 -> 00 00
  writeFileSync(join(dir, `${name}.key`), pem("ENCRYPTED PRIVATE KEY", der));
  writeFileSync(join(dir, "..", `${name}.plain`), privateKey.export({ type: "pkcs8", format: "pem" }));
}

test("import --from certstrap: step-encrypted EC and Ed25519 keys, CRL revocations, a cert without key, URI SANs, --ca among several roots", async (t) => {
  const base = tempDir(t, "certstrap-");
  const src = join(base, "out");
  mkdirSync(src);
  stepKey(src, "CertAuth", "ec", PASS);
  stepKey(src, "web", "ed25519", PASS);
  const broken = await openssl(["pkey", "-in", join(src, "CertAuth.key"), "-passin", `pass:${PASS}`, "-noout"]);
  t.not(broken.code, 0, "openssl itself refuses the malformed PRF parameters");
  const named = await pkiOk(t, base, ["inspect", "--passphrase", PASS, join(src, "CertAuth.key")]);
  t.regex(named.out, /Key: +ECDSA P-256\n[\s\S]*Note: +written by go\.step\.sm\/crypto: PBKDF2 PRF parameters are 00 00 instead of NULL/);
  writeFileSync(join(base, "web.cnf"), "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:web.example,URI:spiffe://example.org/ns/web\n");
  writeFileSync(join(base, "leaf.cnf"), "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=clientAuth\n");
  writeFileSync(join(base, "ca.cnf"), "[ca]\ndefault_ca=d\n[d]\ndatabase=../index.txt\ncrlnumber=../crlnumber\ndefault_md=sha256\ndefault_crl_days=30\n");
  writeFileSync(join(base, "index.txt"), "");
  writeFileSync(join(base, "crlnumber"), "1000\n");
  const big = "fedcba9876543210fedcba9876543210"; // >= 2^127, as certstrap's random serials often are
  await shell(t, src, [
    "openssl req -x509 -new -key ../CertAuth.plain -subj /CN=CertAuth -days 3650 -set_serial 1 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -out CertAuth.crt",
    "openssl req -new -key ../web.plain -subj /CN=web -out web.csr",
    `openssl x509 -req -in web.csr -CA CertAuth.crt -CAkey ../CertAuth.plain -set_serial 0x${big} -days 90 -extfile ../web.cnf -out web.crt`,
    "openssl ecparam -name prime256v1 -genkey -noout -out old.key",
    "openssl req -new -key old.key -subj /CN=old -out old.csr",
    "openssl x509 -req -in old.csr -CA CertAuth.crt -CAkey ../CertAuth.plain -set_serial 0x0b1d -days 90 -extfile ../leaf.cnf -out old.crt",
    // A certificate whose key was never in out/ (certstrap sign of a CSR made elsewhere).
    "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ../extern.plain -subj /CN=extern -out ../extern.csr",
    "openssl x509 -req -in ../extern.csr -CA CertAuth.crt -CAkey ../CertAuth.plain -set_serial 0x0e7e -days 90 -extfile ../leaf.cnf -out extern.crt",
    "openssl ca -config ../ca.cnf -revoke old.crt -keyfile ../CertAuth.plain -cert CertAuth.crt -crl_reason keyCompromise",
    "openssl ca -config ../ca.cnf -gencrl -keyfile ../CertAuth.plain -cert CertAuth.crt -out CertAuth.crl",
    // A second root and its leaf.
    "openssl ecparam -name prime256v1 -genkey -noout -out Other.key",
    "openssl req -x509 -new -key Other.key -subj /CN=Other -days 3650 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -out Other.crt",
    "openssl ecparam -name prime256v1 -genkey -noout -out otherleaf.key",
    "openssl req -new -key otherleaf.key -subj /CN=otherleaf -out otherleaf.csr",
    "openssl x509 -req -in otherleaf.csr -CA Other.crt -CAkey Other.key -days 90 -extfile ../leaf.cnf -out otherleaf.crt",
  ]);
  const original = snapshot(src);
  const dir = tempDir(t);
  writeFileSync(join(dir, "pass"), PASS + "\n");

  const several = await pki(dir, ["import", "--from", "certstrap", src, "--passphrase-file", "pass"]);
  t.is(several.code, 1);
  t.regex(several.stderr, /^pki: .*holds several CAs: CertAuth, Other: pick one with --ca NAME\n$/);
  const r = await pkiOk(t, dir, ["import", "--from", "certstrap", src, "--ca", "CertAuth", "--passphrase-file", "pass"]);
  t.deepEqual(snapshot(src), original, "the source is only read");
  t.regex(r.stderr, /Imported 4 entries .*: ca, extern \(external key\), old, web\n/);
  t.regex(r.stderr, /Revoked, as the source's CRLs say: old\n/);
  t.regex(r.stderr, /Not imported:\n(\s+.*\n)*\s+Other\.crt: not issued by CertAuth/);
  t.regex(r.stderr, /otherleaf\.crt: not issued by CertAuth/);

  const depot = join(dir, ".pki");
  for (const k of ["ca.key", "certs/web.key", "certs/old.key"]) {
    t.is((await openssl(["pkey", "-in", await depotFile(dir, k), "-passin", `pass:${PASS}`, "-noout"])).code, 0, k);
  }
  const idx = { entries: await entries(dir), crlNumbers: { ca: (await readDepot(dir, (tx) => tx.crl("ca")))?.number } };
  t.is(idx.entries.ca.alias, "CertAuth", "the root's own name is kept");
  t.is(idx.entries.ca.subject, "CN=CertAuth");
  t.deepEqual(idx.entries.web.sans, { ips: [], domains: ["web.example"], uris: ["spiffe://example.org/ns/web"] });
  t.is(idx.entries.web.keyType, "Ed25519");
  t.is(idx.entries.old.status, "revoked");
  t.is(idx.entries.old.revoked.reason, "keyCompromise");
  t.true(idx.entries.extern.external);
  t.is(idx.crlNumbers.ca, 0x1000);

  // The first pki CRL keeps old revoked, and numbers on from certstrap's.
  await pkiOk(t, dir, ["crl", "--passphrase-file", "pass"]);
  const crl = (await openssl(["crl", "-in", await depotFile(dir, "ca.crl"), "-noout", "-text"])).out;
  t.regex(crl, /Serial Number: 0B1D\s+Revocation Date: [^\n]+\n\s+CRL entry extensions:\s+X509v3 CRL Reason Code:\s+Key Compromise/);
  t.regex(crl, /X509v3 CRL Number:\s+4097/);

  // Renew keeps the URI SAN; new serials are random 127-bit values even after a serial >= 2^127.
  await pkiOk(t, dir, ["renew", "--passphrase-file", "pass", "web"]);
  t.regex((await openssl(["x509", "-in", await depotFile(dir, "certs/web.crt"), "-noout", "-ext", "subjectAltName"])).out, /DNS:web\.example, URI:spiffe:\/\/example\.org\/ns\/web/);
  await pkiOk(t, dir, ["new-cert", "--passphrase-file", "pass", "fresh"]);
  await pkiOk(t, dir, ["sign", "--passphrase-file", "pass", "fresh"]);
  const after = await entries(dir);
  for (const n of ["web", "fresh"]) {
    t.regex(after[n].serial, /^[4-7][0-9a-f]{31}$/, `${n}: a random 127-bit serial, no leading 00`);
    t.true(await readDepot(dir, (tx) => tx.hasSerial(after[n].serial)), `${n}: its serial is reserved`);
  }
  if (depotFormat(dir) !== "db") { // depot.db: serials are its primary key
    const { serials } = JSON.parse(readFileSync(join(depot, "index.json"), "utf8"));
    for (const n of ["web", "fresh"]) t.is(serials.filter((x) => x === after[n].serial).length, 1);
  }
  const v = await openssl(["verify", "-x509_strict", "-CAfile", join(src, "CertAuth.crt"), await depotFile(dir, "certs/fresh.crt")]);
  t.is(v.code, 0, v.stderr + v.out);
  const d = await pki(dir, ["doctor"]);
  t.is(d.code, 0, d.stderr + d.out);

  // The external-key entry exports without a key and renews from a new request.
  const out = join(dir, "x");
  mkdirSync(out);
  t.notRegex(await untar(t, out, (await pkiOk(t, dir, ["export", "extern"])).stdout), /\.key/);
  await pkiOk(t, dir, ["renew", "--csr", join(base, "extern.csr"), "--passphrase-file", "pass", "extern"]);
});

/** EVP_BytesToKey(MD5, password, salt, 1): the legacy PEM key derivation Go's x509.EncryptPEMBlock uses. */
function bytesToKey(pass, salt, n) {
  let out = Buffer.alloc(0), prev = Buffer.alloc(0);
  while (out.length < n) { prev = createHash("md5").update(Buffer.concat([prev, Buffer.from(pass), salt])).digest(); out = Buffer.concat([out, prev]); }
  return out.subarray(0, n);
}

/** An RSA key as etcd-ca writes it after Enter at the passphrase prompt: PKCS#1, DES-EDE3-CBC, empty passphrase. */
function emptyPassKey(file, plainFile) {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const iv = randomBytes(8);
  const c = createCipheriv("des-ede3-cbc", bytesToKey("", iv, 24), iv);
  const enc = Buffer.concat([c.update(privateKey.export({ type: "pkcs1", format: "der" })), c.final()]);
  writeFileSync(file, `-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: DES-EDE3-CBC,${iv.toString("hex").toUpperCase()}\n\n${enc.toString("base64").match(/.{1,64}/g).join("\n")}\n-----END RSA PRIVATE KEY-----\n`);
  writeFileSync(plainFile, privateKey.export({ type: "pkcs8", format: "pem" }));
}

test("import --from etcd-ca: keys encrypted with an empty passphrase import with --source-passphrase-file; the new depot needs a real one", async (t) => {
  const base = tempDir(t, "etcd-ca-");
  const src = join(base, ".etcd-ca");
  mkdirSync(src);
  emptyPassKey(join(src, "ca.key"), join(base, "ca.plain"));
  emptyPassKey(join(src, "server1.host.key"), join(base, "server1.plain"));
  writeFileSync(join(base, "ext.cnf"), "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1\n");
  await shell(t, src, [
    "openssl req -x509 -new -key ../ca.plain -subj /O=etcd-ca/OU=CA/CN=CA -set_serial 1 -days 3650 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -out ca.crt",
    "openssl req -new -key ../server1.plain -subj /CN=server1 -out server1.host.csr",
    "openssl x509 -req -in server1.host.csr -CA ca.crt -CAkey ../ca.plain -set_serial 2 -days 365 -extfile ../ext.cnf -out server1.host.crt",
    "printf 2 > ca.crt.info",
  ]);
  t.is((await openssl(["rsa", "-in", join(src, "ca.key"), "-passin", "pass:", "-check", "-noout"])).code, 0, "openssl reads the key with an empty passphrase");
  const dir = tempDir(t);
  writeFileSync(join(dir, "pass"), PASS + "\n");
  writeFileSync(join(dir, "empty"), "\n");
  const wrong = await pki(dir, ["import", "--from", "etcd-ca", src, "--passphrase-file", "pass"]);
  t.regex(wrong.stderr, /^pki: .*ca\.key: wrong passphrase \(the key is encrypted\)\n$/);
  const emptyNew = await pki(dir, ["import", "--from", "etcd-ca", src, "--source-passphrase-file", "empty", "--passphrase-file", "empty"]);
  t.is(emptyNew.code, 2);
  t.regex(emptyNew.stderr, /^pki: an empty passphrase cannot protect/);
  const r = await pkiOk(t, dir, ["import", "--from", "etcd-ca", src, "--source-passphrase-file", "empty", "--passphrase-file", "pass"]);
  t.regex(r.stderr, /Imported 2 entries .*: ca, server1\n$/);
  for (const k of ["ca.key", "certs/server1.key"]) {
    t.is((await openssl(["pkey", "-in", await depotFile(dir, k), "-passin", `pass:${PASS}`, "-noout"])).code, 0, k);
  }
  await pkiOk(t, dir, ["renew", "--passphrase-file", "pass", "server1"]);
  const v = await openssl(["verify", "-x509_strict", "-CAfile", join(src, "ca.crt"), await depotFile(dir, "certs/server1.crt")]);
  t.is(v.code, 0, v.stderr + v.out);
});
