// CA lifecycle: intermediates, path length, usages, revocation and CRLs — judged by openssl, curl and node tls.
import test from "ava";
import https from "node:https";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { curl, issue, openssl, pki, pkiOk, run as exec, versionsServer } from "./_helpers.js";
import { depotState } from "./_depot-read.js";
import { depotFile } from "./_state.js";
import { chainFile, cheapDepot, exportInsecure, ext } from "./_lifecycle.js";

const run = (args) => exec(args[0], args.slice(1));

test("an intermediate CA: openssl verifies leaf -> intermediate -> root, and an mTLS server serves the chain", async (t) => {
  const dir = await cheapDepot(t);
  await pkiOk(t, dir, ["init", "--intermediate", "issuing", "--passphrase-file", "pass"]);
  const inter = await depotFile(dir, "certs/issuing.crt");
  t.regex(await ext(inter, "basicConstraints"), /critical\s+CA:TRUE, pathlen:0/);
  t.regex(await ext(inter, "keyUsage"), /Certificate Sign, CRL Sign/);
  await issue(t, dir, "web", ["--issuer", "issuing", "--ip", "127.0.0.1", "--domain", "localhost"]);
  await issue(t, dir, "alice", ["--client"], ["--issuer", "issuing"]);
  const list = JSON.parse((await pkiOk(t, dir, ["list", "--json"])).out);
  t.deepEqual(list.map((e) => [e.name, e.kind, e.issuer]), [["ca", "ca", null], ["alice", "leaf", "issuing"], ["issuing", "ca", "ca"], ["web", "leaf", "issuing"]]);
  const notCa = await pki(dir, ["new-cert", "--issuer", "web", "--passphrase-file", "pass", "x"]);
  t.regex(notCa.stderr, /^pki: "web" is not a CA/);
  const ca = await depotFile(dir, "ca.crt");
  const web = await exportInsecure(t, dir, "web");
  const alice = await exportInsecure(t, dir, "alice");

  const ok = await openssl(["verify", "-untrusted", inter, "-CAfile", ca, web.crt, alice.crt]);
  t.is(ok.code, 0, ok.stderr + ok.out);
  t.regex(ok.out, /web\.crt: OK[\s\S]*alice\.crt: OK/);
  const without = await openssl(["verify", "-CAfile", ca, web.crt]);
  t.not(without.code, 0, "without the intermediate the leaf must not verify");
  t.regex(without.out + without.stderr, /unable to get local issuer certificate/);

  // `pki chain`: leaf, intermediate, root (and --no-root for what a server presents).
  const full = await chainFile(t, dir, "web");
  t.is((readFileSync(full, "utf8").match(/BEGIN CERTIFICATE/g) ?? []).length, 3);
  const subjects = (await run(["sh", "-c", `openssl crl2pkcs7 -nocrl -certfile ${full} | openssl pkcs7 -print_certs -noout`])).out;
  t.regex(subjects, /subject=CN = web[\s\S]*subject=CN = issuing[\s\S]*subject=O = pki, CN = pki Root CA/);
  const serverChain = await chainFile(t, dir, "web", ["--no-root"]);
  const clientChain = await chainFile(t, dir, "alice", ["--no-root"]);
  t.is((readFileSync(serverChain, "utf8").match(/BEGIN CERTIFICATE/g) ?? []).length, 2);

  // mTLS: the server trusts only the root; both sides send leaf + intermediate.
  const port = await versionsServer(t, { cert: readFileSync(serverChain), key: readFileSync(web.key), ca: readFileSync(ca) });
  const r = await curl(["--cacert", ca, "--cert", clientChain, "--key", alice.key, `https://localhost:${port}/v1/versions`]);
  t.is(r.code, 0, r.stderr);
  t.is(r.out, '["v1"]');
  const noClient = await curl(["--cacert", ca, `https://localhost:${port}/v1/versions`]);
  t.not(noClient.code, 0, "a client without a certificate is refused");
});

