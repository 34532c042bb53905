// Load and restart with the npm acme-client: 100 orders from 20 accounts in parallel, then an order created
// before a restart of `pki acme serve` and finalized after it.
import test from "ava";
import acme from "acme-client";
import https from "node:https";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  challengeServer, depotCert, depotEntries, doctorClean, logged, newDepot, readyOrder, serialsRecorded, startAcme,
} from "./_acme.js";

// acme-client has one shared axios instance: the tests run one after the other, each trusting its own depot CA.
async function client(dir, url, accountKey) {
  acme.axios.defaults.httpsAgent = new https.Agent({ ca: readFileSync(await depotCert(dir)), keepAlive: true });
  return new acme.Client({ directoryUrl: url, accountKey, backoffAttempts: 150, backoffMin: 100, backoffMax: 1000 });
}

test.serial(
  "100 orders from 20 accounts in parallel: all valid, 100 distinct serials, the index and pki doctor agree",
  async (t) => {
    t.timeout(300_000);
    const dir = await newDepot(t);
    const ch = await challengeServer(t);
    const names = Array.from({ length: 100 }, (_, i) => `host${i}.load.test`);
    const s = await startAcme(t, dir, [
      "--allow",
      "*.load.test",
      "--http-01-port",
      String(ch.port),
      "--resolve",
      names.map((n) => `${n}=127.0.0.1`).join(","),
    ]);
    const ca = new X509Certificate(readFileSync(await depotCert(dir)));
    const accounts = await Promise.all(
      Array.from({ length: 20 }, async () => client(dir, s.url, await acme.crypto.createPrivateEcdsaKey())),
    );
    const certs = await Promise.all(
      names.map(async (name, i) => {
        const [, csr] = await acme.crypto.createCsr(
          { commonName: name, altNames: [name] },
          await acme.crypto.createPrivateEcdsaKey(),
        );
        return accounts[i % 20].auto({
          csr,
          termsOfServiceAgreed: true,
          challengePriority: ["http-01"],
          skipChallengeVerification: true,
          challengeCreateFn: async (_authz, c, ka) => {
            ch.tokens.set(c.token, ka);
          },
          challengeRemoveFn: async () => {},
        });
      }),
    );
    const serials = new Set();
    for (const [i, pem] of certs.entries()) {
      const leaf = new X509Certificate(pem);
      t.true(leaf.verify(ca.publicKey), `${names[i]} is signed by the depot CA`);
      t.is(leaf.subjectAltName, `DNS:${names[i]}`);
      serials.add(leaf.serialNumber.toLowerCase());
    }
    t.is(serials.size, 100);
    const issued = (await depotEntries(dir)).filter((e) => e.acme);
    t.is(issued.length, 100);
    t.deepEqual(issued.map((e) => e.serial.toLowerCase()).sort(), [...serials].sort());
    t.true(await serialsRecorded(dir, [...serials]));
    t.is(new Set(issued.map((e) => e.acme.account)).size, 20, "each certificate records its account");
    t.is((await s.stop()).code, 0, "SIGTERM stops the server cleanly");
    await doctorClean(t, dir);
  },
);

test.serial("an order created and validated before a restart is finalized after it ", async (t) => {
  t.timeout(120_000);
  const dir = await newDepot(t);
  const ch = await challengeServer(t);
  const args = ["--allow", "restart.test", "--http-01-port", String(ch.port), "--resolve", "restart.test=127.0.0.1"];
  const s1 = await startAcme(t, dir, args);
  const c = await client(dir, s1.url, await acme.crypto.createPrivateEcdsaKey());
  await c.createAccount({ termsOfServiceAgreed: true });
  const order = await readyOrder(c, ch.tokens, { type: "dns", value: "restart.test" });
  t.is((await s1.stop("SIGINT")).code, 0);

  const s2 = await startAcme(t, dir, args, s1.port);
  const [, csr] = await acme.crypto.createCsr(
    { commonName: "restart.test" },
    await acme.crypto.createPrivateEcdsaKey(),
  );
  const done = await c.finalizeOrder(order, csr);
  t.is(done.status, "valid");
  const pem = await c.getCertificate(done);
  t.is(new X509Certificate(pem).subjectAltName, "DNS:restart.test");
  await logged(s2, new RegExp(`POST /acme/order/${order.url.split("/").pop()}/finalize 200`));
  await doctorClean(t, dir);
});
