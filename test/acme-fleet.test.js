// One CA, many nodes (issue 24): a depot in a throwaway PostgreSQL, three `pki acme serve` on it behind a
// round-robin HTTPS balancer (test/_lb.js), so each client's consecutive requests land on different nodes: nonces,
// accounts, orders and authorizations must be shared. lego clients obtain certificates while a node is killed and
// started again and PostgreSQL restarts; a nonce is accepted once across nodes; two nodes finalizing one order give
// one certificate; PostgreSQL down gives 503 with Retry-After, then the node serves again by itself.
// Serial: one test stops the cluster the others use.
import test from "ava";
import acme from "acme-client";
import http from "node:http";
import https from "node:https";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { calculateJwkThumbprint, importPKCS8 } from "jose";
import { openssl, PASS, pkiOk, pki, ROOT, run, tempDir } from "./_helpers.js";
import { freePort, newKey, rawClient, readyOrder, request, startAcme } from "./_acme.js";
import { ROLE_PASS, useCluster } from "./_postgres.js";
import { startBalancer } from "./_lb.js";

const pg = useCluster(test);
const ENV = { PGPASSWORD: ROLE_PASS }; // the URL carries no password, as an operator's would not
const CLIENTS = 12;
const clientIp = (i) => `127.0.0.${11 + i}`;
const name = (i) => `c${i}.fleet.test`;

/** A depot on a fresh database, its CA's PEM, a balancer and three nodes started at once behind it. */
async function fleet(t, extraEnv = {}) {
  const dir = tempDir(t);
  writeFileSync(join(dir, "pass"), PASS + "\n");
  const url = pg.url(await pg.db(), { pass: null });
  await pkiOk(t, dir, ["--depot", url, "init", "--passphrase-file", "pass"], { env: ENV });
  const { PgStore } = await import(join(ROOT, "dist", "store", "records", "postgres.js"));
  const store = await PgStore.open(pg.url(url.split("/").pop()));
  const der = await store.read((tx) => tx.blob({ name: "ca", kind: "cert" }));
  await store.close();
  const caPem = `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString("base64")}\n-----END CERTIFICATE-----\n`;
  writeFileSync(join(dir, "ca.pem"), caPem);
  const ports = [await freePort(), await freePort(), await freePort()];
  const lb = await startBalancer(t, dir, () => ports, caPem);
  const httpPort = await freePort();
  const resolve = [...Array(CLIENTS).keys()].map((i) => `${name(i)}=${clientIp(i)}`).concat("raw.fleet.test=127.0.0.1");
  const args = ["--external-url", `https://127.0.0.1:${lb.port}`, "--allow", "*.fleet.test",
    "--http-01-port", String(httpPort), "--resolve", resolve.join(",")];
  const env = { ...ENV, PKI_DEPOT: url, ...extraEnv };
  const start = (i) => startAcme(t, dir, args, ports[i], env);
  const nodes = await Promise.all([0, 1, 2].map(start));
  return { dir, url, caPem, ports, lb, httpPort, nodes, start, env };
}

