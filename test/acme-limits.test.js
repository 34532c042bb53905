// What one client can make `pki acme serve` spend: each validation (http-01 and tls-alpn-01) ends at its deadline
// however slowly the responder dribbles bytes, at most 16 validations connect at once, and a flood of newNonce
// requests from one address does not evict the nonce another client holds.
import test from "ava";
import net from "node:net";
import { readFileSync } from "node:fs";
import { curl, run } from "./_helpers.js";
import {
  acmeRecords, depotCert, freePort, logged, newDepot, newKey, rawClient, request, startAcme,
} from "./_acme.js";

const MAX_VALIDATIONS = 16; // lib/acme/service.ts

/**
 * A responder that never finishes: to HTTP it sends a status line and headers, to TLS a record header, then one
 * byte every 200 ms. It counts the connections open at once: an arrival is counted after the events already
 * pending (setImmediate), so a connection the server closed just before opening the next is not counted twice.
 */
async function dribbler(t, stats) {
  const port = await freePort();
  const server = net.createServer((sock) => {
    let open = true;
    const timers = [];
    const end = () => {
      if (open) stats.open--;
      open = false;
      timers.forEach(clearInterval);
    };
    sock.on("end", end);
    sock.on("close", end);
    sock.on("error", end);
    setImmediate(() => {
      if (!open) return;
      stats.total++;
      stats.open++;
      stats.max = Math.max(stats.max, stats.open);
    });
    sock.once("data", (first) => {
      sock.write(first[0] === 0x16 ? Buffer.from([0x16, 0x03, 0x03, 0x40, 0x00]) : "HTTP/1.1 200 OK\r\n");
      timers.push(setInterval(() => open && sock.write(first[0] === 0x16 ? "\0" : "X-Slow: y\r\n"), 200));
    });
  });
  await new Promise((r) => server.listen(port, "127.0.0.1", r));
  t.teardown(() => {
    server.close();
  });
  return port;
}

test("a dribbling responder: every validation ends invalid at its deadline, at most 16 connect at once", async (t) => {
  t.timeout(180_000);
  const dir = await newDepot(t);
  const stats = { open: 0, max: 0, total: 0 };
  const [httpPort, alpnPort] = [await dribbler(t, stats), await dribbler(t, stats)];
  const names = Array.from({ length: 24 }, (_, i) => `n${i}.slow.test`);
  const s = await startAcme(
    t,
    dir,
    [
      "--http-01-port",
      String(httpPort),
      "--tls-alpn-01-port",
      String(alpnPort),
      "--resolve",
      names.map((n) => `${n}=127.0.0.1`).join(","),
    ],
    undefined,
    { PKI_TEST_ONLY_ACME_DEADLINE_MS: "1500" },
  );
  const c = await rawClient(readFileSync(await depotCert(dir)), s.url);
  const k = await newKey();
  const as = { key: k.key, kid: (await c.post(c.dir.newAccount, { termsOfServiceAgreed: true }, k)).headers.location };
  const order = await c.post(c.dir.newOrder, { identifiers: names.map((value) => ({ type: "dns", value })) }, as);
  t.is(order.status, 201, order.text);
  const authzs = order.json.authorizations;
  await Promise.all(
    authzs.map(async (url, i) => {
      const z = (await c.post(url, "", as)).json;
      const ch = z.challenges.find((x) => x.type === (i % 2 ? "tls-alpn-01" : "http-01"));
      const r = await c.post(ch.url, {}, as);
      t.is(r.status, 200, r.text);
    }),
  );
  // Without a deadline they would dribble for ever: give up (and fail) after a generous while.
  const outcome = async (url) => {
    for (let i = 0; i < 400; i++) {
      const z = (await c.post(url, "", as)).json;
      if (z.status !== "pending") return z;
      await new Promise((r) => setTimeout(r, 100));
    }
    return { status: "still pending" };
  };
  for (const z of await Promise.all(authzs.map(outcome))) {
    t.is(z.status, "invalid", JSON.stringify(z));
    const err = z.challenges?.find((x) => x.error)?.error;
    t.is(err?.type, "urn:ietf:params:acme:error:incorrectResponse");
  }
  t.is(stats.total, names.length, "each validation connected once");
  t.true(stats.max <= MAX_VALIDATIONS, `${stats.max} connections at once`);
  await logged(s, /validation tls-alpn-01 n1\.slow\.test: invalid \(.*before the deadline\)/);
  await logged(s, /validation http-01 n0\.slow\.test: invalid \(.*before the deadline\)/);
});

