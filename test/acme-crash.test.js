// `kill -9` of `pki acme serve` in finalize, before its transaction commits: the depot holds none of it, pki doctor
// finds it clean, and the client's retry gets a certificate.
import test from "ava";
import acme from "acme-client";
import https from "node:https";
import { X509Certificate } from "node:crypto";
import { chmodSync, copyFileSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { run } from "./_helpers.js";
import {
  challengeServer, depotCert, depotEntries, doctorClean, isDb, newDepot, readyOrder, startAcme,
} from "./_acme.js";

// On depot.db the finalize is one transaction: the test below rebuilds the only state a crash can leave there.
test("a finalize cut short on depot.db leaves the order ready and nothing recorded; the retry gets a certificate",
  async (t) => {
    t.timeout(120_000);
    const dir = await newDepot(t);
    t.true(isDb(dir));
    const { port, tokens } = await challengeServer(t);
    const args = ["--allow", "crash.test", "--http-01-port", String(port), "--resolve", "crash.test=127.0.0.1"];
    const s = await startAcme(t, dir, args);
    acme.axios.defaults.httpsAgent = new https.Agent({ ca: readFileSync(await depotCert(dir)) });
    const c = new acme.Client({ directoryUrl: s.url, accountKey: await acme.crypto.createPrivateEcdsaKey() });
    await c.createAccount({ termsOfServiceAgreed: true });
    const order = await readyOrder(c, tokens, { type: "dns", value: "crash.test" });
    const csr = async () =>
      (await acme.crypto.createCsr({ commonName: "crash.test" }, await acme.crypto.createPrivateEcdsaKey()))[1];
    // What a kill before finalize's transaction commits leaves: the database as it was (SQLite's online copy).
    const db = join(dir, ".pki", "depot.db");
    const saved = join(dir, "ready.db");
    const b = await run("sqlite3", [db, `.backup '${saved}'`]);
    t.is(b.code, 0, b.stderr);
    const first = await c.finalizeOrder(order, await csr());
    t.is(first.status, "valid");
    t.is((await s.stop("SIGKILL")).signal, "SIGKILL");
    for (const f of ["", "-wal", "-shm"]) rmSync(db + f, { force: true });
    copyFileSync(saved, db);
    chmodSync(db, 0o600);
    t.deepEqual((await depotEntries(dir)).filter((e) => e.acme), [], "nothing of the finalize recorded");
    await doctorClean(t, dir);

    const s2 = await startAcme(t, dir, args, s.port);
    const done = await c.finalizeOrder(order, await csr());
    t.is(done.status, "valid");
    t.is(new X509Certificate(await c.getCertificate(done)).subjectAltName, "DNS:crash.test");
    await s2.stop();
    t.is((await depotEntries(dir)).filter((e) => e.acme).length, 1);
    await doctorClean(t, dir);
  },
);
