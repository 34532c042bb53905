// The issuing commands on a record-store depot (depot.db, or PostgreSQL): the etcd-style seed flow judged by openssl
// verify -x509_strict, curl over TLS (server and mTLS with the P12), keytool; external keys, passphrases refused
// before anything is written (#28), a key's own passphrase, intermediates and chains.
import test from "ava";
import { execFile as execFileCb } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { PASS, curl, openssl, pki, pkiOk, snapshot, tempDir, untar, versionsServer } from "./_helpers.js";
import { ROLE_PASS, useCluster } from "./_postgres.js";

const execFile = promisify(execFileCb);
const pg = useCluster(test);
const P = ["--passphrase-file", "pass"];

async function dbDepot(t, initArgs = []) {
  const dir = tempDir(t, "pki-cli-db-");
  writeFileSync(join(dir, "pass"), PASS + "\n");
  writeFileSync(join(dir, "wrong"), "not the passphrase\n");
  writeFileSync(join(dir, "own"), "a passphrase of its own\n");
  writeFileSync(join(dir, "p12pass"), "p12 password\n");
  await pkiOk(t, dir, ["init", ...P, ...initArgs]);
  return dir;
}
const ok = (t, dir, args) => pkiOk(t, dir, args);
const tarOf = async (t, dir, args) => untar(t, dir, (await ok(t, dir, ["export", ...args])).stdout);

