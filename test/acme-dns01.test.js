// dns-01 (RFC 8555 §8.4) against a real BIND 9 `named` that takes TSIG-signed dynamic updates: lego (--dns rfc2136)
// and certbot (--dns-rfc2136, a name and its wildcard) obtain certificates through `pki acme serve --dns-resolver`;
// a wrong TXT value, no record and a resolver that never answers each give their problem within the deadline.
import test from "ava";
import acme from "acme-client";
import dgram from "node:dgram";
import https from "node:https";
import { readFileSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { pki, run } from "./_helpers.js";
import { checkIssued, depotCert, doctorClean, logged, newDepot, startAcme } from "./_acme.js";
import { legoDns, startNamed } from "./_named.js";

test("lego --dns rfc2136 obtains a certificate through named; the server looked the TXT record up", async (t) => {
  t.timeout(180_000);
  const dir = await newDepot(t);
  const ns = await startNamed(t, dir);
  const s = await startAcme(t, dir, ["--allow", "*.example.internal", "--dns-resolver", ns.server]);
  const r = await legoDns(dir, s, ns, ["-d", "db.example.internal", "run"]);
  t.is(r.code, 0, `${r.stderr}\n--- server ---\n${s.log()}\n--- named ---\n${ns.log()}`);
  const certs = join(dir, "lego", "certificates");
  await checkIssued(t, dir, join(certs, "db.example.internal.crt"), ["db.example.internal"]);
  await logged(s, /validation dns-01 db\.example\.internal: valid/);
  await doctorClean(t, dir);
});

test("certbot --dns-rfc2136 obtains a certificate for a name and its wildcard through named", async (t) => {
  t.timeout(180_000);
  const dir = await newDepot(t);
  const ns = await startNamed(t, dir);
  const s = await startAcme(t, dir, ["--allow", "*.example.internal", "--dns-resolver", ns.server]);
  const ini = join(dir, "rfc2136.ini");
  writeFileSync(
    ini,
    [
      "dns_rfc2136_server = 127.0.0.1",
      `dns_rfc2136_port = ${ns.port}`,
      `dns_rfc2136_name = ${ns.key.name}`,
      `dns_rfc2136_secret = ${ns.key.secret}`,
      "dns_rfc2136_algorithm = HMAC-SHA256",
      "",
    ].join("\n"),
  );
  chmodSync(ini, 0o600);
  const cb = ["--config-dir", "config", "--work-dir", "work", "--logs-dir", "logs"].map((a) =>
    a.startsWith("--") ? a : join(dir, "cb", a),
  );
  const r = await run(
    "certbot",
    [
      "certonly",
      "--non-interactive",
      "--agree-tos",
      "--register-unsafely-without-email",
      "--server",
      s.url,
      ...cb,
      "--dns-rfc2136",
      "--dns-rfc2136-credentials",
      ini,
      "--dns-rfc2136-propagation-seconds",
      "1",
      "-d",
      "cache.example.internal",
      "-d",
      "*.cache.example.internal",
    ],
    { env: { ...process.env, REQUESTS_CA_BUNDLE: await depotCert(dir) }, timeout: 150_000 },
  );
  t.is(r.code, 0, `${r.stderr}\n--- server ---\n${s.log()}\n--- named ---\n${ns.log()}`);
  const live = join(dir, "cb", "config", "live", "cache.example.internal");
  const names = ["cache.example.internal", "*.cache.example.internal"];
  await checkIssued(t, dir, join(live, "cert.pem"), names, join(live, "chain.pem"));
  await logged(s, /validation dns-01 cache\.example\.internal: valid/);
});

// acme-client has one shared axios instance: its tests run one after the other (serial), each trusting its own CA.
const trust = async (dir) => {
  acme.axios.defaults.httpsAgent = new https.Agent({ ca: readFileSync(await depotCert(dir)) });
};

/** An acme-client account on `s`, trusting DIR's CA, that gives up a request after one try. */
async function account(dir, s) {
  const c = new acme.Client({
    directoryUrl: s.url,
    accountKey: await acme.crypto.createPrivateEcdsaKey(),
    backoffAttempts: 1,
  });
  await trust(dir);
  await c.createAccount({ termsOfServiceAgreed: true });
  return c;
}

/** An order for `name` through acme-client `c`; returns its dns-01 challenge and the digest it wants. */
async function dnsChallenge(c, name) {
  const order = await c.createOrder({ identifiers: [{ type: "dns", value: name }] });
  const [authz] = await c.getAuthorizations(order);
  const ch = authz.challenges.find((x) => x.type === "dns-01");
  return { order, authz, ch, digest: await c.getChallengeKeyAuthorization(ch) };
}

/** Answers the challenge and waits for the authorization to settle; returns the challenge's final state. */
async function settle(c, authzUrl, ch) {
  await c.completeChallenge(ch);
  for (let i = 0; i < 300; i++) {
    const z = (await c.api.getAuthorization(authzUrl)).data;
    if (z.status !== "pending") return z.challenges.find((x) => x.type === "dns-01");
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the authorization never settled");
}

test.serial("wrong TXT: incorrectResponse; no record: dns NXDOMAIN, not remembered once it exists", async (t) => {
  t.timeout(120_000);
  const dir = await newDepot(t);
  const ns = await startNamed(t, dir);
  const s = await startAcme(t, dir, ["--dns-resolver", ns.server]);
  const c = await account(dir, s);

  const wrong = await dnsChallenge(c, "wrong.example.internal");
  // Two strings in one record, and a second record: neither concatenates to the digest.
  await ns.nsupdate([
    'update add _acme-challenge.wrong.example.internal. 60 TXT "abc" "def"',
    `update add _acme-challenge.wrong.example.internal. 60 TXT "${wrong.digest.slice(1)}"`,
  ]);
  const w = await settle(c, wrong.authz.url, wrong.ch);
  t.is(w.status, "invalid");
  t.is(w.error.type, "urn:ietf:params:acme:error:incorrectResponse", JSON.stringify(w.error));

  const none = await dnsChallenge(c, "late.example.internal");
  const n = await settle(c, none.authz.url, none.ch);
  t.is(n.error.type, "urn:ietf:params:acme:error:dns", JSON.stringify(n.error));
  t.regex(n.error.detail, /_acme-challenge\.late\.example\.internal: NXDOMAIN/);

  // The record now exists, split into two strings as long values are: a new order for the name validates at once.
  const again = await dnsChallenge(c, "late.example.internal");
  const [a, b] = [again.digest.slice(0, 20), again.digest.slice(20)];
  await ns.nsupdate([`update add _acme-challenge.late.example.internal. 60 TXT "${a}" "${b}"`]);
  const ok = await settle(c, again.authz.url, again.ch);
  t.is(ok.status, "valid", JSON.stringify(ok));
});

test.serial("a resolver that never answers: a dns timeout problem within the deadline, still serving", async (t) => {
  t.timeout(60_000);
  const dir = await newDepot(t);
  const mute = dgram.createSocket("udp4");
  await new Promise((r) => mute.bind(0, "127.0.0.1", r));
  t.teardown(() => mute.close());
  let asked = 0;
  mute.on("message", () => asked++);
  const s = await startAcme(t, dir, ["--dns-resolver", `127.0.0.1:${mute.address().port}`], undefined, {
    PKI_TEST_ONLY_ACME_DEADLINE_MS: "1500",
  });
  const c = await account(dir, s);
  const x = await dnsChallenge(c, "silent.example.internal");
  const r = await settle(c, x.authz.url, x.ch);
  t.is(r.error.type, "urn:ietf:params:acme:error:dns", JSON.stringify(r.error));
  t.regex(r.error.detail, /timeout/);
  t.true(asked > 0);
  t.is((await c.getAccountUrl()).startsWith("https://"), true);
});

test("--dns-resolver takes IP[:PORT] only: anything else is a usage error", async (t) => {
  const dir = await newDepot(t);
  for (const bad of ["ns.example.internal:53", "127.0.0.1:99999", "1.2.3:53"]) {
    const r = await pki(dir, ["acme", "serve", "--passphrase-file", "pass", "--port", "0", "--dns-resolver", bad]);
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, /^pki: invalid --dns-resolver .*expected IP\[:PORT\]\n$/);
  }
});