const made = (nodes) => nodes.filter((n) => /Made the server's TLS certificate/.test(n.log())).length;

async function lego(f, i) {
  const args = ["--accept-tos", "--email", `ops${i}@fleet.test`,
    "--server", `https://127.0.0.1:${f.lb.port}/acme/directory`, "--path", join(f.dir, `lego${i}`),
    "--domains", name(i), "--http", "--http.port", `${clientIp(i)}:${f.httpPort}`, "run"];
  return run("lego", args, { env: { ...process.env, LEGO_CA_CERTIFICATES: f.lb.caFile }, timeout: 120_000 });
}

/** Waits until the balancer has passed `n` more requests (the clients are mid-run then). */
async function busy(f, n) {
  const from = f.lb.served.length;
  for (let i = 0; i < 1200 && f.lb.served.length < from + n; i++) await new Promise((r) => setTimeout(r, 50));
}

test.serial("a dozen lego clients through three nodes, one killed and restarted, PostgreSQL restarted", async (t) => {
  t.timeout(600_000);
  const f = await fleet(t);
  t.is(made(f.nodes), 1, "the nodes starting together made the server's TLS certificate once");
  const outcome = new Map();
  const wave = (ids) => Promise.all(ids.map(async (i) => outcome.set(i, [await lego(f, i)])));
  const retry = async (i) => outcome.get(i).push(await lego(f, i));

  const w1 = wave([0, 1, 2, 3]);
  await busy(f, 20);
  const killed = await f.nodes[1].stop("SIGKILL");
  t.is(killed.signal, "SIGKILL");
  f.nodes[1] = await f.start(1);
  const restarted = f.lb.served.length;
  await w1;
  const w2 = wave([4, 5, 6, 7]);
  await busy(f, 20);
  await pg.restart();
  await w2;
  await wave([8, 9, 10, 11]);
  const failed = [...outcome].filter(([, r]) => r[0].code !== 0).map(([i]) => i);
  for (const i of failed) await retry(i);
  const why = (i) => outcome.get(i)[0].stderr.trim().split("\n").at(-1).slice(-160);
  t.log(`first runs that failed (the killed node, the restart): ${failed.map((i) => `${i}: ${why(i)}`).join("; ")}`);
  for (const [i, runs] of outcome) t.is(runs.at(-1).code, 0, `client ${i}: ${runs.at(-1).stderr.slice(-600)}`);

  const serials = [];
  for (let i = 0; i < CLIENTS; i++) {
    const file = join(f.dir, `lego${i}`, "certificates", `${name(i)}.crt`);
    const v = await openssl(["verify", "-x509_strict", "-CAfile", join(f.dir, "ca.pem"), file]);
    t.is(v.code, 0, v.stderr);
    serials.push((await openssl(["x509", "-in", file, "-noout", "-serial"])).out.trim().slice(7).toLowerCase());
  }
  t.is(new Set(serials).size, CLIENTS, "no serial twice");
  const listed = await pkiOk(t, f.dir, ["--depot", f.url, "list", "--json"], { env: ENV });
  const acmeEntries = JSON.parse(listed.out).filter((e) => e.acme);
  for (const s of serials) t.truthy(acmeEntries.find((e) => e.serial === s), `serial ${s} is in pki list`);
  const orders = acmeEntries.map((e) => e.acme.order);
  t.is(new Set(orders).size, orders.length, "no order has two certificates");

  const ok = f.lb.served.filter((r) => r.status < 400);
  for (const n of [0, 1, 2]) t.true(ok.some((r) => r.node === n && r.method === "POST"), `node ${n} served POSTs`);
  t.true(ok.slice(restarted).some((r) => r.node === 1 && r.method === "POST"), "the restarted node serves again");
  // Round robin: every finalize went to another node than the request before it, which took its nonce from there.
  t.true(ok.some((r) => /\/finalize$/.test(r.path)));
  const doctor = await pki(f.dir, ["--depot", f.url, "doctor", "--passphrase-file", "pass"], { env: ENV });
  t.is(doctor.code, 0, doctor.stderr + doctor.out);
  t.regex(doctor.stderr + doctor.out, /is consistent/);
});

test.serial("a nonce from node 1 is accepted by node 2 once; two nodes finalizing one order give one certificate; " +
  "an EAB key binds once across nodes",
  async (t) => {
    t.timeout(240_000);
    const f = await fleet(t);
    const at = (n, path) => `https://127.0.0.1:${f.ports[n]}${path}`;
    const lbUrl = (path) => `https://127.0.0.1:${f.lb.port}${path}`;
    const c = await rawClient(f.caPem, at(0, "/acme/directory"));
    const acct = await newKey();
    const signed = (path, payload, nonce, o = { jwk: acct.jwk }) =>
      c.sign(lbUrl(path), payload, { key: acct.key, nonce, ...o });
    const nonce = (await request(f.caPem, at(0, "/acme/new-nonce"), { method: "HEAD" })).headers["replay-nonce"];
    const body = await signed("/acme/new-account", { termsOfServiceAgreed: true }, nonce);
    const first = await request(f.caPem, at(1, "/acme/new-account"), { body });
    t.is(first.status, 201, first.text);
    const again = await request(f.caPem, at(2, "/acme/new-account"), { body });
    t.is(again.status, 400);
    t.is(again.json.type, "urn:ietf:params:acme:error:badNonce");

    // An order made through the balancer, its challenge answered here; then finalized on node 1 and 2 at once.
    const tokens = new Map();
    const responder = http.createServer((req, res) => {
      const ka = tokens.get(req.url.split("/").pop());
      res.writeHead(ka ? 200 : 404).end(ka ?? "");
    });
    await new Promise((r) => responder.listen(f.httpPort, "127.0.0.1", r));
    t.teardown(() => responder.close());
    acme.axios.defaults.httpsAgent = new https.Agent({ ca: readFileSync(f.lb.caFile) });
    const client = new acme.Client({ directoryUrl: lbUrl("/acme/directory"), accountKey: acct.pem,
      backoffAttempts: 150, backoffMin: 100, backoffMax: 1000 });
    await client.createAccount({ termsOfServiceAgreed: true });
    const order = await readyOrder(client, tokens, { type: "dns", value: "raw.fleet.test" });
    const [, csr] = await acme.crypto.createCsr({ commonName: "raw.fleet.test" });
    const csrB64 = Buffer.from(csr.toString().replace(/-----[^-]+-----|\s/g, ""), "base64").toString("base64url");
    const kid = client.getAccountUrl();
    const path = new URL(order.finalize).pathname;
    const finalize = async (n) => {
      const n0 = (await request(f.caPem, at(n, "/acme/new-nonce"), { method: "HEAD" })).headers["replay-nonce"];
      const key = await importPKCS8(acct.pem, "ES256");
      const b = await c.sign(lbUrl(path), { csr: csrB64 }, { key, kid, nonce: n0 });
      return request(f.caPem, at(n, path), { body: b });
    };
    const results = await Promise.all([finalize(1), finalize(2)]);
    t.true(results.some((r) => r.status === 200 && r.json.status === "valid"), results.map((r) => r.text).join());
    for (const r of results) t.true(r.status === 200 || r.json?.type?.endsWith("orderNotReady"), r.text);
    const listed = JSON.parse((await pkiOk(t, f.dir, ["--depot", f.url, "list", "--json"], { env: ENV })).out);
    const id = order.url.split("/").pop();
    t.is(listed.filter((e) => e.acme?.order === id).length, 1, "one certificate for the order");

    // An EAB key added on the URL binds one account, whichever nodes the two registrations reach.
    const added = await pkiOk(t, f.dir, ["--depot", f.url, "acme", "eab", "add", "team-a"], { env: ENV });
    const binding = { kid: "team-a", hmacKey: /hmac key: (\S+)/.exec(added.out)[1] };
    const eabClient = async () => new acme.Client({ directoryUrl: lbUrl("/acme/directory"),
      accountKey: await acme.crypto.createPrivateEcdsaKey(), externalAccountBinding: binding });
    await (await eabClient()).createAccount({ termsOfServiceAgreed: true });
    const second = await t.throwsAsync((await eabClient()).createAccount({ termsOfServiceAgreed: true }));
    t.regex(second.message, /already bound/);
  });

test.serial("PostgreSQL down: 503 with Retry-After and a problem document; back up: the node serves again",
  async (t) => {
  t.timeout(240_000);
  const f = await fleet(t);
  const c = await rawClient(f.caPem, `https://127.0.0.1:${f.ports[0]}/acme/directory`);
  const post = async (key) => {
    const nonce = (await request(f.caPem, `https://127.0.0.1:${f.ports[0]}/acme/new-nonce`, { method: "HEAD" }))
      .headers["replay-nonce"];
    const body = await c.sign(`https://127.0.0.1:${f.lb.port}/acme/new-account`, { termsOfServiceAgreed: true },
      { key: key.key, jwk: key.jwk, nonce });
    return request(f.caPem, `https://127.0.0.1:${f.ports[0]}/acme/new-account`, { body });
  };
  const key = await newKey();
  await pg.pause();
  let down;
  const heads = [];
  try {
    down = await post(key);
    // Each node records nonces ahead, 16 at a time: newNonce answers until those are gone, then 503 too.
    for (let i = 0; i < 17; i++)
      heads.push(await request(f.caPem, `https://127.0.0.1:${f.ports[0]}/acme/new-nonce`, { method: "HEAD" }));
  } finally {
    await pg.start();
  }
  for (const h of heads) {
    if (h.status === 200) t.regex(h.headers["replay-nonce"] ?? "", /^[\w-]{22}$/);
    else t.deepEqual([h.status, /^\d+$/.test(h.headers["retry-after"])], [503, true]);
  }
  t.true(heads.some((h) => h.status === 503), heads.map((h) => h.status).join(" "));
  t.is(down.status, 503, down.text);
  t.regex(down.headers["retry-after"] ?? "", /^\d+$/);
  t.is(down.headers["content-type"], "application/problem+json");
  t.is(down.json.type, "urn:ietf:params:acme:error:serverInternal");
  t.notRegex(f.nodes[0].log(), /internal error|\n\s+at /);
  let up;
  for (let i = 0; i < 20 && up?.status !== 201; i++) {
    if (up) await new Promise((r) => setTimeout(r, Number(up.headers["retry-after"] ?? 1) * 1000));
    up = await post(key);
  }
  t.is(up.status, 201, up.text);
  t.is(f.nodes[0].child.exitCode, null, "the node kept running");
});

test.serial("a node killed while it validates: polling another node validates the challenge again", async (t) => {
  t.timeout(240_000);
  const f = await fleet(t, { PKI_TEST_ONLY_ACME_DEADLINE_MS: "1000" });
  const at = (n, path) => `https://127.0.0.1:${f.ports[n]}${path}`;
  const c = await rawClient(f.caPem, at(0, "/acme/directory"));
  const acct = await newKey();
  const post = async (n, url, payload, o) => {
    const path = new URL(url).pathname;
    const nonce = (await request(f.caPem, at(n, "/acme/new-nonce"), { method: "HEAD" })).headers["replay-nonce"];
    const body = await c.sign(`https://127.0.0.1:${f.lb.port}${path}`, payload, { key: acct.key, nonce, ...o });
    return request(f.caPem, at(n, path), { body });
  };
  const kid = (await post(0, c.dir.newAccount, { termsOfServiceAgreed: true }, { jwk: acct.jwk })).headers.location;
  const order = await post(0, c.dir.newOrder, { identifiers: [{ type: "dns", value: "raw.fleet.test" }] }, { kid });
  const authzUrl = order.json.authorizations[0];
  const ch = (await post(0, authzUrl, "", { kid })).json.challenges.find((x) => x.type === "http-01");
  // The responder holds the first validation's connection unanswered; then it answers.
  let answer = false;
  let held = 0;
  const ka = `${ch.token}.${await calculateJwkThumbprint(acct.jwk)}`;
  const responder = http.createServer((req, res) => {
    if (answer) return res.writeHead(200).end(ka);
    held++;
  });
  await new Promise((r) => responder.listen(f.httpPort, "127.0.0.1", r));
  t.teardown(() => {
    responder.closeAllConnections();
    responder.close();
  });
  t.is((await post(0, ch.url, {}, { kid })).json.status, "processing");
  for (let i = 0; i < 200 && !held; i++) await new Promise((r) => setTimeout(r, 50));
  t.is(held, 1, "node 0 is validating");
  await f.nodes[0].stop("SIGKILL");
  answer = true;
  let z;
  for (let i = 0; i < 150 && z?.status !== "valid"; i++) {
    await new Promise((r) => setTimeout(r, 200));
    z = (await post(1 + (i % 2), authzUrl, "", { kid })).json;
  }
  t.is(z.status, "valid", JSON.stringify(z));
});
