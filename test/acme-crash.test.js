// `kill -9` of `pki acme serve` in finalize, after the certificate's files and before the index records them (the
// crash point rebuilt by hand, as test/crash.test.js does for the depot commands): pki doctor names it for what it
// is, --fix rolls it back, and the client's retry gets a certificate.
import test from "ava";
import acme from "acme-client";
import https from "node:https";
import { X509Certificate } from "node:crypto";
import { chmodSync, copyFileSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PASS, pki, pkiOk, run, tempDir } from "./_helpers.js";
import { challengeServer, depotCert, depotEntries, doctorClean, isDb, readyOrder, startAcme } from "./_acme.js";

// Layout 1 writes the certificate's files before the index: a crash between them is a state of its own. On depot.db
// the finalize is one transaction, so the second test rebuilds the only state a crash can leave there instead. Each
// test makes its depot in its own format, whatever PKI_DEPOT_FORMAT says, so both run in every suite; one after the
// other, since acme-client's one shared axios instance trusts one test's CA at a time.

/** A depot of `format` ("" layout 1, "db"), its ACME server and a client whose order for crash.test is ready. */
async function readyToFinalize(t, format) {
  const dir = tempDir(t);
  writeFileSync(join(dir, "pass"), PASS + "\n");
  await pkiOk(t, dir, ["init", "--passphrase-file", "pass"], { env: { PKI_DEPOT_FORMAT: format } });
  const { port, tokens } = await challengeServer(t);
  const args = ["--allow", "crash.test", "--http-01-port", String(port), "--resolve", "crash.test=127.0.0.1"];
  const s = await startAcme(t, dir, args);
  acme.axios.defaults.httpsAgent = new https.Agent({ ca: readFileSync(await depotCert(dir)) });
  const c = new acme.Client({ directoryUrl: s.url, accountKey: await acme.crypto.createPrivateEcdsaKey() });
  await c.createAccount({ termsOfServiceAgreed: true });
  const order = await readyOrder(c, tokens, { type: "dns", value: "crash.test" });
  return { dir, args, s, c, order };
}

test.serial("a finalize cut short before the index: doctor says an ACME finalize left it, --fix rolls it back", async (t) => {
  t.timeout(120_000);
  const { dir, args, s, c, order } = await readyToFinalize(t, "");
  t.false(isDb(dir));
  const [, csr] = await acme.crypto.createCsr({ commonName: "crash.test" }, await acme.crypto.createPrivateEcdsaKey());
  const orderFile = join(dir, ".pki", "acme", "orders", `${order.url.split("/").pop()}.json`);
  const readyState = readFileSync(orderFile);
  const indexFile = join(dir, ".pki", "index.json");
  const before = readFileSync(indexFile);
  await c.finalizeOrder(order, csr);
  t.is((await s.stop("SIGKILL")).signal, "SIGKILL");
  // The crash point: certs/acme-SERIAL.csr and .crt written, the index and the order file not yet.
  const { name } = Object.values(JSON.parse(readFileSync(indexFile, "utf8")).entries).find((e) => e.acme);
  writeFileSync(indexFile, before);
  writeFileSync(orderFile, readyState);

  const r = await pki(dir, ["doctor"]);
  t.is(r.code, 1, r.stderr + r.out);
  const lines = (r.stderr + r.out).split("\n").filter((l) => l.includes(`certs/${name}.`));
  t.is(lines.length, 2, r.stderr + r.out);
  for (const l of lines) t.regex(l, /interrupted ACME finalize: 'pki acme serve' stopped before recording it/);
  t.notRegex(r.stderr + r.out, /pki new-cert/);
  const fixed = await pki(dir, ["doctor", "--fix"]);
  t.is(fixed.code, 0, fixed.stderr + fixed.out);
  await doctorClean(t, dir);

  const s2 = await startAcme(t, dir, args, s.port);
  const done = await c.finalizeOrder(order, csr);
  t.is(done.status, "valid");
  t.is(new X509Certificate(await c.getCertificate(done)).subjectAltName, "DNS:crash.test");
  await s2.stop();
  await doctorClean(t, dir);
});

test.serial("a finalize cut short on depot.db leaves the order ready and nothing recorded; the retry gets a certificate",
  async (t) => {
    t.timeout(120_000);
    const { dir, args, s, c, order } = await readyToFinalize(t, "db");
    t.true(isDb(dir));
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
