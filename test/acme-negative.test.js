// Hostile input to `pki acme serve`, sent as raw JWS (jose) over HTTPS: each gets its RFC 8555 problem type,
// the server keeps answering, and the depot is byte-identical afterwards. Also: --eab turns away clients without a key.
import test from "ava";
import acme from "acme-client";
import https from "node:https";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openssl, pkiOk } from "./_helpers.js";
import {
  acmeSnapshot, challengeServer, depotCert, newDepot, newKey, rawClient, request, startAcme,
} from "./_acme.js";

test("bad input gets its problem document, never a write or a crash", async (t) => {
  t.timeout(180_000);
  const dir = await newDepot(t);
  const { port: httpPort, tokens } = await challengeServer(t);
  const s = await startAcme(t, dir, [
    "--allow",
    "ok.test",
    "--http-01-port",
    String(httpPort),
    "--resolve",
    "ok.test=127.0.0.1",
  ]);
  const ca = readFileSync(await depotCert(dir));
  const c = await rawClient(ca, s.url);

  // A valid account with a ready order, to aim the bad requests at.
  const acct = await newKey();
  const created = await c.post(c.dir.newAccount, { termsOfServiceAgreed: true }, acct);
  t.is(created.status, 201, created.text);
  const kid = created.headers.location;
  const as = { key: acct.key, kid };
  const order = await c.post(c.dir.newOrder, { identifiers: [{ type: "dns", value: "ok.test" }] }, as);
  const orderUrl = order.headers.location;
  const authz = (await c.post(order.json.authorizations[0], "", as)).json;
  const ch = authz.challenges.find((x) => x.type === "http-01");
  const { calculateJwkThumbprint } = await import("jose");
  tokens.set(ch.token, `${ch.token}.${await calculateJwkThumbprint(acct.jwk)}`);
  await c.post(ch.url, {}, as);
  for (let i = 0; i < 100 && (await c.post(orderUrl, "", as)).json.status !== "ready"; i++)
    await new Promise((r) => setTimeout(r, 100));
  t.is((await c.post(orderUrl, "", as)).json.status, "ready");

  const csr = (names, keyFile) => {
    const args = [
      "req",
      "-new",
      "-subj",
      `/CN=${names[0]}`,
      "-addext",
      `subjectAltName=${names.map((n) => `DNS:${n}`).join(",")}`,
      "-outform",
      "DER",
    ];
    return openssl(
      keyFile
        ? [...args, "-key", keyFile]
        : [...args, "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "/dev/null"],
    );
  };
  writeFileSync(join(dir, "acct.key"), acct.pem);
  const extraNames = (await csr(["ok.test", "evil.test"])).stdout.toString("base64url");
  const acctKeyCsr = (await csr(["ok.test"], join(dir, "acct.key"))).stdout.toString("base64url");

  const before = await acmeSnapshot(dir);
  const expect = async (what, r, type, status) => {
    t.is(r.json?.type, `urn:ietf:params:acme:error:${type}`, `${what}: ${r.status} ${r.text.slice(0, 300)}`);
    if (status) t.is(r.status, status, what);
    t.truthy(r.headers["replay-nonce"], `${what}: a fresh nonce even on error`);
  };
  const raw = (body, type) => request(ca, c.dir.newOrder, { body, type });
  const other = await newKey();
  const used = await c.freshNonce();
  await c.post(kid, "", { ...as, nonce: used });

  await expect("not JSON", await raw("{nope"), "malformed", 400);
  await expect("oversized body", await raw("x".repeat(200_000)), "malformed", 413);
  await expect(
    "wrong content type",
    await raw(await c.sign(c.dir.newOrder, {}, as), "application/json"),
    "malformed",
    415,
  );
  await expect("no nonce", await c.post(c.dir.newOrder, {}, { ...as, nonce: null }), "badNonce", 400);
  await expect(
    "unknown nonce",
    await c.post(c.dir.newOrder, {}, { ...as, nonce: "AAAAAAAAAAAAAAAAAAAAAA" }),
    "badNonce",
    400,
  );
  await expect("replayed nonce", await c.post(kid, "", { ...as, nonce: used }), "badNonce", 400);
  await expect(
    "url not the request URL",
    await c.post(c.dir.newOrder, {}, { ...as, headerUrl: c.dir.revokeCert }),
    "unauthorized",
    401,
  );
  const hs = new TextEncoder().encode("k".repeat(32));
  await expect(
    "unknown algorithm",
    await c.post(c.dir.newOrder, {}, { key: hs, kid, alg: "HS256" }),
    "badSignatureAlgorithm",
    400,
  );
  await expect(
    "signed by another key",
    await c.post(c.dir.newOrder, { identifiers: [{ type: "dns", value: "ok.test" }] }, { key: other.key, kid }),
    "malformed",
    400,
  );
  await expect("jwk where kid is due", await c.post(c.dir.newOrder, {}, other), "malformed", 400);
  await expect(
    "both jwk and kid",
    await c.post(c.dir.newOrder, {}, { ...as, extra: { jwk: acct.jwk } }),
    "malformed",
    400,
  );
  await expect(
    "unknown account",
    await c.post(c.dir.newOrder, {}, { key: acct.key, kid: kid.replace(/[^/]+$/, "nosuchaccount") }),
    "accountDoesNotExist",
    400,
  );
  await expect(
    "onlyReturnExisting, no account",
    await c.post(c.dir.newAccount, { onlyReturnExisting: true }, other),
    "accountDoesNotExist",
    400,
  );
  const badIds = [
    ["name outside --allow", { type: "dns", value: "evil.test" }, "rejectedIdentifier", 403],
    ["wildcard outside --allow", { type: "dns", value: "*.ok.test" }, "rejectedIdentifier", 403],
    ["bad identifier type", { type: "email", value: "a@ok.test" }, "unsupportedIdentifier", 400],
  ];
  for (const [what, id, type, status] of badIds) {
    await expect(what, await c.post(c.dir.newOrder, { identifiers: [id] }, as), type, status);
  }
  await expect("CSR with an extra name", await c.post(order.json.finalize, { csr: extraNames }, as), "badCSR", 400);
  await expect("CSR with the account key", await c.post(order.json.finalize, { csr: acctKeyCsr }, as), "badCSR", 400);
  await expect("CSR not DER", await c.post(order.json.finalize, { csr: "AAAA" }, as), "badCSR", 400);
  await expect(
    "another account's order",
    await c.post(orderUrl, "", { key: other.key, kid: (await c.post(c.dir.newAccount, {}, other)).headers.location }),
    "unauthorized",
    403,
  );
  t.is((await request(ca, orderUrl, { method: "GET" })).status, 405, "GET on a resource: POST-as-GET only");

  // The one write above is the second account; everything else left the depot as it was.
  const after = await acmeSnapshot(dir);
  const changed = Object.keys({ ...before, ...after }).filter((k) => before[k] !== after[k]);
  t.deepEqual(
    changed.filter((k) => !k.startsWith("acme/accounts/")),
    [],
  );
  t.is(changed.length, 1, `only the second account's file: ${changed}`);
  t.is((await c.post(orderUrl, "", as)).json.status, "ready", "the order survived every bad finalize");
  t.is((await request(ca, s.url, { method: "GET" })).status, 200, "still serving");
});

test("--eab: no binding, externalAccountRequired; a key from 'pki acme eab add' registers once (acme-client)", async (t) => {
  t.timeout(60_000);
  const dir = await newDepot(t);
  const added = await pkiOk(t, dir, ["acme", "eab", "add", "ci-runners"]);
  const kid = /key id: (\S+)/.exec(added.out)[1];
  const hmacKey = /hmac key: (\S+)/.exec(added.out)[1];
  const s = await startAcme(t, dir, ["--eab"]);
  const ca = readFileSync(await depotCert(dir));
  const c = await rawClient(ca, s.url);
  t.true(c.dir.meta.externalAccountRequired);
  const k = await newKey();
  const before = await acmeSnapshot(dir, { eab: [kid] });
  const r = await c.post(c.dir.newAccount, { termsOfServiceAgreed: true }, k);
  t.is(r.json.type, "urn:ietf:params:acme:error:externalAccountRequired");
  t.deepEqual(await acmeSnapshot(dir, { eab: [kid] }), before);

  acme.axios.defaults.httpsAgent = new https.Agent({ ca });
  const client = (key) =>
    new acme.Client({ directoryUrl: s.url, accountKey: key, externalAccountBinding: { kid, hmacKey } });
  const first = client(await acme.crypto.createPrivateEcdsaKey());
  await first.createAccount({ termsOfServiceAgreed: true });
  t.regex(first.getAccountUrl(), /\/acme\/acct\//);
  const second = client(await acme.crypto.createPrivateEcdsaKey());
  const e = await t.throwsAsync(second.createAccount({ termsOfServiceAgreed: true }));
  t.regex(e.message, /already bound/);
});