test("20,050 newNonce requests from 127.0.0.2 leave the nonce a client at 127.0.0.1 holds usable", async (t) => {
  t.timeout(300_000);
  const dir = await newDepot(t);
  const s = await startAcme(t, dir);
  const caFile = await depotCert(dir);
  const ca = readFileSync(caFile);
  const c = await rawClient(ca, s.url);
  const held = await c.freshNonce();
  // curl keeps one connection per process: 4 of them, 20,050 requests in all.
  const flood = async (n) => {
    const url = `${c.dir.newNonce}?[1-${n}]`;
    const args = ["-sS", "-I", "--cacert", caFile, "--interface", "127.0.0.2", "-o", "/dev/null"];
    const r = await run("curl", [...args, url], { timeout: 280_000 });
    t.is(r.code, 0, r.stderr);
  };
  await Promise.all([5013, 5013, 5012, 5012].map(flood));
  await logged(s, /127\.0\.0\.2 HEAD \/acme\/new-nonce 200/);
  const k = await newKey();
  const r = await c.post(c.dir.newAccount, { termsOfServiceAgreed: true }, { ...k, nonce: held });
  t.is(r.status, 201, `the held nonce still works: ${r.text}`);
  t.is((await request(ca, s.url, { method: "GET" })).status, 200, "still serving");
});

test("newNonce by HEAD keeps its connection: curl asks twice over one TLS connection, not a handshake each", async (t) => {
  // acme-client asks a nonce by HEAD before each request: a connection closed after each answer costs the server
  // (and the client) a TLS handshake a request.
  const dir = await newDepot(t);
  const s = await startAcme(t, dir);
  const url = s.url.replace(/directory$/, "new-nonce");
  const r = await curl(["-v", "--head", "--cacert", await depotCert(dir), url, url]);
  t.is(r.code, 0, r.stderr);
  t.is(r.out.match(/^replay-nonce: /gim)?.length, 2, r.out);
  t.regex(r.out, /^content-length: 0\r?$/im);
  t.regex(r.stderr, /Re-using existing connection/i);
  t.notRegex(r.stderr, /Closing connection|Connection died/i);
});

test("SIGTERM with validations waiting for a slot: they are dropped (still processing), not run first", async (t) => {
  t.timeout(180_000);
  const dir = await newDepot(t);
  const stats = { open: 0, max: 0, total: 0 };
  const httpPort = await dribbler(t, stats);
  const names = Array.from({ length: 24 }, (_, i) => `w${i}.slow.test`);
  const resolve = names.map((n) => `${n}=127.0.0.1`).join(",");
  // The default 10 s deadline: the first 16 are still connected when the signal arrives.
  const s = await startAcme(t, dir, ["--http-01-port", String(httpPort), "--resolve", resolve]);
  const c = await rawClient(readFileSync(await depotCert(dir)), s.url);
  const k = await newKey();
  const as = { key: k.key, kid: (await c.post(c.dir.newAccount, { termsOfServiceAgreed: true }, k)).headers.location };
  const order = await c.post(c.dir.newOrder, { identifiers: names.map((value) => ({ type: "dns", value })) }, as);
  for (const url of order.json.authorizations) {
    const ch = (await c.post(url, "", as)).json.challenges.find((x) => x.type === "http-01");
    await c.post(ch.url, {}, as);
  }
  for (let i = 0; i < 300 && stats.open < MAX_VALIDATIONS; i++) await new Promise((r) => setTimeout(r, 100));
  t.is(stats.open, MAX_VALIDATIONS);
  t.is((await s.stop()).code, 0);
  const states = (await acmeRecords(dir, "authz")).map(
    (z) => `${z.status}/${z.challenges.find((x) => x.type === "http-01").status}`,
  );
  t.is(states.filter((x) => x === "invalid/invalid").length, MAX_VALIDATIONS, "those connecting ran to their end");
  t.is(states.filter((x) => x === "pending/processing").length, names.length - MAX_VALIDATIONS, states.join(" "));
  t.is(stats.total, MAX_VALIDATIONS, "the waiting ones never connected");
});