test("path length: pki refuses a sub-CA under a pathlen:0 intermediate, and openssl rejects one forged with openssl", async (t) => {
  const dir = await cheapDepot(t);
  await pkiOk(t, dir, ["init", "--intermediate", "issuing", "--passphrase-file", "pass"]);
  await pkiOk(t, dir, ["new-cert", "--ca", "--issuer", "issuing", "--passphrase-file", "pass", "sub"]);
  const before = await depotState(dir);
  const refused = await pki(dir, ["sign", "--passphrase-file", "pass", "sub"]);
  t.not(refused.code, 0);
  t.regex(refused.stderr, /^pki: the CA "issuing" has path length 0: it may not issue CA certificates\n$/);
  t.deepEqual(await depotState(dir), before, "nothing in the depot changed");
  const refused2 = await pki(dir, ["init", "--intermediate", "sub2", "--parent", "issuing", "--passphrase-file", "pass"]);
  t.regex(refused2.stderr, /path length 0/);
  t.deepEqual(await depotState(dir), before);

  // Forge the sub-CA with openssl and the intermediate's own key: openssl verify must reject the path.
  const inter = await exportInsecure(t, dir, "issuing");
  const ca = await depotFile(dir, "ca.crt");
  const w = (n) => join(dir, n);
  writeFileSync(w("ca.ext"), "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n");
  writeFileSync(w("leaf.ext"), "basicConstraints=critical,CA:FALSE\nsubjectAltName=DNS:localhost\n");
  const sh = (cmd) => run(["sh", "-c", `cd ${dir} && ${cmd}`]);
  for (const cmd of [
    "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout sub.key -subj /CN=forged-sub -out sub.csr",
    `openssl x509 -req -in sub.csr -CA ${inter.crt} -CAkey ${inter.key} -CAcreateserial -days 2 -extfile ca.ext -out sub.crt`,
    "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key -subj /CN=localhost -out leaf.csr",
    "openssl x509 -req -in leaf.csr -CA sub.crt -CAkey sub.key -CAcreateserial -days 1 -extfile leaf.ext -out leaf.crt",
    `cat sub.crt ${inter.crt} > untrusted.pem`,
  ]) t.is((await sh(cmd)).code, 0, cmd);
  const v = await openssl(["verify", "-CAfile", ca, "-untrusted", w("untrusted.pem"), w("leaf.crt")]);
  t.not(v.code, 0);
  t.regex(v.out + v.stderr, /path length constraint exceeded/);

  // Control: an intermediate with --path-length 1 may have a sub-CA, and that chain verifies.
  await pkiOk(t, dir, ["init", "--intermediate", "policy", "--path-length", "1", "--passphrase-file", "pass"]);
  await pkiOk(t, dir, ["init", "--intermediate", "team", "--parent", "policy", "--passphrase-file", "pass"]);
  await issue(t, dir, "svc", ["--issuer", "team"]);
  t.regex(await ext(await depotFile(dir, "certs/policy.crt"), "basicConstraints"), /pathlen:1/);
  const chain = await chainFile(t, dir, "svc");
  const ok = await openssl(["verify", "-CAfile", ca, "-untrusted", chain, chain]);
  t.is(ok.code, 0, ok.out + ok.stderr);
  const tooLong = await pki(dir, ["init", "--intermediate", "x", "--parent", "policy", "--path-length", "1", "--passphrase-file", "pass"]);
  t.regex(tooLong.stderr, /^pki: path length 1 exceeds what "policy" allows \(at most 0\)\n$/);
});

test("usages: keyUsage per key type, EKU per flag, and the wrong side of a TLS handshake is refused", async (t) => {
  const dir = await cheapDepot(t);
  await issue(t, dir, "srv", ["--server", "--domain", "localhost"]);
  await issue(t, dir, "cli", ["--client", "--key-type", "rsa"]);
  await issue(t, dir, "both", ["--key-type", "ed25519", "--domain", "localhost"]);
  await issue(t, dir, "signer", ["--eku", "codeSigning,1.3.6.1.5.5.7.3.8"]);
  const crt = (n) => depotFile(dir, `certs/${n}.crt`);
  t.regex(await ext(await crt("srv"), "keyUsage"), /critical\s+Digital Signature\n/);
  t.regex(await ext(await crt("srv"), "extendedKeyUsage"), /TLS Web Server Authentication\n$/);
  t.regex(await ext(await crt("cli"), "keyUsage"), /Digital Signature, Key Encipherment/);
  t.regex(await ext(await crt("cli"), "extendedKeyUsage"), /^[^\n]*\n\s+TLS Web Client Authentication\n$/);
  t.regex(await ext(await crt("both"), "keyUsage"), /critical\s+Digital Signature\n/);
  t.regex(await ext(await crt("both"), "extendedKeyUsage"), /TLS Web Server Authentication, TLS Web Client Authentication/);
  t.regex(await ext(await crt("signer"), "extendedKeyUsage"), /Code Signing, Time Stamping/);
  const ca = await depotFile(dir, "ca.crt");
  t.is((await openssl(["verify", "-purpose", "sslserver", "-CAfile", ca, await crt("srv")])).code, 0);
  t.not((await openssl(["verify", "-purpose", "sslclient", "-CAfile", ca, await crt("srv")])).code, 0);
  t.not((await openssl(["verify", "-purpose", "sslserver", "-CAfile", ca, await crt("cli")])).code, 0);
  const bad = await pki(dir, ["new-cert", "--eku", "not-an-oid", "--passphrase-file", "pass", "x"]);
  t.regex(bad.stderr, /^pki: invalid extended key usage "not-an-oid"/);
  const both = await pki(dir, ["new-cert", "--server", "--client", "--passphrase-file", "pass", "y"]);
  t.not(both.code, 0);

  const srv = await exportInsecure(t, dir, "srv");
  const cli = await exportInsecure(t, dir, "cli");
  const peer = await exportInsecure(t, dir, "both");
  const url = (port) => `https://localhost:${port}/v1/versions`;
  // A server-only cert presented as a client is refused by the node mTLS server; a client cert works.
  const port = await versionsServer(t, { cert: readFileSync(srv.crt), key: readFileSync(srv.key), ca: readFileSync(ca) });
  const good = await curl(["--cacert", ca, "--cert", cli.crt, "--key", cli.key, url(port)]);
  t.is(good.out, '["v1"]', good.stderr);
  const wrongClient = await curl(["--cacert", ca, "--cert", srv.crt, "--key", srv.key, url(port)]);
  t.not(wrongClient.code, 0, "a serverAuth-only certificate must not authenticate a client");
  // A client-only cert used by a server is refused by curl; the peer (both) cert works for a server.
  const port2 = await versionsServer(t, { cert: readFileSync(cli.crt), key: readFileSync(cli.key) });
  const wrongServer = await curl(["--cacert", ca, "--resolve", `localhost:${port2}:127.0.0.1`, url(port2)]);
  t.not(wrongServer.code, 0, "a clientAuth-only certificate must not authenticate a server");
  t.regex(wrongServer.stderr, /unsuitable certificate purpose|SSL certificate problem/);
  const port3 = await versionsServer(t, { cert: readFileSync(peer.crt), key: readFileSync(peer.key) });
  t.is((await curl(["--cacert", ca, url(port3)])).out, '["v1"]');
});

