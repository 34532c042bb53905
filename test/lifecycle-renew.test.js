// CA lifecycle: renewal, expiry status with exit codes, validity flags and clamping, chains — judged by openssl.
import test from "ava";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { issue, openssl, pki, pkiOk, snapshot } from "./_helpers.js";
import { depotFile, replaceBlob } from "./_state.js";
import { chainFile, cheapDepot, countPem, exportInsecure, ext } from "./_lifecycle.js";

const x509field = async (crt, flag) => (await openssl(["x509", "-in", crt, "-noout", flag])).out.trim();
const pubkey = async (crt) => x509field(crt, "-pubkey");

test("renew keeps subject, SANs and usage, changes the serial; --rekey changes the key; the old cert stays in history", async (t) => {
  const dir = await cheapDepot(t);
  await issue(t, dir, "web", ["--server", "--ip", "10.0.0.1", "--domain", "web.example.com", "--organization", "Acme"]);
  let crt = await depotFile(dir, "certs/web.crt");
  const first = readFileSync(crt, "utf8");
  const firstSerial = await x509field(crt, "-serial");
  const firstKey = await pubkey(crt);

  await pkiOk(t, dir, ["renew", "--passphrase-file", "pass", "--expires", "90d", "web"]);
  crt = await depotFile(dir, "certs/web.crt");
  const secondSerial = await x509field(crt, "-serial");
  t.not(secondSerial, firstSerial);
  t.is(await pubkey(crt), firstKey, "without --rekey the key is kept");
  t.regex(await ext(crt, "subjectAltName"), /DNS:web\.example\.com, IP Address:10\.0\.0\.1/);
  t.regex(await ext(crt, "extendedKeyUsage"), /TLS Web Server Authentication\n$/);
  t.is(await x509field(crt, "-subject"), "subject=O = Acme, CN = web");
  const days = (Date.parse((await x509field(crt, "-enddate")).split("=")[1]) - Date.now()) / 864e5;
  t.true(days > 89 && days <= 90, `90 days, got ${days}`);
  const ca = await depotFile(dir, "ca.crt");
  t.is((await openssl(["verify", "-CAfile", ca, crt])).code, 0);
  const hist = await depotFile(dir, `history/web.${firstSerial.split("=")[1].toLowerCase()}.crt`);
  t.is(readFileSync(hist, "utf8"), first, "the old certificate is kept in history/");

  await pkiOk(t, dir, ["renew", "--rekey", "--passphrase-file", "pass", "--key-passphrase-file", "pass", "web"]);
  crt = await depotFile(dir, "certs/web.crt");
  t.not(await pubkey(crt), firstKey, "--rekey makes a new key");
  t.not(await x509field(crt, "-serial"), secondSerial);
  t.regex(await ext(crt, "subjectAltName"), /DNS:web\.example\.com, IP Address:10\.0\.0\.1/);
  // The new key (decrypted by export) matches the new certificate; the depot keeps it encrypted, 0600.
  const out = await exportInsecure(t, dir, "web");
  const keyPub = (await openssl(["pkey", "-in", out.key, "-pubout"])).out.trim();
  t.is(keyPub, await pubkey(crt));
  t.regex(readFileSync(await depotFile(dir, "certs/web.key"), "utf8"), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
  const st = JSON.parse((await pkiOk(t, dir, ["status", "--json", "web"])).out);
  t.is(st.history.length, 2);
  t.deepEqual(st.history.map((h) => h.serial.toUpperCase()), [firstSerial, secondSerial].map((s) => s.split("=")[1]));

  // Revoking an earlier serial goes into the CRL, the current cert stays good.
  await pkiOk(t, dir, ["revoke", "--serial", st.history[1].serial, "--reason", "superseded", "web"]);
  const crl = await pkiOk(t, dir, ["crl", "--passphrase-file", "pass"]);
  writeFileSync(join(dir, "ca.crl"), crl.stdout);
  const text = (await openssl(["crl", "-in", join(dir, "ca.crl"), "-noout", "-text"])).out;
  t.true(text.includes(`Serial Number: ${secondSerial.split("=")[1]}`), text);
  t.is((await openssl(["verify", "-crl_check", "-CRLfile", join(dir, "ca.crl"), "-CAfile", ca, crt])).code, 0);

  const before = snapshot(join(dir, ".pki"));
  t.regex((await pki(dir, ["renew", "--passphrase", "wrong", "web"])).stderr, /^pki: .*(passphrase|decrypt)/i);
  t.regex((await pki(dir, ["renew", "--passphrase-file", "pass", "ca"])).stderr, /^pki: renewing the root CA is not supported/);
  t.deepEqual(snapshot(join(dir, ".pki")), before, "failed renewals change nothing");
});

test("status: OK / WARN (N days) / EXPIRED / UNSIGNED with exit codes 0, 1, 2 — openssl -checkend agrees", async (t) => {
  const dir = await cheapDepot(t);
  await issue(t, dir, "good");
  let r = await pki(dir, ["status"]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.out, /^NAME\s+KIND\s+ISSUER\s+NOT AFTER\s+STATUS\n/);
  t.regex(r.out, /\nca\s+ca\s+-\s+\S+\s+OK\n/);
  t.regex(r.out, /\ngood\s+leaf\s+ca\s+\S+\s+OK\n/);

  await pkiOk(t, dir, ["new-cert", "--passphrase-file", "pass", "pending"]);
  r = await pki(dir, ["status"]);
  t.is(r.code, 0);
  t.regex(r.out, /\npending\s+leaf\s+-\s+-\s+UNSIGNED\n/);

  // Expires in a minute: WARN with the default --warn 30d, exit 1; openssl agrees it ends within 2 minutes.
  await pkiOk(t, dir, ["new-cert", "--passphrase-file", "pass", "soon"]);
  await pkiOk(t, dir, ["sign", "--passphrase-file", "pass", "--expires", "1m", "soon"]);
  const soon = await depotFile(dir, "certs/soon.crt");
  t.not((await openssl(["x509", "-in", soon, "-noout", "-checkend", "120"])).code, 0);
  r = await pki(dir, ["status"]);
  t.is(r.code, 1, r.out);
  t.regex(r.out, /\nsoon\s+leaf\s+ca\s+\S+\s+WARN \(0 days\)\n/);
  // A certificate expiring in 10 days: OK with --warn 1w, WARN (10 days) with --warn 30d.
  await issue(t, dir, "tendays", [], ["--expires", "10d"]);
  t.regex((await pki(dir, ["status", "--warn", "30d"])).out, /\ntendays\s+\S+\s+\S+\s+\S+\s+WARN \(10 days\)\n/);
  const json = JSON.parse((await pki(dir, ["status", "--json", "--warn", "1w"])).out);
  t.is(json.find((e) => e.name === "tendays").status, "OK");

  // Backdated and expired: EXPIRED and exit 2; openssl says the same.
  await pkiOk(t, dir, ["new-cert", "--passphrase-file", "pass", "old"]);
  const signed = await pkiOk(t, dir, ["sign", "--passphrase-file", "pass", "--not-before", "2020-01-01", "--expires", "2020-06-01", "old"]);
  t.regex(signed.stderr, /warning: the certificate is already expired/);
  const old = await depotFile(dir, "certs/old.crt");
  t.is(await x509field(old, "-startdate"), "notBefore=Jan  1 00:00:00 2020 GMT");
  t.not((await openssl(["x509", "-in", old, "-noout", "-checkend", "0"])).code, 0);
  const v = await openssl(["verify", "-CAfile", await depotFile(dir, "ca.crt"), old]);
  t.regex(v.out + v.stderr, /certificate has expired/);
  r = await pki(dir, ["status"]);
  t.is(r.code, 2);
  t.regex(r.out, /\nold\s+leaf\s+ca\s+2020-06-01T00:00:00.000Z\s+EXPIRED\n/);
  // Durations count from --not-before: a 1-day cert that started 3 days ago is expired.
  await issue(t, dir, "fixture", [], ["--not-before=-3d", "--expires", "1d"]);
  t.not((await openssl(["x509", "-in", await depotFile(dir, "certs/fixture.crt"), "-noout", "-checkend", "0"])).code, 0);
  // `status NAME` still shows one certificate's details.
  const one = JSON.parse((await pkiOk(t, dir, ["status", "--json", "good"])).out);
  t.is(one.status, "valid");
  t.is(one.usage, "peer");
  t.regex((await pki(dir, ["status", "--warn", "soon"])).stderr, /^pki: invalid duration/);
});

test("--expires: durations and dates; a certificate never outlives its issuer (clamped, with a warning)", async (t) => {
  const dir = await cheapDepot(t, ["--expires", "30d"]);
  const ca = await depotFile(dir, "ca.crt");
  const caEnd = await x509field(ca, "-enddate");
  const r = await pkiOk(t, dir, ["init", "--intermediate", "issuing", "--passphrase-file", "pass", "--expires", "2 years"]);
  t.regex(r.stderr, /warning: expiry clamped to the issuer's notAfter/);
  const inter = await depotFile(dir, "certs/issuing.crt");
  t.is(await x509field(inter, "-enddate"), caEnd);
  await issue(t, dir, "leaf", ["--issuer", "issuing"], ["--expires", "2030-01-01"]);
  t.is(await x509field(await depotFile(dir, "certs/leaf.crt"), "-enddate"), caEnd);
  for (const [spec, hours] of [["36h", 36], ["15m", 0.25], ["2d", 48]]) {
    const name = `d${hours}`.replace(".", "_");
    await issue(t, dir, name, [], ["--expires", spec]);
    const end = Date.parse((await x509field(await depotFile(dir, `certs/${name}.crt`), "-enddate")).split("=")[1]);
    const got = (end - Date.now()) / 3600e3;
    t.true(got > hours - 0.1 && got <= hours, `${spec}: ${got} hours`);
  }
  const before = snapshot(join(dir, ".pki"));
  await pkiOk(t, dir, ["new-cert", "--passphrase-file", "pass", "bad"]);
  const after = snapshot(join(dir, ".pki"));
  t.regex((await pki(dir, ["sign", "--passphrase-file", "pass", "--expires", "soonish", "bad"])).stderr, /^pki: invalid duration or date "soonish"/);
  t.regex((await pki(dir, ["sign", "--passphrase-file", "pass", "--not-before", "yesterday", "bad"])).stderr, /^pki: invalid --not-before "yesterday"/);
  t.regex((await pki(dir, ["sign", "--passphrase-file", "pass", "--not-before", "2030-01-01", "--expires", "2029-01-01", "bad"])).stderr, /^pki: .*not before the expiry/);
  t.deepEqual(snapshot(join(dir, ".pki")), after);
  t.notDeepEqual(before, after);
});

test("chain: leaf first, verified; a tampered issuer certificate is caught", async (t) => {
  const dir = await cheapDepot(t);
  await pkiOk(t, dir, ["init", "--intermediate", "issuing", "--passphrase-file", "pass"]);
  await issue(t, dir, "web", ["--issuer", "issuing"]);
  const full = await chainFile(t, dir, "web");
  const text = readFileSync(full, "utf8");
  t.is(countPem(text), 3);
  t.true(text.startsWith(readFileSync(await depotFile(dir, "certs/web.crt"), "utf8")));
  t.true(text.endsWith(readFileSync(await depotFile(dir, "ca.crt"), "utf8")));
  const ok = await openssl(["verify", "-CAfile", await depotFile(dir, "ca.crt"), "-untrusted", full, full]);
  t.is(ok.code, 0, ok.out + ok.stderr);
  t.is(countPem((await pkiOk(t, dir, ["chain", "ca"])).out), 1);
  await pkiOk(t, dir, ["new-cert", "--passphrase-file", "pass", "pending"]);
  t.regex((await pki(dir, ["chain", "pending"])).stderr, /^pki: "pending" is unsigned/);

  // Swap the intermediate's certificate for another CA's with the same name: chain must refuse.
  const other = await cheapDepot(t);
  await pkiOk(t, other, ["init", "--intermediate", "issuing", "--passphrase-file", "pass"]);
  await replaceBlob(dir, "issuing", "cert", readFileSync(await depotFile(other, "certs/issuing.crt"), "utf8"));
  const bad = await pki(dir, ["chain", "web"]);
  t.not(bad.code, 0);
  t.regex(bad.stderr, /^pki: the chain of "web" does not verify/);
  t.is(bad.out, "");
});
