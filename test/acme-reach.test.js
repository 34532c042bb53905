// Where `pki acme serve` may reach, on a CA constrained to example.test + 127.0.0.0/8 and served without --allow:
// it starts (its own certificate names only what the CA may certify), newOrder refuses what the CA can never
// certify before any connection, a failed challenge tells the client nothing about the remote port, and
// acme-client gets certificates for IP identifiers (RFC 8738) whose CN is a DNS name or absent, never the IP.
import test from "ava";
import acme from "acme-client";
import http from "node:http";
import https from "node:https";
import { X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { curl, openssl, pki, run } from "./_helpers.js";
import {
  challengeServer, depotCert, doctorClean, freePort, logged, newDepot, newKey, rawClient, startAcme,
} from "./_acme.js";

const CONSTRAINED = ["--permit-domain", "example.test", "--permit-ip", "127.0.0.0/8"];

/** The server's own certificate, as the depot holds it. */
const serverCert = async (dir) => new X509Certificate(readFileSync(await depotCert(dir, "acme-server")));

async function account(t, dir, s) {
  const c = await rawClient(readFileSync(await depotCert(dir)), s.url);
  const k = await newKey();
  const r = await c.post(c.dir.newAccount, { termsOfServiceAgreed: true }, k);
  t.is(r.status, 201, r.text);
  return { c, as: { key: k.key, kid: r.headers.location }, jwk: k.jwk };
}

test("acme serve starts under constraints example.test, 127.0.0.0/8: its certificate names 127.0.0.1", async (t) => {
  t.timeout(60_000);
  const dir = await newDepot(t, CONSTRAINED);
  const s = await startAcme(t, dir);
  t.is((await serverCert(dir)).subjectAltName, "IP Address:127.0.0.1", "no DNS:localhost, which the CA may not certify");
  const r = await curl(["--cacert", await depotCert(dir), s.url]);
  t.is(r.code, 0, r.stderr);
  t.truthy(JSON.parse(r.out).newOrder);
  const own = await depotCert(dir, "acme-server");
  const v = await openssl(["verify", "-x509_strict", "-CAfile", await depotCert(dir), own]);
  t.is(v.code, 0, v.stderr + v.out);
});

test("acme serve on an unconstrained CA still names localhost beside 127.0.0.1", async (t) => {
  t.timeout(60_000);
  const dir = await newDepot(t);
  await startAcme(t, dir);
  t.is((await serverCert(dir)).subjectAltName, "DNS:localhost, IP Address:127.0.0.1");
});

test("newOrder refuses names outside the CA's name constraints (rejectedIdentifier); nothing validated", async (t) => {
  t.timeout(60_000);
  const dir = await newDepot(t, CONSTRAINED);
  const s = await startAcme(t, dir, ["--resolve", "web.example.test=127.0.0.1,evil.other=127.0.0.1"]);
  const { c, as } = await account(t, dir, s);
  for (const id of [
    { type: "dns", value: "evil.other" },
    { type: "ip", value: "10.1.2.3" },
    { type: "ip", value: "::1" },
  ]) {
    const r = await c.post(c.dir.newOrder, { identifiers: [{ type: "dns", value: "web.example.test" }, id] }, as);
    t.is(r.status, 403, `${id.value}: ${r.text}`);
    t.is(r.json?.type, "urn:ietf:params:acme:error:rejectedIdentifier", id.value);
    t.regex(r.json?.detail ?? "", /cannot certify .*name constraints/, id.value);
  }
  const ok = await c.post(c.dir.newOrder, { identifiers: [{ type: "dns", value: "web.example.test" }] }, as);
  t.is(ok.status, 201, "a permitted name is still ordered");
  // lego, which makes the order and then answers the challenge on the port the server would connect to.
  const httpPort = await freePort();
  const lego = await run(
    "lego",
    ["--accept-tos", "--email", "ops@example.test", "--server", s.url, "--path", join(dir, "lego")]
      .concat(["--http", "--http.port", `127.0.0.1:${httpPort}`, "-d", "evil.other", "run"]),
    { env: { ...process.env, LEGO_CA_CERTIFICATES: await depotCert(dir) }, timeout: 60_000 },
  );
  t.not(lego.code, 0);
  t.regex(lego.stderr, /rejectedIdentifier :: this CA cannot certify it: DNS name evil\.other is outside/);
  t.notRegex(s.log(), /validation /, "nothing was validated");
  t.notRegex(s.log(), /POST \/acme\/new-order 201[\s\S]*POST \/acme\/new-order 201/, "only the permitted order made");
});

test("a failed challenge tells nothing of the remote port: HTTP 418 and a refused port read the same", async (t) => {
  t.timeout(90_000);
  const dir = await newDepot(t, CONSTRAINED);
  const port = await freePort();
  // 127.0.0.1:port answers 418; nothing listens on 127.0.0.2:port (refused).
  const teapot = http.createServer((_req, res) => res.writeHead(418).end("I'm a teapot"));
  await new Promise((r) => teapot.listen(port, "127.0.0.1", r));
  t.teardown(() => teapot.close());
  const s = await startAcme(t, dir, [
    "--http-01-port",
    String(port),
    "--resolve",
    "tea.example.test=127.0.0.1,shut.example.test=127.0.0.2",
  ]);
  const { c, as } = await account(t, dir, s);
  const errors = {};
  for (const name of ["tea.example.test", "shut.example.test"]) {
    const order = await c.post(c.dir.newOrder, { identifiers: [{ type: "dns", value: name }] }, as);
    t.is(order.status, 201, order.text);
    const authzUrl = order.json.authorizations[0];
    const ch = (await c.post(authzUrl, "", as)).json.challenges.find((x) => x.type === "http-01");
    await c.post(ch.url, {}, as);
    let z;
    for (let i = 0; i < 300; i++) {
      z = (await c.post(authzUrl, "", as)).json;
      if (z.status !== "pending") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    t.is(z.status, "invalid", `${name}: ${JSON.stringify(z)}`);
    errors[name] = z.challenges.find((x) => x.type === "http-01").error;
  }
  const [tea, shut] = [errors["tea.example.test"], errors["shut.example.test"]];
  t.is(tea.type, shut.type, "one problem type for both");
  t.is(tea.detail.replace("tea.", "X."), shut.detail.replace("shut.", "X."), "one detail for both");
  t.notRegex(JSON.stringify([tea, shut]), /418|teapot|ECONNREFUSED|refused|127\.0\.0/);
  await logged(s, /validation http-01 tea\.example\.test: invalid \(127\.0\.0\.1:\d+: HTTP 418\)/);
  await logged(s, /validation http-01 shut\.example\.test: invalid \(127\.0\.0\.2:\d+: ECONNREFUSED\)/);
});

test.serial("acme-client orders IP identifiers (RFC 8738) under a constrained CA: CN a DNS name or none", async (t) => {
  t.timeout(180_000);
  const dir = await newDepot(t, CONSTRAINED);
  const { port, tokens } = await challengeServer(t);
  const s = await startAcme(t, dir, ["--http-01-port", String(port), "--resolve", "web.example.test=127.0.0.1"]);
  acme.axios.defaults.httpsAgent = new https.Agent({ ca: readFileSync(await depotCert(dir)) });
  const c = new acme.Client({
    directoryUrl: s.url,
    accountKey: await acme.crypto.createPrivateEcdsaKey(),
    backoffAttempts: 150,
    backoffMin: 100,
    backoffMax: 1000,
  });
  await c.createAccount({ termsOfServiceAgreed: true });
  const obtain = async (identifiers, csrFields) => {
    const order = await c.createOrder({ identifiers });
    for (const authz of await c.getAuthorizations(order)) {
      const ch = authz.challenges.find((x) => x.type === "http-01");
      tokens.set(ch.token, await c.getChallengeKeyAuthorization(ch));
      await c.completeChallenge(ch);
    }
    await c.waitForValidStatus(order);
    const [, csr] = await acme.crypto.createCsr(csrFields, await acme.crypto.createPrivateEcdsaKey());
    const file = join(dir, `${identifiers.map((i) => i.value).join("+")}.crt`);
    writeFileSync(file, await c.getCertificate(await c.finalizeOrder(order, csr)));
    const v = await openssl(["verify", "-x509_strict", "-CAfile", await depotCert(dir), file]);
    t.is(v.code, 0, v.stderr + v.out);
    const text = (await openssl(["x509", "-in", file, "-noout", "-text"])).out;
    return { leaf: new X509Certificate(readFileSync(file)), text };
  };
  const ip = { type: "ip", value: "127.0.0.1" };
  // A CSR whose CN is the IP, and one with no CN (the server used to put the first identifier there).
  for (const fields of [{ commonName: "127.0.0.1", altNames: ["127.0.0.1"] }, { altNames: ["127.0.0.1"] }]) {
    const { leaf, text } = await obtain([ip], fields);
    t.is(leaf.subject ?? "", "", "no CN: an IP address is no host name");
    t.is(leaf.subjectAltName, "IP Address:127.0.0.1");
    t.regex(text, /X509v3 Subject Alternative Name: critical/, "an empty subject needs a critical SAN");
  }
  const mixed = await obtain([ip, { type: "dns", value: "web.example.test" }], {
    commonName: "127.0.0.1",
    altNames: ["127.0.0.1", "web.example.test"],
  });
  t.is(mixed.leaf.subject, "CN=web.example.test", "the first DNS identifier");
  t.is(mixed.leaf.subjectAltName, "DNS:web.example.test, IP Address:127.0.0.1");
  await logged(s, /validation http-01 127\.0\.0\.1: valid/);
  await doctorClean(t, dir);
});

test("links never carry a made-up Host: the bound address, a name the server's certificate carries", async (t) => {
  t.timeout(60_000);
  const dir = await newDepot(t);
  const s = await startAcme(t, dir);
  const dirOf = async (host) => {
    const r = await curl(["--cacert", await depotCert(dir), "-H", `Host: ${host}`, "-D", "-", s.url]);
    t.is(r.code, 0, r.stderr);
    return { body: JSON.parse(r.out.slice(r.out.indexOf("{"))), head: r.out.slice(0, r.out.indexOf("{")) };
  };
  const evil = await dirOf(`evil.example:${s.port}`);
  t.is(evil.body.newOrder, `https://127.0.0.1:${s.port}/acme/new-order`);
  t.notRegex(evil.head, /evil/);
  t.is((await dirOf(`localhost:${s.port + 1}`)).body.newOrder, `https://127.0.0.1:${s.port}/acme/new-order`);
  t.is((await dirOf(`LOCALHOST:${s.port}`)).body.newOrder, `https://localhost:${s.port}/acme/new-order`);
});

test.serial("--external-url: every link uses it whatever the Host; acme-client registers through it", async (t) => {
  t.timeout(60_000);
  const dir = await newDepot(t);
  const bad = await pki(dir, ["acme", "serve", "--passphrase-file", "pass", "--external-url", "http://acme.test/x"]);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /^pki: invalid --external-url "http:\/\/acme\.test\/x": expected https:\/\/HOST\[:PORT\]\n$/);
  const port = await freePort();
  const s = await startAcme(t, dir, ["--external-url", `https://localhost:${port}`], port);
  t.is(s.url, `https://localhost:${port}/acme/directory`);
  const r = await curl(["--cacert", await depotCert(dir), `https://127.0.0.1:${port}/acme/directory`]);
  t.is(JSON.parse(r.out).newAccount, `https://localhost:${port}/acme/new-account`);
  acme.axios.defaults.httpsAgent = new https.Agent({ ca: readFileSync(await depotCert(dir)) });
  const c = new acme.Client({ directoryUrl: s.url, accountKey: await acme.crypto.createPrivateEcdsaKey() });
  await c.createAccount({ termsOfServiceAgreed: true });
  t.regex(c.getAccountUrl(), new RegExp(`^https://localhost:${port}/acme/acct/`));
});