/** A node HTTPS server that requires a client certificate and checks it against `crl`. */
async function crlServer(t, { cert, key, ca, crl }) {
  const server = https.createServer({ cert, key, ca, crl, requestCert: true, rejectUnauthorized: true }, (req, res) => res.end("ok"));
  server.on("tlsClientError", () => {});
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }));
  return server.address().port;
}

test("revoke + crl: openssl verifies the CRL, rejects the revoked cert; a node TLS server with the CRL refuses the client", async (t) => {
  const dir = await cheapDepot(t);
  await issue(t, dir, "web", ["--server", "--domain", "localhost"]);
  await issue(t, dir, "alice", ["--client"]);
  await issue(t, dir, "bob", ["--client"]);
  const before = await depotState(dir);
  const badReason = await pki(dir, ["revoke", "--reason", "lostIt", "alice"]);
  t.regex(badReason.stderr, /^pki: unknown revocation reason "lostIt"/);
  t.regex((await pki(dir, ["revoke", "nobody"])).stderr, /^pki: unknown name "nobody"/);
  const wrongPass = await pki(dir, ["crl", "--passphrase", "wrong"]);
  t.not(wrongPass.code, 0);
  t.deepEqual(await depotState(dir), before, "failed revoke/crl change nothing");

  await pkiOk(t, dir, ["revoke", "--reason", "keyCompromise", "alice"]);
  t.regex((await pki(dir, ["revoke", "alice"])).stderr, /already revoked/);
  const crl1 = await pkiOk(t, dir, ["crl", "--passphrase-file", "pass"]);
  const crl2 = await pkiOk(t, dir, ["crl", "--passphrase-file", "pass", "--next-update", "7d"]);
  const crlFile = join(dir, "ca.crl");
  writeFileSync(crlFile, crl2.stdout);
  t.is(readFileSync(await depotFile(dir, "ca.crl"), "utf8"), crl2.out, "the depot holds the latest CRL");
  const ca = await depotFile(dir, "ca.crt");
  const v = await openssl(["crl", "-in", crlFile, "-noout", "-verify", "-CAfile", ca]);
  t.is(v.code, 0);
  t.regex(v.stderr + v.out, /verify OK/);
  const text = (await openssl(["crl", "-in", crlFile, "-noout", "-text"])).out;
  t.regex(text, /Version 2/);
  t.regex(text, /X509v3 CRL Number: \n\s+2\n/);
  writeFileSync(join(dir, "first.crl"), crl1.stdout);
  t.regex((await openssl(["crl", "-in", join(dir, "first.crl"), "-noout", "-crlnumber"])).out, /crlNumber=(0x)?0?1\n/);
  t.regex(text, /X509v3 Authority Key Identifier/);
  const aliceSerial = (await openssl(["x509", "-in", await depotFile(dir, "certs/alice.crt"), "-noout", "-serial"])).out.trim().split("=")[1];
  t.regex(text, new RegExp(`Serial Number: ${aliceSerial}\\n\\s+Revocation Date: [^\\n]+\\n\\s+CRL entry extensions:\\n\\s+X509v3 CRL Reason Code: \\n\\s+Key Compromise`));
  t.notRegex(text, /Serial Number:[\s\S]*Serial Number:/, "only alice is revoked");
  const next = (await openssl(["crl", "-in", crlFile, "-noout", "-nextupdate", "-lastupdate"])).out;
  const [nu, lu] = next.trim().split("\n").map((l) => Date.parse(l.split("=")[1]));
  t.is(Math.round((nu - lu) / 864e5), 7);

  const revoked = await openssl(["verify", "-crl_check", "-CRLfile", crlFile, "-CAfile", ca, await depotFile(dir, "certs/alice.crt")]);
  t.not(revoked.code, 0);
  t.regex(revoked.out + revoked.stderr, /certificate revoked/);
  const fine = await openssl(["verify", "-crl_check", "-CRLfile", crlFile, "-CAfile", ca, await depotFile(dir, "certs/bob.crt")]);
  t.is(fine.code, 0, fine.out + fine.stderr);

  // export --crl carries the same CRL.
  const bobOut = await exportInsecure(t, dir, "bob", ["--crl"]);
  t.regex(bobOut.listing, /ca\.crl/);
  t.is(readFileSync(join(bobOut.out, "ca.crl"), "utf8"), crl2.out);
  const aliceOut = await exportInsecure(t, dir, "alice");
  const webOut = await exportInsecure(t, dir, "web");

  const port = await crlServer(t, { cert: readFileSync(webOut.crt), key: readFileSync(webOut.key), ca: readFileSync(ca), crl: crl2.stdout });
  const url = `https://localhost:${port}/`;
  const bobOk = await curl(["--cacert", ca, "--cert", bobOut.crt, "--key", bobOut.key, url]);
  t.is(bobOk.out, "ok", bobOk.stderr);
  const aliceNo = await curl(["--cacert", ca, "--cert", aliceOut.crt, "--key", aliceOut.key, url]);
  t.not(aliceNo.code, 0, "the revoked client is refused");
  t.notRegex(aliceNo.out, /ok/);
});

