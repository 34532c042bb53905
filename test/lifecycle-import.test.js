// Migration: an etcd-ca depot and a certstrap out/ directory, both made by openssl alone, imported into pki.
import test from "ava";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { issue, openssl, PASS, pki, pkiOk, snapshot, tempDir, untar } from "./_helpers.js";
import { depotFile, depotFormat } from "./_state.js";
import { sh } from "./_lifecycle.js";
import { etcdCaDepot, HOST_PASS, shell } from "./_import.js";

test("import --from etcd-ca: legacy keys re-encrypted as PKCS#8, the old CA keeps signing, the original is only read", async (t) => {
  const src = await etcdCaDepot(t);
  const dir = tempDir(t);
  writeFileSync(join(dir, "pass"), PASS + "\n");
  writeFileSync(join(dir, "hostpass"), HOST_PASS + "\n");
  const original = snapshot(src);

  // Wrong host passphrase: one line naming the file, no depot created.
  const wrong = await pki(dir, ["import", "--from", "etcd-ca", src, "--passphrase-file", "pass"]);
  t.is(wrong.code, 1);
  t.regex(wrong.stderr, /^pki: \S+client1\.host\.key: wrong passphrase \(the key is encrypted\)\n$/);
  t.false(existsSync(join(dir, ".pki")), "nothing written on failure");

  const r = await pkiOk(t, dir, ["import", "--from", "etcd-ca", src, "--passphrase-file", "pass", "--host-passphrase-file", "hostpass"]);
  t.regex(r.stderr, /Imported 4 entries/);
  t.deepEqual(snapshot(src), original, "the etcd-ca depot is unchanged");

  const depot = join(dir, ".pki");
  for (const [key, pass] of [["ca.key", PASS], ["certs/server1.key", HOST_PASS], ["certs/pending.key", HOST_PASS]]) {
    const p = await depotFile(dir, key);
    t.regex(readFileSync(p, "utf8"), /^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/, key);
    const held = depotFormat(dir) === "db" ? join(depot, "depot.db") : join(depot, key); // what holds it on disk
    t.is((await sh(dir, `stat -c %a ${held}`)).out.trim(), "600");
    const dec = await openssl(["pkcs8", "-in", p, "-passin", `pass:${pass}`, "-nocrypt", "-topk8"]);
    t.is(dec.code, 0, dec.stderr);
  }
  // The re-encrypted key still belongs to the etcd-ca certificate.
  const caPub = (await openssl(["x509", "-in", join(src, "ca.crt"), "-noout", "-pubkey"])).out;
  t.is((await openssl(["pkey", "-in", await depotFile(dir, "ca.key"), "-passin", `pass:${PASS}`, "-pubout"])).out, caPub);
  t.is(readFileSync(await depotFile(dir, "ca.crt"), "utf8"), readFileSync(join(src, "ca.crt"), "utf8"));

  const list = JSON.parse((await pkiOk(t, dir, ["list", "--json"])).out);
  t.deepEqual(list.map((e) => [e.name, e.status]), [["ca", "valid"], ["client1", "valid"], ["pending", "unsigned"], ["server1", "valid"]]);
  const s1 = JSON.parse((await pkiOk(t, dir, ["status", "--json", "server1"])).out);
  t.is(s1.serial, "02");
  t.is(s1.usage, "peer");
  t.deepEqual(s1.sans.ips, ["127.0.0.1"]);

  // The imported CA signs new certificates (and the pending CSR) that verify against the *original* ca.crt.
  await issue(t, dir, "server2", ["--ip", "127.0.0.1"]);
  await pkiOk(t, dir, ["sign", "--passphrase-file", "pass", "pending"]);
  for (const n of ["server2", "pending"]) {
    const v = await openssl(["verify", "-CAfile", join(src, "ca.crt"), await depotFile(dir, `certs/${n}.crt`)]);
    t.is(v.code, 0, v.out + v.stderr);
  }
  const serial = JSON.parse((await pkiOk(t, dir, ["status", "--json", "server2"])).out).serial;
  t.true(BigInt(`0x${serial}`) > 3n, "new serials continue past the highest imported serial");
  t.false(["01", "02", "03"].includes(serial));
  // Imported certificates can be revoked and renewed like native ones.
  await pkiOk(t, dir, ["revoke", "--reason", "cessationOfOperation", "client1"]);
  const crl = await pkiOk(t, dir, ["crl", "--passphrase-file", "pass"]);
  writeFileSync(join(dir, "ca.crl"), crl.stdout);
  const rv = await openssl(["verify", "-crl_check", "-CRLfile", join(dir, "ca.crl"), "-CAfile", join(src, "ca.crt"), join(src, "client1.host.crt")]);
  t.regex(rv.out + rv.stderr, /certificate revoked/);
  await pkiOk(t, dir, ["renew", "--passphrase-file", "pass", "server1"]);
  t.is((await openssl(["verify", "-CAfile", join(src, "ca.crt"), await depotFile(dir, "certs/server1.crt")])).code, 0);
  const tar = await pkiOk(t, dir, ["export", "--insecure", "--passphrase-file", "hostpass", "server1"]);
  await untar(t, dir, tar.stdout);
  t.is((await openssl(["pkey", "-in", join(dir, "server1.key.insecure"), "-pubout"])).out, (await openssl(["x509", "-in", join(src, "server1.host.crt"), "-noout", "-pubkey"])).out);
  t.is((await pki(dir, ["status"])).code, 0);

  // Importing again into a depot with a CA is refused.
  const again = await pki(dir, ["import", "--from", "etcd-ca", src, "--passphrase-file", "pass"]);
  t.regex(again.stderr, /^pki: a CA already exists in/);
});

