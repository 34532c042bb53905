// `pki import --from etcd-ca|certstrap` into a record-store depot (depot.db, or PostgreSQL): the keys re-sealed as
// PKCS#8 that openssl opens, the old CA keeps signing, serials carry on past the imported ones, a certstrap CRL's
// revocation and number survive into pki's CRL; a failed import makes nothing.
import test from "ava";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openssl, PASS, pki, pkiOk, snapshot, tempDir, untar } from "./_helpers.js";
import { certstrapOut, etcdCaDepot, HOST_PASS } from "./_import.js";
import { ROLE_PASS, useCluster } from "./_postgres.js";

const P = ["--passphrase-file", "pass"];
const pg = useCluster(test);

function workDir(t) {
  const dir = tempDir(t, "pki-import-db-");
  writeFileSync(join(dir, "pass"), PASS + "\n");
  writeFileSync(join(dir, "hostpass"), HOST_PASS + "\n");
  return dir;
}
const pubOf = async (args) => (await openssl([...args, "-pubout"])).out;
const certPub = async (file) => (await openssl(["x509", "-in", file, "-noout", "-pubkey"])).out;

test("etcd-ca into depot.db: keys open with openssl, the old CA signs on, serials go on, revoke + crl", async (t) => {
  const src = await etcdCaDepot(t);
  const dir = workDir(t);
  const original = snapshot(src);
  const run = (args) => pki(dir, args);
  const ok = (args) => pkiOk(t, dir, args);

  const wrong = await run(["import", "--from", "etcd-ca", src, ...P]);
  t.is(wrong.code, 1);
  t.regex(wrong.stderr, /^pki: \S+client1\.host\.key: wrong passphrase \(the key is encrypted\)\n$/);
  t.false(existsSync(join(dir, ".pki")), "nothing written on failure");

  const r = await ok(["import", "--from", "etcd-ca", src, ...P, "--host-passphrase-file", "hostpass"]);
  t.regex(r.stderr, /^Imported 4 entries from etcd-ca .* into .*\.pki: ca, client1, server1, pending\n$/);
  t.deepEqual(snapshot(src), original, "the etcd-ca depot is only read");
  t.deepEqual(readdirSync(join(dir, ".pki")).sort(), ["depot.db", "kdf.json"]);

  await untar(t, dir, (await ok(["export"])).stdout);
  await untar(t, dir, (await ok(["export", "server1"])).stdout);
  t.is(await pubOf(["pkey", "-in", join(dir, "ca.key"), "-passin", `pass:${PASS}`]),
    await certPub(join(src, "ca.crt")));
  t.is(await pubOf(["pkey", "-in", join(dir, "server1.key"), "-passin", `pass:${HOST_PASS}`]),
    await certPub(join(src, "server1.host.crt")));

  const list = JSON.parse((await ok(["list", "--json"])).out);
  t.deepEqual(list.map((e) => [e.name, e.status]).sort(),
    [["ca", "valid"], ["client1", "valid"], ["pending", "unsigned"], ["server1", "valid"]]);
  await ok(["issue", ...P, "server2", "127.0.0.1"]);
  await ok(["sign", ...P, "pending"]);
  for (const n of ["server2", "pending"]) {
    await untar(t, dir, (await ok(["export", n])).stdout);
    const v = await openssl(["verify", "-CAfile", join(src, "ca.crt"), join(dir, `${n}.crt`)]);
    t.is(v.code, 0, v.out + v.stderr);
  }
  const serial = JSON.parse((await ok(["status", "--json", "server2"])).out).serial;
  t.true(BigInt(`0x${serial}`) > 3n, "new serials continue past the highest imported serial");

  await ok(["revoke", "--reason", "cessationOfOperation", "client1"]);
  writeFileSync(join(dir, "ca.crl"), (await ok(["crl", ...P])).stdout);
  const rv = await openssl(["verify", "-crl_check", "-CRLfile", join(dir, "ca.crl"), "-CAfile", join(src, "ca.crt"),
    join(src, "client1.host.crt")]);
  t.regex(rv.out + rv.stderr, /certificate revoked/);

  const before = snapshot(join(dir, ".pki"));
  const again = await run(["import", "--from", "etcd-ca", src, ...P]);
  t.is(again.code, 1);
  t.regex(again.stderr, /^pki: a CA already exists in .*: import into a new depot \(--depot DIR\)\n$/);
  t.deepEqual(snapshot(join(dir, ".pki")), before);
});

test("certstrap into depot.db: the CRL's revocation and number carry on in pki's CRL", async (t) => {
  const src = await certstrapOut(t);
  const dir = workDir(t);
  const ok = (args) => pkiOk(t, dir, args);
  const r = await ok(["import", "--from", "certstrap", src, ...P]);
  t.regex(r.stderr, /Imported 3 entries .*: ca, old, web\n/);
  t.regex(r.stderr, /Revoked, as the source's CRLs say: old\n/);
  const status = JSON.parse((await ok(["status", "--json", "old"])).out);
  t.is(status.revoked.reason, "keyCompromise");
  writeFileSync(join(dir, "ca.crl"), (await ok(["crl", ...P])).stdout);
  const crl = (await openssl(["crl", "-in", join(dir, "ca.crl"), "-noout", "-text"])).out;
  t.regex(crl, /Serial Number: 0B\s+Revocation Date: [^\n]+\n\s+CRL entry extensions:\s+X509v3 CRL Reason Code:\s+Key/);
  t.regex(crl, /X509v3 CRL Number:\s+4097/);
  await untar(t, dir, (await ok(["export", "--insecure", ...P, "web"])).stdout);
  t.is(await pubOf(["pkey", "-in", join(dir, "web.key.insecure")]), await pubOf(["pkey", "-in", join(src, "web.key")]));
});

test("etcd-ca into a PostgreSQL depot: the old CA signs on; the URL's password is never printed", async (t) => {
  const src = await etcdCaDepot(t);
  const dir = workDir(t);
  const url = pg.url(await pg.db());
  const run = (args) => pki(dir, ["--depot", url, ...args]);
  const r = await run(["import", "--from", "etcd-ca", src, ...P, "--host-passphrase-file", "hostpass"]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /^Imported 4 entries from etcd-ca .* into postgresql:\/\/pki@127\.0\.0\.1:\d+\/\w+: ca, client1/);
  const issued = await run(["issue", ...P, "--export", "server2", "127.0.0.1"]);
  t.is(issued.code, 0, issued.stderr);
  await untar(t, dir, issued.stdout);
  const v = await openssl(["verify", "-CAfile", join(src, "ca.crt"), join(dir, "server2.crt")]);
  t.is(v.code, 0, v.out + v.stderr);
  const again = await run(["import", "--from", "etcd-ca", src, ...P, "--host-passphrase-file", "hostpass"]);
  t.is(again.code, 1);
  t.regex(again.stderr, /^pki: a depot already exists at postgresql:\/\/pki@/);
  for (const o of [r.stderr, issued.stderr, again.stderr]) t.false(o.includes(ROLE_PASS));
});
