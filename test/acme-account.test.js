// Account lifecycle and the less travelled paths, with acme-client: contact update, keyChange, deactivation,
// an IP identifier (RFC 8738) over http-01, and revocation signed by the certificate's own key.
import test from "ava";
import acme from "acme-client";
import https from "node:https";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { exportJWK, FlattenedSign, importPKCS8 } from "jose";
import {
  challengeServer, depotCert, depotEntries, isDb, newDepot, startAcme, doctorClean, logged, readyOrder,
} from "./_acme.js";
import { openssl, pkiOk, run } from "./_helpers.js";

async function setup(t, o = {}) {
  const dir = await newDepot(t);
  if (o.intermediate) await pkiOk(t, dir, ["init", "--intermediate", "issuing", "--passphrase-file", "pass"]);
  const { port, tokens } = await challengeServer(t);
  const s = await startAcme(t, dir, [
    ...(o.intermediate ? ["--issuer", "issuing"] : []),
    "--allow",
    "acct.test,127.0.0.0/8",
    "--http-01-port",
    String(port),
    "--resolve",
    "acct.test=127.0.0.1",
  ]);
  acme.axios.defaults.httpsAgent = new https.Agent({ ca: readFileSync(await depotCert(dir)) });
  const client = async () =>
    new acme.Client({
      directoryUrl: s.url,
      accountKey: await acme.crypto.createPrivateEcdsaKey(),
      backoffAttempts: 150, // a loaded CI machine: up to ~2.5 minutes of polling
      backoffMin: 100,
      backoffMax: 1000,
    });
  const obtain = (c, csr) =>
    c.auto({
      csr,
      termsOfServiceAgreed: true,
      challengePriority: ["http-01"],
      skipChallengeVerification: true,
      challengeCreateFn: async (_a, ch, ka) => {
        tokens.set(ch.token, ka);
      },
      challengeRemoveFn: async () => {},
    });
  return { dir, s, client, obtain, tokens };
}

test.serial(
  "contact update, keyChange (the old key stops working), deactivation (the account is refused)",
  async (t) => {
    const { s, client } = await setup(t);
    const c = await client();
    await c.createAccount({ termsOfServiceAgreed: true, contact: ["mailto:ops@acct.test"] });
    const url = c.getAccountUrl();
    t.deepEqual((await c.updateAccount({ contact: ["mailto:oncall@acct.test"] })).contact, ["mailto:oncall@acct.test"]);
    const oldKey = c.api.http.accountKey;
    await c.updateAccountKey(await acme.crypto.createPrivateEcdsaKey());
    await logged(s, /POST \/acme\/key-change 200/);
    t.is(c.getAccountUrl(), url);
    t.is(
      (await c.createOrder({ identifiers: [{ type: "dns", value: "acct.test" }] })).status,
      "pending",
      "the new key signs",
    );
    const stale = new acme.Client({ directoryUrl: s.url, accountKey: oldKey, accountUrl: url });
    await t.throwsAsync(stale.createOrder({ identifiers: [{ type: "dns", value: "acct.test" }] }), {
      message: /does not verify/,
    });
    t.is((await c.updateAccount({ status: "deactivated" })).status, "deactivated");
    await t.throwsAsync(c.createOrder({ identifiers: [{ type: "dns", value: "acct.test" }] }), {
      message: /deactivated/,
    });
  },
);

test.serial(
  "an IP identifier (RFC 8738): the certificate carries the IP SAN only; as a dns identifier it is refused",
  async (t) => {
    const { dir, client, tokens } = await setup(t);
    const c = await client();
    await c.createAccount({ termsOfServiceAgreed: true });
    await t.throwsAsync(c.createOrder({ identifiers: [{ type: "dns", value: "127.0.0.1" }] }), {
      message: /use an identifier of type "ip"/,
    });
    const order = await readyOrder(c, tokens, { type: "ip", value: "127.0.0.1" });
    const [, csr] = await acme.crypto.createCsr({ altNames: ["127.0.0.1"] }, await acme.crypto.createPrivateEcdsaKey());
    const pem = await c.getCertificate(await c.finalizeOrder(order, csr));
    const leaf = new X509Certificate(pem);
    t.is(leaf.subjectAltName, "IP Address:127.0.0.1");
    t.true(leaf.verify(new X509Certificate(readFileSync(await depotCert(dir))).publicKey));
  },
);

