// The life-cycle commands on a depot held in depot.db (the record store): list and status (streamed, with the
// filters the database answers), revoke, crl, renew (--rekey, an external key's new CSR) and rm, judged by openssl;
// every refusal one line, the depot byte-identical.
import test from "ava";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { PASS, openssl, pki, pkiOk, snapshot } from "./_helpers.js";
import { depotFiles, openDepot, put } from "./_depot.js";
import { dbDepot } from "./_life.js";
import { layout1Depot } from "./_state.js";

const env = { PKI_PASSPHRASE: PASS };

/** The depot's certificate of NAME (PEM) and the root's, read through the depot API. */
async function certs(depot, name) {
  const d = await openDepot({ depot, passphrase: PASS });
  try {
    return { ca: (await d.get("ca")).certificate, cert: (await d.get(name)).certificate, key: (await d.get(name)).key };
  } finally {
    await d.close();
  }
}

test("list and status on depot.db: the table, --json as one array, and --status/--expiring/--issuer", async (t) => {
  const { dir, depot } = await dbDepot(t, async (dir) => {
    await pkiOk(t, dir, ["issue", "web", "web.example", "10.0.0.1"], { env });
    await pkiOk(t, dir, ["issue", "soon", "soon.example", "--expires", "10d"], { env });
    await pkiOk(t, dir, ["issue", "old", "old.example"], { env });
    await pkiOk(t, dir, ["init", "--intermediate", "issuing"], { env });
    await pkiOk(t, dir, ["issue", "leaf2", "leaf2.example", "--issuer", "issuing"], { env });
    await pkiOk(t, dir, ["revoke", "old"]);
  });
  const table = (await pkiOk(t, dir, ["list"])).out.trim().split("\n");
  t.regex(table[0], /^NAME\s+STATUS\s+NOT AFTER\s+SANS$/);
  t.deepEqual(table.slice(1).map((l) => l.split(/\s+/)[0]), ["ca", "issuing", "leaf2", "old", "soon", "web"]);
  t.regex(table.find((l) => l.startsWith("web")), /^web\s+valid\s+\S+\s+10\.0\.0\.1,web\.example$/);
  const json = JSON.parse((await pkiOk(t, dir, ["list", "--json"])).out);
  t.is(json.length, 6);
  t.deepEqual(json.find((e) => e.name === "old").status, "revoked");
  t.deepEqual(Object.keys(json[0]), ["name", "kind", "issuer", "status", "serial", "notAfter", "sans"]);
  const names = async (...args) =>
    JSON.parse((await pkiOk(t, dir, ["list", "--json", ...args])).out).map((e) => e.name);
  t.deepEqual(await names("--status", "revoked"), ["old"]);
  t.deepEqual(await names("--issuer", "issuing"), ["leaf2"]);
  t.deepEqual(await names("--expiring", "30d"), ["soon"]);
  t.deepEqual(await names("--expiring", "400d", "--status", "signed", "--issuer", "ca"), ["soon", "web"],
    "by notAfter; the intermediate outlives 400 days");
  t.deepEqual(await names("--issuer", "nobody"), []);

  const status = await pki(dir, ["status"]);
  t.is(status.code, 1, "soon expires within 30 days: WARN");
  t.regex(status.out, /^soon\s+leaf\s+ca\s+\S+\s+WARN \(10 days\)$/m);
  t.regex(status.out, /^old\s+leaf\s+ca\s+\S+\s+REVOKED$/m);
  const st = JSON.parse((await pkiOk(t, dir, ["status", "web", "--json"])).out);
  t.is(st.status, "valid");
  t.deepEqual(st.sans, { ips: ["10.0.0.1"], domains: ["web.example"] });
  t.is(st.serial, json.find((e) => e.name === "web").serial);

  const before = depotFiles(depot);
  for (const [args, re, code] of [
    [["list", "--expiring", "soon"], /^pki: invalid duration/, 2],
    [["list", "--status", "valid"], /^pki: Invalid values:|^pki: .*status/, 2],
    [["list", "--issuer", "../x"], /^pki: /, 2],
    [["status", "nobody"], /^pki: unknown name "nobody": see 'pki list'\n$/, 1],
  ]) {
    const r = await pki(dir, args);
    t.is(r.code, code, `${args.join(" ")}: ${r.stderr}`);
    t.regex(r.stderr, re);
    t.is(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
  t.deepEqual(depotFiles(depot), before);
});

test("revoke → crl → renew (--rekey, own key passphrase) → rm on depot.db, judged by openssl", async (t) => {
  const { dir, depot } = await dbDepot(t, async (dir) => {
    await pkiOk(t, dir, ["issue", "web", "web.example"], { env });
    await pkiOk(t, dir, ["issue", "api", "api.example"], { env });
  });
  const web = await certs(depot, "web");
  const r = await pkiOk(t, dir, ["revoke", "--reason", "keyCompromise", "web"]);
  const serial = JSON.parse((await pkiOk(t, dir, ["status", "web", "--json"])).out).serial;
  t.regex(r.stderr, new RegExp(`^Revoked "web" \\(serial ${serial}, reason keyCompromise\\); publish it: pki crl\\n$`));
  const again = await pki(dir, ["revoke", "web"]);
  t.is(again.code, 1);
  t.is(again.stderr, `pki: "web" is already revoked (serial ${serial})\n`);

  const crl = await pkiOk(t, dir, ["crl"], { env });
  t.regex(crl.stderr, /^CRL #1 of "ca": 1 revoked, next update /);
  const crlFile = put(dir, "ca.crl", crl.out);
  const caFile = put(dir, "ca.pem", web.ca);
  const text = await openssl(["crl", "-in", crlFile, "-CAfile", caFile, "-noout", "-text"]);
  t.is(text.code, 0, text.stderr);
  t.regex(text.stderr + text.out, /verify OK/);
  t.regex(text.out, new RegExp(`Serial Number: ${serial.toUpperCase()}[\\s\\S]*Key Compromise`));
  const webFile = put(dir, "web.pem", web.cert);
  const v = await openssl(["verify", "-crl_check", "-CRLfile", crlFile, "-CAfile", caFile, webFile]);
  t.not(v.code, 0);
  t.regex(v.out + v.stderr, /certificate revoked/);
  t.regex((await pkiOk(t, dir, ["crl"], { env })).stderr, /^CRL #2 of "ca"/, "the CRL number grows");

  // A key revoked for keyCompromise is never certified again: renew it with --rekey.
  const before = depotFiles(depot);
  const same = await pki(dir, ["renew", "web"], { env });
  t.is(same.code, 1);
  t.regex(same.stderr,
    /^pki: a certificate of "web" for its current key was revoked for keyCompromise: renew with --rekey\n$/);
  t.deepEqual(depotFiles(depot), before);
  put(dir, "own.pass", "web's own passphrase\n");
  const rk = await pkiOk(t, dir, ["renew", "--rekey", "--key-type", "rsa", "--key-passphrase-file", "own.pass", "web"],
    { env });
  t.regex(rk.stderr, new RegExp(`^Renewed "web" with a new key: serial ${serial} -> [0-9a-f]+, valid until `));
  const renewed = await certs(depot, "web");
  t.not(renewed.cert, web.cert);
  const keyFile = put(dir, "web.key", renewed.key);
  t.not((await openssl(["pkey", "-in", keyFile, "-passin", `pass:${PASS}`, "-noout"])).code, 0);
  const pub = await openssl(["pkey", "-in", keyFile, "-passin", "pass:web's own passphrase", "-pubout"]);
  t.is(pub.code, 0, pub.stderr);
  t.is(pub.out, (await openssl(["x509", "-in", put(dir, "w2.pem", renewed.cert), "-noout", "-pubkey"])).out);
  t.regex((await openssl(["x509", "-in", join(dir, "w2.pem"), "-noout", "-text"])).out, /rsaEncryption/);
  const st = JSON.parse((await pkiOk(t, dir, ["status", "web", "--json"])).out);
  t.is(st.history.length, 1);
  t.is(st.history[0].serial, serial);
  t.is(st.history[0].revoked.reason, "keyCompromise");
  t.is(st.keyType, "RSA 2048");
  const ok = await openssl(["verify", "-x509_strict", "-CAfile", caFile, join(dir, "w2.pem")]);
  t.is(ok.code, 0, ok.stderr);

  // Plain renew: same key, new serial; the CRL still lists the revoked past certificate.
  const api = await certs(depot, "api");
  await pkiOk(t, dir, ["renew", "--expires", "90d", "api"], { env });
  const api2 = await certs(depot, "api");
  const pk = (pem, n) => openssl(["x509", "-in", put(dir, n, pem), "-noout", "-pubkey"]);
  t.is((await pk(api2.cert, "a2.pem")).out, (await pk(api.cert, "a1.pem")).out);
  t.not(api2.cert, api.cert);

  // rm: a valid certificate stays; revoked, it goes and its revocation stays on the CRL.
  const rmValid = await pki(dir, ["rm", "api"]);
  t.is(rmValid.code, 1);
  t.regex(rmValid.stderr, /^pki: "api" is valid until \S+: revoke it first \('pki revoke api'\)/);
  await pkiOk(t, dir, ["revoke", "api"]);
  const apiSerial = JSON.parse((await pkiOk(t, dir, ["status", "api", "--json"])).out).serial;
  const rm = await pkiOk(t, dir, ["rm", "api"]);
  t.regex(rm.stderr, new RegExp(`^Removed "api" \\(serial ${apiSerial} stays reserved`));
  t.false(JSON.parse((await pkiOk(t, dir, ["list", "--json"])).out).some((e) => e.name === "api"));
  const crl3 = put(dir, "ca3.crl", (await pkiOk(t, dir, ["crl"], { env })).out);
  const listed = (await openssl(["crl", "-in", crl3, "-noout", "-text"])).out;
  t.regex(listed, new RegExp(`Serial Number: ${apiSerial.toUpperCase()}`));
  t.regex(listed, new RegExp(`Serial Number: ${serial.toUpperCase()}`));
  const rootRm = await pki(dir, ["rm", "ca"]);
  t.is(rootRm.stderr, "pki: the root CA cannot be removed: retire the depot instead\n");
  t.is((await pki(dir, ["revoke", "ca"])).stderr,
    "pki: the root CA cannot be revoked by itself: retire the depot instead\n");
});

test("renew --csr on depot.db: an external key's holder brings a new request; --rekey is refused", async (t) => {
  const { dir, depot } = await dbDepot(t, async (dir) => {
    const key = join(dir, "ext.key"), csr = join(dir, "ext.csr");
    await openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
      "-out", csr, "-subj", "/CN=ext", "-addext", "subjectAltName=DNS:ext.example"]);
    await pkiOk(t, dir, ["sign", "--csr", csr, "--passphrase-file", "pass", "ext"]);
  });
  const before = depotFiles(depot);
  const rekey = await pki(dir, ["renew", "--rekey", "ext"], { env });
  t.is(rekey.code, 1);
  t.regex(rekey.stderr, /^pki: the key of "ext" is held elsewhere: renew with --csr FILE/);
  t.deepEqual(depotFiles(depot), before);
  const next = join(dir, "next.key"), nextCsr = join(dir, "next.csr");
  await openssl(["req", "-new", "-newkey", "ed25519", "-nodes", "-keyout", next, "-out", nextCsr, "-subj", "/CN=ext"]);
  await pkiOk(t, dir, ["renew", "--csr", nextCsr, "ext"], { env });
  const { ca, cert } = await certs(depot, "ext");
  const certPub = (await openssl(["x509", "-in", put(dir, "ext.pem", cert), "-noout", "-pubkey"])).out;
  t.is(certPub, (await openssl(["pkey", "-in", next, "-pubout"])).out, "the new certificate carries the new key");
  t.regex((await openssl(["x509", "-in", join(dir, "ext.pem"), "-noout", "-ext", "subjectAltName"])).out,
    /DNS:ext\.example/, "SANs kept");
  const v = await openssl(["verify", "-x509_strict", "-CAfile", put(dir, "ca.pem", ca), join(dir, "ext.pem")]);
  t.is(v.code, 0, v.stderr);
  const st = JSON.parse((await pkiOk(t, dir, ["status", "ext", "--json"])).out);
  t.is(st.keyType, "Ed25519");
  t.true(st.external);
  t.is(st.history.length, 1);
});

test("list's filters on a layout-1 depot read it as a snapshot: the same answers, nothing on disk changed", async (t) => {
  const dir = layout1Depot(t), depot = join(dir, ".pki");
  const before = snapshot(depot);
  const names = async (...args) =>
    JSON.parse((await pkiOk(t, dir, ["list", "--json", ...args])).out).map((e) => [e.name, e.status]);
  t.deepEqual(await names("--status", "revoked"), [["client1", "revoked"]]);
  t.deepEqual(await names("--issuer", "inter", "--status", "signed"), [["api", "valid"], ["db", "valid"]]);
  t.deepEqual(snapshot(depot), before);
  t.false(existsSync(join(depot, "depot.db")));
});
