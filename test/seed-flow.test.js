// The etcd-ca flow from the seed (shared/seeds/000_*.txt), with pki in place of etcd-ca,
// judged by openssl, GNU tar, curl and a Node https server.
import test from "ava";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  PASS, curl, depotIsUrl, depotOf, newDepot, openssl, pki, pkiOk, snapshot, untar, versionsServer, issue,
} from "./_helpers.js";
import { blobFile } from "./_depot-read.js";

const mode = (p) => (statSync(p).mode & 0o777).toString(8);

test("seed flow: init, export, new-cert, sign, export --insecure; curl over HTTPS and mTLS", async (t) => {
  const dir = await newDepot(t);
  const P = ["--passphrase-file", "pass"];

  // pki export | tar xvf -  -> ca.crt, ca.key (encrypted, as stored)
  let r = await pkiOk(t, dir, ["export"]);
  let listing = await untar(t, dir, r.stdout);
  t.regex(listing, /^-rw-r--r-- .* ca\.crt$/m);
  t.regex(listing, /^-rw------- .* ca\.key$/m);

  await issue(t, dir, "server1", ["--ip", "127.0.0.1", "--domain", "localhost"]);
  r = await pkiOk(t, dir, ["export", "--insecure", ...P, "server1"]);
  listing = await untar(t, dir, r.stdout);
  t.deepEqual(listing.trim().split("\n").map((l) => l.split(/\s+/).pop()), ["server1.crt", "server1.key.insecure"]);
  t.regex(listing, /^-rw------- .* server1\.key\.insecure$/m);

  await issue(t, dir, "client1");
  r = await pkiOk(t, dir, ["export", ...P, "client1"]);
  listing = await untar(t, dir, r.stdout);
  t.deepEqual(listing.trim().split("\n").map((l) => l.split(/\s+/).pop()), ["client1.crt", "client1.key"]);
  t.is(mode(join(dir, "client1.key")), "600");
  t.is(mode(join(dir, "client1.crt")), "644");
  t.regex(readFileSync(join(dir, "client1.key"), "utf8"), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
  t.regex(readFileSync(join(dir, "server1.key.insecure"), "utf8"), /^-----BEGIN PRIVATE KEY-----/);

  // openssl accepts what we made
  const v = await openssl(["verify", "-x509_strict", "-CAfile", "ca.crt", "server1.crt", "client1.crt"], { cwd: dir });
  t.is(v.code, 0, v.stderr + v.out);
  t.regex(v.out, /server1\.crt: OK/);
  t.regex(v.out, /client1\.crt: OK/);

  // HTTPS: the seed's curl with --cacert completes the handshake; without it, it is refused.
  const cert = readFileSync(join(dir, "server1.crt"));
  const key = readFileSync(join(dir, "server1.key.insecure"));
  const ca = readFileSync(join(dir, "ca.crt"));
  const port = await versionsServer(t, { cert, key });
  let c = await curl(["--cacert", "ca.crt", "-L", `https://127.0.0.1:${port}/v1/versions`], { cwd: dir });
  t.is(c.code, 0, c.stderr);
  t.is(c.out, '["v1"]');
  c = await curl(["--cacert", "ca.crt", "-L", `https://localhost:${port}/v1/versions`], { cwd: dir });
  t.is(c.code, 0, c.stderr);
  c = await curl(["-L", `https://127.0.0.1:${port}/v1/versions`], { cwd: dir });
  t.is(c.code, 60, "curl without --cacert must reject our self-made CA: " + c.stderr);

  // Client-cert auth: the same command is rejected; the client key pair is accepted.
  r = await pkiOk(t, dir, ["export", "--insecure", ...P, "client1"]);
  await untar(t, dir, r.stdout);
  const mport = await versionsServer(t, { cert, key, ca });
  c = await curl(["--cacert", "ca.crt", "-L", `https://127.0.0.1:${mport}/v1/versions`], { cwd: dir });
  t.not(c.code, 0, "mTLS server must reject a client without a certificate");
  c = await curl(["--cacert", "ca.crt", "--cert", "client1.crt", "--key", "client1.key.insecure", "-L", `https://127.0.0.1:${mport}/v1/versions`], { cwd: dir });
  t.is(c.code, 0, c.stderr);
  t.is(c.out, '["v1"]');
  // curl also opens the encrypted key with --pass
  c = await curl(["--cacert", "ca.crt", "--cert", "client1.crt", "--key", "client1.key", "--pass", PASS, `https://127.0.0.1:${mport}/v1/versions`], { cwd: dir });
  t.is(c.code, 0, c.stderr);
});

test("keys at rest are PBES2 PKCS#8 that openssl opens only with the passphrase; depot modes", async (t) => {
  const dir = await newDepot(t);
  await issue(t, dir, "server1");
  const depot = depotOf(dir);
  if (!depotIsUrl(dir)) {
    // Directory depots only (a PostgreSQL depot has no files): whatever the depot's format, the files holding keys
    // (layout 1's *.key, depot.db) are the owner's alone.
    t.is(mode(depot), "700");
    const secret = Object.entries(snapshot(depot)).filter(([f]) => /\.key$|(^|\/)depot\.db/.test(f));
    t.true(secret.length > 0);
    for (const [f, m] of secret) t.is(m.split(" ")[0], "600", f);
  }
  for (const k of ["ca", "server1"]) {
    const p = await blobFile(depot, k, join(dir, `${k}.at-rest.key`), "key");
    const ok = await openssl(["pkey", "-in", p, "-passin", `pass:${PASS}`, "-noout"]);
    t.is(ok.code, 0, ok.stderr);
    const bad = await openssl(["pkey", "-in", p, "-passin", "pass:not-the-passphrase", "-noout"]);
    t.not(bad.code, 0);
    const asn = await openssl(["asn1parse", "-in", p]);
    t.regex(asn.out, /PBES2/);
    t.regex(asn.out, /PBKDF2/);
    t.regex(asn.out, /hmacWithSHA256/);
    t.regex(asn.out, /aes-256-cbc/);
    const iter = parseInt(/INTEGER\s+:([0-9A-F]+)/.exec(asn.out)[1], 16);
    // the product's floor; a file that sets the test-only count for all its depots (cli-flows-pg) gets that count
    const cheap = process.env.PKI_TEST_ONLY_KDF_ITERATIONS;
    if (cheap) t.is(iter, Number(cheap));
    else t.true(iter >= 600000, `iteration count ${iter}`);
  }
});

test("profiles: openssl x509 -text shows SANs, usages and CA constraints", async (t) => {
  const dir = await newDepot(t, ["--common-name", "Test Root", "--organization", "Example", "--country", "DE"]);
  await issue(t, dir, "web", ["--ip", "127.0.0.1,::1", "--domain", "localhost", "--domain", "*.example.com"]);
  const webCrt = await blobFile(depotOf(dir), "web", join(dir, "web.crt"));
  const leaf = (await openssl(["x509", "-in", webCrt, "-noout", "-text"])).out;
  t.regex(leaf, /Subject: CN\s?=\s?web/);
  t.regex(leaf, /Issuer: C\s?=\s?DE, O\s?=\s?Example, CN\s?=\s?Test Root/);
  t.regex(leaf, /DNS:localhost, DNS:\*\.example\.com, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1/);
  t.regex(leaf, /Basic Constraints: critical\s+CA:FALSE/);
  t.regex(leaf, /Key Usage: critical\s+Digital Signature\n/);
  t.regex(leaf, /Extended Key Usage:\s*\n\s+TLS Web Server Authentication, TLS Web Client Authentication/);
  t.regex(leaf, /Subject Key Identifier/);
  t.regex(leaf, /Authority Key Identifier/);
  t.regex(leaf, /Signature Algorithm: ecdsa-with-SHA256/);
  const serial = /Serial Number:\s*\n?\s*([0-9a-f:]+)/.exec(leaf)[1].replace(/:/g, "");
  t.true(serial.length >= 16, "serial has at least 64 bits");
  const caCrt = await blobFile(depotOf(dir), "ca", join(dir, "ca.crt"));
  const ca = (await openssl(["x509", "-in", caCrt, "-noout", "-text"])).out;
  t.regex(ca, /Basic Constraints: critical\s+CA:TRUE/);
  t.regex(ca, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
  t.regex(ca, /Not After : .*20(3[5-7])/, "CA valid for 10 years");
  const dates = (await openssl(["x509", "-in", webCrt, "-noout", "-enddate"])).out;
  const days = (new Date(dates.split("=")[1]) - Date.now()) / 864e5;
  t.true(days > 364 && days < 366, `leaf valid one year (${days} days)`);
});

for (const [label, initArgs, certArgs, sig, keyEnc] of [
  ["RSA CA, RSA-3072 leaf", ["--key-type", "rsa"], ["--key-type", "rsa", "--key-bits", "3072"], /sha256WithRSAEncryption/, true],
  ["ECDSA P-384 CA, Ed25519 leaf", ["--key-type", "ecdsa", "--curve", "P-384"], ["--key-type", "ed25519"], /ecdsa-with-SHA384/, false],
]) {
  test(`key types: ${label}`, async (t) => {
    const dir = await newDepot(t, initArgs);
    await issue(t, dir, "srv", certArgs);
    const depot = depotOf(dir);
    const crt = await blobFile(depot, "srv", join(dir, "srv.crt"));
    const v = await openssl(["verify", "-x509_strict", "-CAfile", await blobFile(depot, "ca", join(dir, "ca.crt")), crt]);
    t.is(v.code, 0, v.out + v.stderr);
    const text = (await openssl(["x509", "-in", crt, "-noout", "-text"])).out;
    t.regex(text, sig);
    t.is(/Key Encipherment/.test(text), keyEnc, "keyEncipherment only for RSA");
    const pk = await openssl(["pkey", "-in", await blobFile(depot, "srv", join(dir, "srv.key"), "key"), "-passin", `pass:${PASS}`, "-noout", "-text_pub"]);
    t.is(pk.code, 0, pk.stderr);
  });
}

test("list and status, text and --json", async (t) => {
  const dir = await newDepot(t);
  await issue(t, dir, "server1", ["--ip", "10.0.0.1", "--domain", "db.example"]);
  await pkiOk(t, dir, ["new-cert", "--passphrase-file", "pass", "pending"]);
  const list = JSON.parse((await pkiOk(t, dir, ["list", "--json"])).out);
  t.deepEqual(list.map((e) => [e.name, e.status]), [["ca", "valid"], ["pending", "unsigned"], ["server1", "valid"]]);
  t.deepEqual(list[2].sans, { ips: ["10.0.0.1"], domains: ["db.example"] });
  const text = (await pkiOk(t, dir, ["list"])).out;
  t.regex(text, /^server1\s+valid\s+\S+\s+10\.0\.0\.1,db\.example$/m);
  t.regex(text, /^pending\s+unsigned/m);
  const st = JSON.parse((await pkiOk(t, dir, ["status", "--json", "server1"])).out);
  const crt = await blobFile(depotOf(dir), "server1", join(dir, "server1.crt"));
  const x = await openssl(["x509", "-in", crt, "-noout", "-serial"]);
  t.is(st.serial.toUpperCase(), x.out.trim().split("=")[1]);
  t.is((await pkiOk(t, dir, ["status", "pending"])).out.match(/^status\s+(\S+)/m)[1], "unsigned");
});

test("passphrase sources: PKI_PASSPHRASE and --passphrase-file work silently; --passphrase warns", async (t) => {
  const dir = await newDepot(t);
  let r = await pkiOk(t, dir, ["new-cert", "a"], { env: { PKI_PASSPHRASE: PASS } });
  t.notRegex(r.stderr, /warning/);
  r = await pkiOk(t, dir, ["sign", "--passphrase", PASS, "a"]);
  t.regex(r.stderr, /warning: --passphrase is visible to other processes/);
  t.notRegex(r.stderr, new RegExp(PASS));
  r = await pkiOk(t, dir, ["export", "--insecure", "--passphrase-file", "pass", "a"]);
  t.true(r.stdout.length > 1024);
});

test("--help for every command has an example; --version prints the package version", async (t) => {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url)));
  t.is((await pki(".", ["--version"])).out.trim(), pkg.version);
  const top = (await pki(".", ["--help"])).out;
  for (const cmd of ["init", "new-cert", "sign", "export", "list", "status"]) {
    t.regex(top, new RegExp(`pki ${cmd}`));
    const h = await pki(".", [cmd, "--help"]);
    t.is(h.code, 0);
    t.regex(h.out, /Examples:/, `${cmd} --help has an example`);
  }
});
