// Real ACME clients against `pki acme serve`: certbot (standalone http-01) and lego (http-01, tls-alpn-01),
// each obtaining, renewing and revoking; the depot's CRL and index agree with the ACME revocations.
import test from "ava";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { openssl, run } from "./_helpers.js";
import {
  checkIssued, crlPem, depotCert, depotEntries, doctorClean, freePort, listJson, logged, newDepot, startAcme,
} from "./_acme.js";

async function crlSerials(t, dir) {
  const text = await openssl(["crl", "-noout", "-text"], { input: await crlPem(t, dir) });
  return [...text.out.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => m[1].toLowerCase());
}

test("certbot: certonly --standalone for web.test, renew --force-renewal, revoke; the next pki crl lists it", async (t) => {
  t.timeout(240_000);
  const dir = await newDepot(t);
  const http = await freePort();
  const s = await startAcme(t, dir, [
    "--allow",
    "web.test",
    "--http-01-port",
    String(http),
    "--resolve",
    "web.test=127.0.0.1",
  ]);
  const cb = [
    "--non-interactive",
    "--config-dir",
    join(dir, "cb", "config"),
    "--work-dir",
    join(dir, "cb", "work"),
    "--logs-dir",
    join(dir, "cb", "logs"),
    "--server",
    s.url,
  ];
  const env = { ...process.env, REQUESTS_CA_BUNDLE: await depotCert(dir) };
  const certbot = async (args) => {
    const r = await run("certbot", [...args, ...cb], { env, timeout: 120_000 });
    t.is(r.code, 0, `certbot ${args[0]}: ${r.stderr}\n--- server log ---\n${s.log()}`);
    return r;
  };
  await certbot([
    "certonly",
    "--standalone",
    "--agree-tos",
    "--register-unsafely-without-email",
    "--http-01-port",
    String(http),
    "--http-01-address",
    "127.0.0.1",
    "-d",
    "web.test",
  ]);
  const live = join(dir, "cb", "config", "live", "web.test");
  const first = await checkIssued(t, dir, join(live, "cert.pem"), ["web.test"], join(live, "chain.pem"));
  await logged(s, /POST \/acme\/new-account 201/);

  await certbot(["renew", "--force-renewal", "--no-random-sleep-on-renew"]);
  const second = await checkIssued(t, dir, join(live, "cert.pem"), ["web.test"], join(live, "chain.pem"));
  t.not(first, second, "the renewal is a new certificate");

  const acmeEntries = (await listJson(dir)).filter((e) => e.acme);
  t.deepEqual(
    acmeEntries.map((e) => e.serial).sort(),
    [first, second].sort(),
    "every issued certificate is in the index",
  );

  await certbot([
    "revoke",
    "--cert-path",
    join(live, "cert.pem"),
    "--reason",
    "keycompromise",
    "--no-delete-after-revoke",
  ]);
  t.deepEqual(await crlSerials(t, dir), [second]);
  const entry = (await depotEntries(dir)).find(
    (e) => e.serial === second,
  );
  t.is(entry.status, "revoked");
  t.is(entry.revoked.reason, "keyCompromise");
  await doctorClean(t, dir);
});

test("lego: http-01 and tls-alpn-01 certificates, renew and revoke (LEGO_CA_CERTIFICATES = the depot CA)", async (t) => {
  t.timeout(240_000);
  const dir = await newDepot(t);
  const [http, alpn] = [await freePort(), await freePort()];
  const s = await startAcme(t, dir, [
    "--allow",
    "*.lego.test",
    "--http-01-port",
    String(http),
    "--tls-alpn-01-port",
    String(alpn),
    "--resolve",
    "web.lego.test=127.0.0.1,alpn.lego.test=127.0.0.1",
  ]);
  const env = { ...process.env, LEGO_CA_CERTIFICATES: await depotCert(dir) };
  const lego = async (args, what) => {
    const r = await run(
      "lego",
      ["--accept-tos", "--email", "ops@lego.test", "--server", s.url, "--path", join(dir, "lego"), ...args],
      { env, timeout: 120_000 },
    );
    t.is(r.code, 0, `lego ${what}: ${r.stderr}\n--- server log ---\n${s.log()}`);
    return r;
  };
  const certs = join(dir, "lego", "certificates");
  const httpArgs = ["--http", "--http.port", `127.0.0.1:${http}`, "-d", "web.lego.test"];
  await lego([...httpArgs, "run"], "run (http-01)");
  await logged(s, /validation http-01 web\.lego\.test: valid/);
  const a = await checkIssued(t, dir, join(certs, "web.lego.test.crt"), ["web.lego.test"]);
  await lego(["--tls", "--tls.port", `127.0.0.1:${alpn}`, "-d", "alpn.lego.test", "run"], "run (tls-alpn-01)");
  await logged(s, /validation tls-alpn-01 alpn\.lego\.test: valid/);
  await checkIssued(t, dir, join(certs, "alpn.lego.test.crt"), ["alpn.lego.test"]);

  await lego([...httpArgs, "renew", "--days", "9999", "--no-random-sleep"], "renew");
  const b = await checkIssued(t, dir, join(certs, "web.lego.test.crt"), ["web.lego.test"]);
  t.not(a, b);
  await lego([...httpArgs, "revoke"], "revoke");
  t.deepEqual(await crlSerials(t, dir), [b]);
  const pem = readFileSync(join(dir, "lego", "certificates", "alpn.lego.test.crt"), "utf8");
  t.true(pem.split("BEGIN CERTIFICATE").length - 1 >= 2, "the download is the leaf then its chain");
  await doctorClean(t, dir);
});
