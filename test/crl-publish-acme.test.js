// CRL distribution points through `pki acme serve` (issue 27): a certificate an ACME client (acme-client, http-01)
// obtains from a CA made with --crl-url names the URL, and the server's --crl-listen listener publishes the CRL
// there: openssl verify -crl_download accepts the certificate, then refuses it once `pki revoke` and `pki crl`
// (other processes) recorded its revocation.
import test from "ava";
import acme from "acme-client";
import https from "node:https";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { curl, openssl, pkiOk } from "./_helpers.js";
import { challengeServer, depotCert, freePort, newDepot, readyOrder, startAcme } from "./_acme.js";

test("an ACME certificate names the CA's CRL URL; acme serve --crl-listen publishes it; revocation shows", async (t) => {
  t.timeout(180_000);
  const crlPort = await freePort();
  const url = `http://127.0.0.1:${crlPort}/pki/root.crl`;
  const dir = await newDepot(t, ["--crl-url", url]);
  const { port, tokens } = await challengeServer(t);
  const s = await startAcme(t, dir, ["--allow", "*.cdp.test", "--http-01-port", String(port),
    "--resolve", "a.cdp.test=127.0.0.1", "--crl-listen", `127.0.0.1:${crlPort}`]);
  t.regex(s.log(), /Publishing CRLs on http:\/\/127\.0\.0\.1:\d+ \(ca \/pki\/root\.crl\)/);
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
