// CRL distribution points through `pki acme serve` (issue 27): a certificate an ACME client (acme-client, http-01)
// obtains from a CA made with --crl-url names the URL, and the server publishes the CRL there, listening on the
// URL's port without being told to: openssl verify -crl_download accepts the certificate, then refuses it once
// `pki revoke` and `pki crl` (other processes) recorded its revocation. A taken port stops it before it starts.
import test from "ava";
import acme from "acme-client";
import https from "node:https";
import { createServer } from "node:net";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { curl, openssl, pki, pkiOk } from "./_helpers.js";
import { acmeSnapshot, challengeServer, depotCert, freePort, newDepot, readyOrder, startAcme } from "./_acme.js";

test("an ACME certificate names the CA's CRL URL; acme serve publishes it on its port; revocation shows", async (t) => {
  t.timeout(180_000);
  const crlPort = await freePort();
  const url = `http://127.0.0.1:${crlPort}/pki/root.crl`;
  const dir = await newDepot(t, ["--crl-url", url]);
  const { port, tokens } = await challengeServer(t);
  const s = await startAcme(t, dir, ["--allow", "*.cdp.test", "--http-01-port", String(port),
    "--resolve", "a.cdp.test=127.0.0.1"]);
  t.regex(s.log(), new RegExp(`Publishing CRLs on http://127\\.0\\.0\\.1:${crlPort} \\(ca /pki/root\\.crl\\)`));
  const caFile = await depotCert(dir);
  acme.axios.defaults.httpsAgent = new https.Agent({ ca: readFileSync(caFile) });
  const c = new acme.Client({ directoryUrl: s.url, accountKey: await acme.crypto.createPrivateEcdsaKey() });
  await c.createAccount({ termsOfServiceAgreed: true });
  const order = await readyOrder(c, tokens, { type: "dns", value: "a.cdp.test" });
  const [, csr] = await acme.crypto.createCsr({ commonName: "a.cdp.test" });
  const pem = (await c.getCertificate(await c.finalizeOrder(order, csr))).split(/(?<=-----END CERTIFICATE-----)/)[0];
  const leaf = join(dir, "a.pem");
  writeFileSync(leaf, pem.trim() + "\n");
  const ext = await openssl(["x509", "-in", leaf, "-noout", "-ext", "crlDistributionPoints"]);
  t.regex(ext.out, new RegExp(`URI:${url.replace(/[./]/g, "\\$&")}\\n`));

  const verify = () => openssl(["verify", "-x509_strict", "-crl_check", "-crl_download", "-CAfile", caFile, leaf]);
  t.regex((await curl(["-s", "-w", "%{http_code}", "-o", "/dev/null", url])).out, /^200$/,
    "the server signed the missing CRL itself (it holds the CA key)");
  let r = await verify();
  t.is(r.code, 0, r.out + r.stderr);
  await pkiOk(t, dir, ["crl", "--passphrase-file", "pass"]);
  r = await verify();
  t.is(r.code, 0, r.out + r.stderr);
  const serial = /serial=([0-9A-F]+)/.exec((await openssl(["x509", "-in", leaf, "-noout", "-serial"])).out)[1];
  const list = JSON.parse((await pkiOk(t, dir, ["list", "--json"])).out);
  const entry = list.find((e) => e.serial === serial.toLowerCase().replace(/^0+/, ""));
  await pkiOk(t, dir, ["revoke", entry.name]);
  await pkiOk(t, dir, ["crl", "--passphrase-file", "pass"]);
  r = await verify();
  t.not(r.code, 0);
  t.regex(r.out + r.stderr, /certificate revoked/);
});

test("acme serve: the CRL URL's port taken is one line, exit 1, before anything is made or signed", async (t) => {
  const crlPort = await freePort();
  const dir = await newDepot(t, ["--crl-url", `http://127.0.0.1:${crlPort}/pki/root.crl`]);
  const holder = createServer().listen(crlPort, "127.0.0.1");
  await new Promise((r) => holder.once("listening", r));
  t.teardown(() => holder.close());
  const before = await acmeSnapshot(dir);
  // on a build that does not listen there, the server would start and be stopped by the timeout: a failure too
  const r = await pki(dir, ["acme", "serve", "--passphrase-file", "pass", "--port", "0"], { timeout: 60_000 });
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, new RegExp(`^pki: cannot publish the CRLs of http://127\\.0\\.0\\.1:${crlPort}/pki/root\\.crl ` +
    `on 127\\.0\\.0\\.1, port ${crlPort}: the port is in use: [^\\n]*--crl-listen none[^\\n]*\\n$`));
  t.deepEqual(await acmeSnapshot(dir), before, "no TLS certificate made, no CRL signed");
});
