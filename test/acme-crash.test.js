// `kill -9` of `pki acme serve` in finalize, after the certificate's files and before the index records them (the
// crash point rebuilt by hand, as test/crash.test.js does for the depot commands): pki doctor names it for what it
// is, --fix rolls it back, and the client's retry gets a certificate.
import test from "ava";
import acme from "acme-client";
import https from "node:https";
import { X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pki } from "./_helpers.js";
import { challengeServer, doctorClean, newDepot, readyOrder, startAcme } from "./_acme.js";

test("a finalize cut short before the index: doctor says an ACME finalize left it, --fix rolls it back", async (t) => {
  t.timeout(120_000);
  const dir = await newDepot(t);
  const { port, tokens } = await challengeServer(t);
  const args = ["--allow", "crash.test", "--http-01-port", String(port), "--resolve", "crash.test=127.0.0.1"];
  const s = await startAcme(t, dir, args);
  acme.axios.defaults.httpsAgent = new https.Agent({ ca: readFileSync(join(dir, ".pki", "ca.crt")) });
  const c = new acme.Client({ directoryUrl: s.url, accountKey: await acme.crypto.createPrivateEcdsaKey() });
  await c.createAccount({ termsOfServiceAgreed: true });
  const order = await readyOrder(c, tokens, { type: "dns", value: "crash.test" });
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