test("import --from certstrap: plain PKCS#1 and SEC1 keys get encrypted; an intermediate keeps its place in the chain", async (t) => {
  const src = join(tempDir(t, "certstrap-"), "out");
  mkdirSync(src);
  writeFileSync(join(src, "..", "leaf.cnf"), "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:db.internal\n");
  writeFileSync(join(src, "..", "ica.cnf"), "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n");
  await shell(t, src, [
    "openssl genrsa -traditional -out CertAuth.key 2048",
    "openssl req -x509 -new -key CertAuth.key -subj /CN=CertAuth -days 3650 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -out CertAuth.crt",
    "openssl ecparam -name prime256v1 -genkey -noout -out Inter.key",
    "openssl req -new -key Inter.key -subj /CN=Inter -out Inter.csr",
    "openssl x509 -req -in Inter.csr -CA CertAuth.crt -CAkey CertAuth.key -set_serial 0x7a11 -days 365 -extfile ../ica.cnf -out Inter.crt",
    "openssl ecparam -name prime256v1 -genkey -noout -out db.key",
    "openssl req -new -key db.key -subj /CN=db.internal -out db.csr",
    "openssl x509 -req -in db.csr -CA Inter.crt -CAkey Inter.key -set_serial 0x7a12 -days 90 -extfile ../leaf.cnf -out db.crt",
  ]);
  t.regex(readFileSync(join(src, "CertAuth.key"), "utf8"), /^-----BEGIN RSA PRIVATE KEY-----\nMII/);
  t.regex(readFileSync(join(src, "db.key"), "utf8"), /^-----BEGIN EC PRIVATE KEY-----/);
  const original = snapshot(src);
  const dir = tempDir(t);
  writeFileSync(join(dir, "pass"), PASS + "\n");
  const wrongFrom = await pki(dir, ["import", "--from", "etcd-ca", src, "--passphrase-file", "pass"]);
  t.regex(wrongFrom.stderr, /^pki: not an etcd-ca depot: ca.crt and ca.key are missing/);
  t.false(existsSync(join(dir, ".pki")));
  await pkiOk(t, dir, ["import", "--from", "certstrap", src, "--passphrase-file", "pass"]);
  t.deepEqual(snapshot(src), original);
  const depot = join(dir, ".pki");
  for (const k of ["ca.key", "certs/Inter.key", "certs/db.key"]) {
    const p = await depotFile(dir, k);
    t.regex(readFileSync(p, "utf8"), /^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    t.is((await openssl(["pkey", "-in", p, "-passin", `pass:${PASS}`, "-noout"])).code, 0, k);
  }
  const db = JSON.parse((await pkiOk(t, dir, ["status", "--json", "db"])).out);
  t.is(db.issuer, "Inter");
  t.is(db.usage, "server");
  const inter = JSON.parse((await pkiOk(t, dir, ["status", "--json", "Inter"])).out);
  t.is(inter.kind, "ca");
  t.is(inter.pathLength, 0);
  // The intermediate issues through pki; the chain verifies against the certstrap CA.
  await issue(t, dir, "api", ["--issuer", "Inter", "--domain", "api.internal"]);
  const chain = await pkiOk(t, dir, ["chain", "api"]);
  writeFileSync(join(dir, "api.chain.pem"), chain.stdout);
  const v = await openssl(["verify", "-CAfile", join(src, "CertAuth.crt"), "-untrusted", join(dir, "api.chain.pem"), join(dir, "api.chain.pem")]);
  t.is(v.code, 0, v.out + v.stderr);
  const serial = JSON.parse((await pkiOk(t, dir, ["status", "--json", "api"])).out).serial;
  t.true(BigInt(`0x${serial}`) > 0x7a12n);
});

test("import refuses a key that does not match its certificate, and writes nothing", async (t) => {
  const src = join(tempDir(t, "certstrap-"), "out");
  mkdirSync(src);
  await shell(t, src, [
    "openssl ecparam -name prime256v1 -genkey -noout -out CA.key",
    "openssl req -x509 -new -key CA.key -subj /CN=CA -days 30 -addext basicConstraints=critical,CA:TRUE -out CA.crt",
    "openssl ecparam -name prime256v1 -genkey -noout -out web.key",
    "openssl req -new -key web.key -subj /CN=web -out web.csr",
    "openssl x509 -req -in web.csr -CA CA.crt -CAkey CA.key -set_serial 5 -days 10 -out web.crt",
    "openssl ecparam -name prime256v1 -genkey -noout -out web.key",
  ]);
  const dir = tempDir(t);
  writeFileSync(join(dir, "pass"), PASS + "\n");
  const r = await pki(dir, ["import", "--from", "certstrap", src, "--passphrase-file", "pass"]);
  t.is(r.code, 1);
  t.regex(r.stderr, /^pki: \S+web\.key does not belong to \S+web\.crt\n$/);
  t.false(existsSync(join(dir, ".pki")));
  const missing = await pki(dir, ["import", "--from", "etcd-ca", join(dir, "nope"), "--passphrase-file", "pass"]);
  t.regex(missing.stderr, /^pki: \S+nope is not a directory\n$/);
});