test.serial(
  "revokeCert signed by the certificate's key (jwk), with a reason; a second time: alreadyRevoked",
  async (t) => {
    const { dir, s, client, obtain } = await setup(t);
    const certKey = await acme.crypto.createPrivateEcdsaKey();
    const [, csr] = await acme.crypto.createCsr({ commonName: "acct.test" }, certKey);
    const pem = await obtain(await client(), csr);
    const der = new X509Certificate(pem).raw;
    const key = await importPKCS8(createPrivateKey(certKey).export({ type: "pkcs8", format: "pem" }), "ES256");
    const jwk = await exportJWK(createPrivateKey(certKey));
    delete jwk.d;
    const directory = (await acme.axios.get(s.url)).data;
    const revoke = async () => {
      const nonce = (await acme.axios.head(directory.newNonce)).headers["replay-nonce"];
      const body = await new FlattenedSign(
        new TextEncoder().encode(JSON.stringify({ certificate: der.toString("base64url"), reason: 1 })),
      )
        .setProtectedHeader({ alg: "ES256", jwk, nonce, url: directory.revokeCert })
        .sign(key);
      return acme.axios.post(directory.revokeCert, body, {
        headers: { "content-type": "application/jose+json" },
        validateStatus: () => true,
      });
    };
    t.is((await revoke()).status, 200);
    const entry = (await depotEntries(dir)).find((e) => e.acme);
    t.is(entry.status, "revoked");
    t.is(entry.revoked.reason, "keyCompromise");
    t.is((await revoke()).data.type, "urn:ietf:params:acme:error:alreadyRevoked");
    await doctorClean(t, dir);
  },
);

test.serial(
  "an intermediate as --issuer: the download is the leaf then the intermediate, verifying to the root",
  async (t) => {
    const { dir, client, obtain } = await setup(t, { intermediate: true });
    const [, csr] = await acme.crypto.createCsr({ commonName: "acct.test" }, await acme.crypto.createPrivateEcdsaKey());
    const pem = await obtain(await client(), csr);
    const certs = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g);
    t.is(certs.length, 2, "leaf and intermediate, not the root");
    t.regex(new X509Certificate(certs[1]).subject, /CN=issuing/);
    writeFileSync(join(dir, "leaf.pem"), certs[0]);
    writeFileSync(join(dir, "chain.pem"), certs[1]);
    const v = await openssl([
      "verify",
      "-x509_strict",
      "-CAfile",
      await depotCert(dir),
      "-untrusted",
      join(dir, "chain.pem"),
      join(dir, "leaf.pem"),
    ]);
    t.is(v.code, 0, v.stderr + v.out);
    const entry = (await depotEntries(dir)).find((e) => e.acme);
    t.is(entry.issuer, "issuing");
    await doctorClean(t, dir);
  },
);

test.serial(
  "a crash between the index and the order file: finalizing again returns the recorded certificate",
  async (t) => {
    const { dir, s, client, tokens } = await setup(t);
    const c = await client();
    await c.createAccount({ termsOfServiceAgreed: true });
    const order = await readyOrder(c, tokens, { type: "dns", value: "acct.test" });
    const csr = async () =>
      (await acme.crypto.createCsr({ commonName: "acct.test" }, await acme.crypto.createPrivateEcdsaKey()))[1];
    const first = new X509Certificate(await c.getCertificate(await c.finalizeOrder(order, await csr())));
    await s.stop();
    // What a crash after the index write leaves on layout 1: the order file as it was before finalize. depot.db
    // writes both in one transaction; the same state there is an order row edited back to pending.
    const id = order.url.split("/").pop();
    if (isDb(dir)) {
      const sql = `UPDATE acme SET body = json_set(json_remove(body, '$.cert'), '$.status', 'pending')
        WHERE kind = 'orders' AND id = '${id}'; SELECT changes();`;
      const r = await run("sqlite3", [join(dir, ".pki", "depot.db"), sql]);
      t.is(r.out.trim(), "1", r.stderr);
    } else {
      const file = join(dir, ".pki", "acme", "orders", `${id}.json`);
      const saved = JSON.parse(readFileSync(file, "utf8"));
      writeFileSync(file, JSON.stringify({ ...saved, status: "pending", cert: undefined }));
    }
    const s2 = await startAcme(t, dir, s.args, s.port);
    const again = await c.finalizeOrder(order, await csr());
    t.is(again.status, "valid");
    t.is(new X509Certificate(await c.getCertificate(again)).serialNumber, first.serialNumber, "no second certificate");
    t.is((await depotEntries(dir)).filter((e) => e.acme).length, 1);
    await logged(s2, /finalize 200/);
  },
);