test("etcd-ca flow on depot.db: new-cert, sign, export; openssl, curl HTTPS + mTLS by P12, keytool", async (t) => {
  const dir = await dbDepot(t, ["--organization", "etcd-ca", "--country", "US"]);
  await tarOf(t, dir, []);
  t.regex(readFileSync(join(dir, "ca.key"), "utf8"), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
  await ok(t, dir, ["new-cert", ...P, "--ip", "127.0.0.1", "--domain", "localhost", "server1"]);
  let r = await ok(t, dir, ["sign", ...P, "server1"]);
  t.regex(r.stderr, /^Signed "server1" by "ca": serial [0-9a-f]+, valid until /);
  await ok(t, dir, ["new-cert", ...P, "--client", "client1"]);
  await ok(t, dir, ["sign", ...P, "client1"]);
  await tarOf(t, dir, ["--insecure", ...P, "server1"]);
  const listing = await tarOf(t, dir, [...P, "--p12", "--p12-password-file", "p12pass", "--jks",
    "--jks-password-file", "p12pass", "--bundle", "client1"]);
  t.regex(listing, /client1\.p12$/m);
  t.regex(listing, /client1\.jks$/m);
  t.regex(listing, /client1\.chain\.pem$/m);

  const v = await openssl(["verify", "-x509_strict", "-CAfile", "ca.crt", "server1.crt", "client1.crt"], { cwd: dir });
  t.is(v.code, 0, v.stderr + v.out);
  const text = (await openssl(["x509", "-in", "client1.crt", "-noout", "-text"], { cwd: dir })).out;
  t.regex(text, /TLS Web Client Authentication/);
  t.notRegex(text, /TLS Web Server Authentication/);
  const ca = readFileSync(join(dir, "ca.crt"));
  const port = await versionsServer(t, {
    cert: readFileSync(join(dir, "server1.crt")), key: readFileSync(join(dir, "server1.key.insecure")), ca,
  });
  let c = await curl(["--cacert", "ca.crt", `https://127.0.0.1:${port}/v1/versions`], { cwd: dir });
  t.not(c.code, 0, "mTLS: no client certificate, no answer");
  c = await curl(["--cacert", "ca.crt", "--cert-type", "P12", "--cert", "client1.p12:p12 password",
    `https://localhost:${port}/v1/versions`], { cwd: dir });
  t.is(c.code, 0, c.stderr);
  t.is(c.out, '["v1"]');
  const { stdout } = await execFile("keytool", ["-list", "-keystore", join(dir, "client1.jks"), "-storepass",
    "p12 password"]);
  t.regex(stdout, /client1, .*PrivateKeyEntry/);
});

test("issue --export on depot.db, the key opened with the one passphrase; chain with an intermediate", async (t) => {
  const dir = await dbDepot(t);
  await ok(t, dir, ["init", "--intermediate", "issuing", ...P, "--permit-domain", "example.test"]);
  const notBefore = new Date(Math.floor(Date.now() / 1000 - 86400) * 1000);
  const r = await ok(t, dir, ["issue", ...P, "--issuer", "issuing", "--export", "--insecure", "--bundle",
    "web", "web.example.test", "10.0.0.1", "--not-before", notBefore.toISOString(), "--organization", "Web Org",
    "--eku", "1.3.6.1.5.5.7.3.1", "--expires", "90d"]);
  const listing = await untar(t, dir, r.stdout);
  t.regex(listing, /web\.key\.insecure$/m);
  t.regex(r.stderr, /Issued "web" \(SANs: IP:10\.0\.0\.1, DNS:web\.example\.test\) by "issuing"/);
  const chain = (await ok(t, dir, ["chain", "web"])).out;
  t.is(chain.match(/BEGIN CERTIFICATE/g).length, 3);
  writeFileSync(join(dir, "chain.pem"), chain);
  writeFileSync(join(dir, "inter.pem"), (await ok(t, dir, ["chain", "--no-root", "issuing"])).out);
  const v = await openssl(["verify", "-x509_strict", "-CAfile", "ca.pem", "-untrusted", "inter.pem", "web.crt"],
    { cwd: dir });
  t.is(v.code, 0, v.stderr + v.out);
  const text = (await openssl(["x509", "-in", "web.crt", "-noout", "-text"], { cwd: dir })).out;
  const start = (await openssl(["x509", "-in", "web.crt", "-noout", "-startdate"], { cwd: dir })).out;
  t.is(new Date(start.trim().replace("notBefore=", "")).getTime(), notBefore.getTime());
  t.regex(text, /O\s?=\s?Web Org/);
  t.regex(text, /TLS Web Server Authentication\s*$/m);
  const all = (await ok(t, dir, ["chain"])).out;
  t.is(all.match(/BEGIN CERTIFICATE/g).length, 2, "the root, then the intermediate");
  const outside = await pki(dir, ["issue", ...P, "--issuer", "issuing", "other", "other.test"]);
  t.is(outside.code, 1);
  t.regex(outside.stderr, /^pki: .*other\.test.*\n$/);
});

test("a typo'd passphrase is refused before anything is written; a key's own passphrase seals only it", async (t) => {
  const dir = await dbDepot(t);
  await ok(t, dir, ["new-cert", ...P, "pending"]);
  const before = snapshot(join(dir, ".pki"));
  for (const args of [["issue", "web"], ["new-cert", "web"], ["sign", "pending"], ["init", "--intermediate", "i"]]) {
    const r = await pki(dir, [...args, "--passphrase-file", "wrong"]);
    t.is(r.code, 1, args.join(" "));
    t.regex(r.stderr, /^pki: wrong passphrase for the CA key.*\n$/, args.join(" "));
  }
  t.deepEqual(snapshot(join(dir, ".pki")), before);

  await ok(t, dir, ["issue", ...P, "--key-passphrase-file", "own", "mine", "mine.test"]);
  const wrong = await pki(dir, ["export", "--insecure", ...P, "mine"]);
  t.is(wrong.code, 1);
  t.regex(wrong.stderr, /^pki: wrong passphrase for the key of "mine"\n$/);
  await tarOf(t, dir, ["mine"]);
  const k = await openssl(["pkey", "-in", "mine.key", "-passin", "file:own", "-noout"], { cwd: dir });
  t.is(k.code, 0, k.stderr);
  await tarOf(t, dir, ["--insecure", "--passphrase-file", "own", "mine"]);
  t.regex(readFileSync(join(dir, "mine.key.insecure"), "utf8"), /^-----BEGIN PRIVATE KEY-----/);
});

test("sign --csr and new-cert --csr on depot.db: the key stays outside, its certificate verifies", async (t) => {
  const dir = await dbDepot(t);
  const req = await openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", "ext.key", "-subj", "/CN=ext", "-addext", "subjectAltName=DNS:ext.test", "-out", "ext.csr"],
    { cwd: dir });
  t.is(req.code, 0, req.stderr);
  const r = await ok(t, dir, ["sign", ...P, "--csr", "ext.csr", "--server", "ext"]);
  t.regex(r.stderr, /^Signed "ext" \(external key, ECDSA P-256; SANs: DNS:ext\.test\) by "ca"/);
  await ok(t, dir, ["new-cert", "--csr", "ext.csr", "filed"]);
  await ok(t, dir, ["sign", ...P, "filed"]);
  await tarOf(t, dir, ["ext"]);
  await tarOf(t, dir, ["filed"]);
  await tarOf(t, dir, []);
  const v = await openssl(["verify", "-x509_strict", "-CAfile", "ca.crt", "ext.crt", "filed.crt"], { cwd: dir });
  t.is(v.code, 0, v.stderr + v.out);
  const again = await pki(dir, ["sign", ...P, "--csr", "ext.csr", "ext"]);
  t.is(again.code, 1);
  t.regex(again.stderr, /^pki: "ext" already exists in the depot/);
  const p12 = await pki(dir, ["export", "--p12", "--p12-password-file", "p12pass", ...P, "ext"]);
  t.is(p12.code, 1);
  t.regex(p12.stderr, /held elsewhere/);
});