test("an intermediate's CRL: revoke under the intermediate, openssl -crl_check_all with both CRLs", async (t) => {
  const dir = await cheapDepot(t);
  await pkiOk(t, dir, ["init", "--intermediate", "issuing", "--passphrase-file", "pass"]);
  await issue(t, dir, "web", ["--issuer", "issuing"]);
  await issue(t, dir, "db", ["--issuer", "issuing"]);
  await pkiOk(t, dir, ["revoke", "--reason", "superseded", "db"]);
  const noCrl = await pki(dir, ["export", "--crl", "web"]);
  t.regex(noCrl.stderr, /^pki: no CRL of "issuing" yet: run 'pki crl --issuer issuing' first\n$/);
  const icrl = await pkiOk(t, dir, ["crl", "--issuer", "issuing", "--passphrase-file", "pass"]);
  const rcrl = await pkiOk(t, dir, ["crl", "--passphrase-file", "pass"]);
  const crls = join(dir, "crls.pem");
  writeFileSync(crls, icrl.out + rcrl.out);
  const ca = await depotFile(dir, "ca.crt");
  const inter = await depotFile(dir, "certs/issuing.crt");
  writeFileSync(join(dir, "issuing.crl"), icrl.stdout);
  t.is((await openssl(["crl", "-in", join(dir, "issuing.crl"), "-noout", "-verify", "-CAfile", inter])).code, 0);
  t.regex((await openssl(["crl", "-in", join(dir, "issuing.crl"), "-noout", "-text"])).out, /Superseded/);
  const args = ["verify", "-crl_check_all", "-CRLfile", crls, "-untrusted", inter, "-CAfile", ca];
  const db = await openssl([...args, await depotFile(dir, "certs/db.crt")]);
  t.regex(db.out + db.stderr, /certificate revoked/);
  const web = await openssl([...args, await depotFile(dir, "certs/web.crt")]);
  t.is(web.code, 0, web.out + web.stderr);
  const out = await exportInsecure(t, dir, "web", ["--crl", "--bundle"]);
  t.regex(out.listing, /issuing\.crl/);
  // --bundle: ca.pem is the root, web.chain.pem is leaf, intermediate, root — and openssl builds the path from them.
  t.is(readFileSync(join(out.out, "ca.pem"), "utf8"), readFileSync(ca, "utf8"));
  const bundle = readFileSync(join(out.out, "web.chain.pem"), "utf8");
  t.is(bundle, readFileSync(await depotFile(dir, "certs/web.crt"), "utf8") + readFileSync(inter, "utf8") + readFileSync(ca, "utf8"));
  const v = await openssl(["verify", "-CAfile", join(out.out, "ca.pem"), "-untrusted", join(out.out, "web.chain.pem"), out.crt]);
  t.is(v.code, 0, v.out + v.stderr);
});
