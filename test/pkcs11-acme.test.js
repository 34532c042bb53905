// pki acme serve on a CA whose key is in a PKCS#11 token (issue 25), on a real SoftHSM2 token: the server opens the
// token's session once at start and lego obtains a certificate that openssl verifies under the token CA; a token
// removed mid-run makes a finalize answer 503 with Retry-After, and once it is back the server signs again.
import test from "ava";
import acme from "acme-client";
import { importPKCS8 } from "jose";
import https from "node:https";
import { readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  challengeServer, checkIssued, freePort, logged, newKey, rawClient, readyOrder, request, startAcme,
} from "./_acme.js";
import { PASS, pki, run, tempDir } from "./_helpers.js";
import { softhsm } from "./_softhsm.js";

test("lego gets a certificate from pki acme serve whose CA key is in a token", async (t) => {
  t.timeout(240_000);
  const hsm = await softhsm(t);
  const dir = tempDir(t);
  writeFileSync(join(dir, "pass"), `${PASS}\n`);
  const pinFile = join(hsm.dir, "pin");
  writeFileSync(pinFile, `${hsm.pin}\n`);
  const init = await pki(dir, ["init", "--passphrase-file", "pass", "--ca-key",
    hsm.uri("object=acme-ca", `&pin-source=file:${pinFile}`)], { env: hsm.env });
  t.is(init.code, 0, init.stderr);
  const http = await freePort();
  const s = await startAcme(t, dir, ["--allow", "*.lego.test", "--http-01-port", String(http), "--resolve",
    "web.lego.test=127.0.0.1"], undefined, { SOFTHSM2_CONF: hsm.env.SOFTHSM2_CONF });
  const ca = join(dir, "ca.pem");
  const got = await run(process.execPath, [join(import.meta.dirname, "_depot-child.mjs"), join(dir, ".pki"), PASS,
    JSON.stringify([["get", "ca"]])], { env: hsm.env });
  writeFileSync(ca, JSON.parse(got.out).results[0].certificate);
  const r = await run("lego", ["--accept-tos", "--email", "ops@lego.test", "--server", s.url, "--path",
    join(dir, "lego"), "--http", "--http.port", `127.0.0.1:${http}`, "-d", "web.lego.test", "run"],
  { env: { ...process.env, LEGO_CA_CERTIFICATES: ca }, timeout: 120_000 });
  t.is(r.code, 0, `lego: ${r.stderr}\n--- server log ---\n${s.log()}`);
  await logged(s, /validation http-01 web\.lego\.test: valid/);
  const certs = join(dir, "lego", "certificates");
  await checkIssued(t, dir, join(certs, "web.lego.test.crt"), ["web.lego.test"]);
});

test("the token removed mid-run: finalize answers 503 with Retry-After; the token back, the same order is issued",
  async (t) => {
    t.timeout(240_000);
    const hsm = await softhsm(t);
    const dir = tempDir(t);
    writeFileSync(join(dir, "pass"), `${PASS}\n`);
    const init = await pki(dir, ["init", "--passphrase-file", "pass", "--ca-key", hsm.uri("object=acme-ca")],
      { env: { ...hsm.env, PKI_PKCS11_PIN: hsm.pin } });
    t.is(init.code, 0, init.stderr);
    const ch = await challengeServer(t);
    const s = await startAcme(t, dir, ["--allow", "*.hsm.test", "--http-01-port", String(ch.port), "--resolve",
      "a.hsm.test=127.0.0.1"], undefined, { SOFTHSM2_CONF: hsm.env.SOFTHSM2_CONF, PKI_PKCS11_PIN: hsm.pin });
    const got = await run(process.execPath, [join(import.meta.dirname, "_depot-child.mjs"), join(dir, ".pki"), PASS,
      JSON.stringify([["get", "ca"]])], { env: { ...hsm.env, PKI_PKCS11_PIN: hsm.pin } });
    const caPem = JSON.parse(got.out).results[0].certificate;
    acme.axios.defaults.httpsAgent = new https.Agent({ ca: caPem });
    const acct = await newKey();
    const client = new acme.Client({ directoryUrl: s.url, accountKey: acct.pem });
    await client.createAccount({ termsOfServiceAgreed: true });
    const order = await readyOrder(client, ch.tokens, { type: "dns", value: "a.hsm.test" });
    const [, csr] = await acme.crypto.createCsr({ commonName: "a.hsm.test" });
    const csrB64 = Buffer.from(csr.toString().replace(/-----[^-]+-----|\s/g, ""), "base64").toString("base64url");
    const raw = await rawClient(caPem, s.url);
    const key = await importPKCS8(acct.pem, "ES256");
    const finalize = async () =>
      request(caPem, order.finalize, {
        body: await raw.sign(order.finalize, { csr: csrB64 }, { key, kid: client.getAccountUrl() }),
      });
    const tokens = join(hsm.dir, "tokens");
    const [sub] = readdirSync(tokens);
    renameSync(join(tokens, sub), join(hsm.dir, "away")); // the token is gone, as a pulled HSM would be
    let down;
    try {
      down = await finalize();
    } finally {
      renameSync(join(hsm.dir, "away"), join(tokens, sub));
    }
    t.is(down.status, 503, down.text);
    t.regex(down.headers["retry-after"] ?? "", /^\d+$/);
    t.is(down.json.type, "urn:ietf:params:acme:error:serverInternal");
    t.regex(down.json.detail, /the CA's key is unavailable for a moment/);
    t.is(s.child.exitCode, null, "the server kept running");
    const up = await finalize();
    t.is(up.status, 200, up.text);
    t.is(up.json.status, "valid");
    const cert = await client.getCertificate({ ...order, certificate: up.json.certificate });
    const file = join(dir, "a.crt");
    writeFileSync(file, cert);
    await checkIssued(t, dir, file, ["a.hsm.test"]);
    t.notRegex(s.log(), /\n\s+at /, "no stack trace in the server's log");
    t.truthy(readFileSync(file));
  });