test("PostgreSQL depot: init, issue --export, export, chain; openssl verifies, no password printed", async (t) => {
  const dir = tempDir(t, "pki-cli-pg-");
  writeFileSync(join(dir, "pass"), PASS + "\n");
  writeFileSync(join(dir, "wrong"), "not the passphrase\n");
  const url = pg.url(await pg.db(), { query: "?schema=issuing" });
  const run = (args) => pki(dir, ["--depot", url, ...args]);
  const outputs = [];
  const good = async (args) => {
    const r = await run(args);
    outputs.push(r.stderr, r.out);
    t.is(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    return r;
  };
  await good(["init", ...P, "--common-name", "PG Root"]);
  const r = await good(["issue", ...P, "--export", "--insecure", "web", "localhost", "127.0.0.1"]);
  await untar(t, dir, r.stdout);
  await untar(t, dir, (await good(["export"])).stdout);
  const v = await openssl(["verify", "-x509_strict", "-CAfile", "ca.crt", "web.crt"], { cwd: dir });
  t.is(v.code, 0, v.stderr + v.out);
  const port = await versionsServer(t, {
    cert: readFileSync(join(dir, "web.crt")), key: readFileSync(join(dir, "web.key.insecure")),
  });
  const c = await curl(["--cacert", "ca.crt", `https://localhost:${port}/v1/versions`], { cwd: dir });
  t.is(c.code, 0, c.stderr);
  t.is((await good(["chain", "web"])).out.match(/BEGIN CERTIFICATE/g).length, 2);
  const wrong = await run(["issue", "--passphrase-file", "wrong", "api", "api.test"]);
  outputs.push(wrong.stderr);
  t.is(wrong.code, 1);
  t.regex(wrong.stderr, /^pki: wrong passphrase for the CA key\n$/);
  const taken = await run(["issue", ...P, "web", "web.test"]);
  outputs.push(taken.stderr);
  t.regex(taken.stderr, /^pki: "web" already exists in the depot\n$/);
  t.false(outputs.some((o) => o.includes(ROLE_PASS)), "the password is never printed");
});

test("an issuer that is no CA, or unknown, is refused before any passphrase is asked, nothing written", async (t) => {
  const dir = await dbDepot(t);
  await ok(t, dir, ["issue", ...P, "leaf", "leaf.test"]);
  const before = snapshot(join(dir, ".pki"));
  for (const args of [["issue", "--issuer", "leaf", "x"], ["new-cert", "--issuer", "leaf", "x"]]) {
    const r = await pki(dir, args);
    t.is(r.code, 1, r.stderr);
    t.regex(r.stderr, /^pki: "leaf" is not a CA: issue from the root or an intermediate/);
  }
  const unknown = await pki(dir, ["issue", "--issuer", "nosuch", "x"]);
  t.regex(unknown.stderr, /^pki: unknown issuer "nosuch": see 'pki list'\n$/);
  t.deepEqual(snapshot(join(dir, ".pki")), before);
});
