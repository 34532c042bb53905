// ACME Renewal Information (RFC 9773): certIDs as openssl computes them, the suggested window of a fresh certificate
// (in its future), of one `pki acme renew-now` named or `pki revoke` revoked (begun), newOrder's `replaces` recorded
// and shown by `pki list`. No installed client speaks ARI (lego 4.9, acme-client 5.4): the requests are the test's.
import test from "ava";
import acme from "acme-client";
import https from "node:https";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openssl, pki, pkiOk, snapshot } from "./_helpers.js";
import { acmeSnapshot, challengeServer, depotCert, logged, newDepot, request, startAcme } from "./_acme.js";

/** RFC 9773 §4.1 from openssl's own reading of the certificate: AKI key id "." the serial's DER content bytes. */
async function opensslCertId(t, file) {
  const r = await openssl(["x509", "-in", file, "-noout", "-ext", "authorityKeyIdentifier", "-serial"]);
  t.is(r.code, 0, r.stderr);
  const aki = /^\s+(?:keyid:)?([0-9A-F:]+)$/m.exec(r.out)[1].replace(/:/g, "");
  let serial = /serial=([0-9A-F]+)/.exec(r.out)[1];
  if (serial.length % 2) serial = `0${serial}`;
  if (parseInt(serial[0], 16) >= 8) serial = `00${serial}`; // DER: a positive INTEGER's top bit is clear
  const b64u = (hex) => Buffer.from(hex, "hex").toString("base64url");
  return `${b64u(aki)}.${b64u(serial)}`;
}

/** A certificate for `name` through acme-client `c` (http-01 answered by `tokens`); `extra` goes into newOrder. */
async function obtain(c, tokens, name, extra = {}) {
  const order = await c.createOrder({ identifiers: [{ type: "dns", value: name }], ...extra });
  const [authz] = await c.getAuthorizations(order);
  const ch = authz.challenges.find((x) => x.type === "http-01");
  tokens.set(ch.token, await c.getChallengeKeyAuthorization(ch));
  await c.completeChallenge(ch);
  await c.waitForValidStatus(order);
  const [, csr] = await acme.crypto.createCsr({ commonName: name });
  const done = await c.finalizeOrder(order, csr);
  return { order: done, pem: (await c.getCertificate(done)).split(/(?<=-----END CERTIFICATE-----)/)[0].trim() + "\n" };
}

async function setup(t) {
  const dir = await newDepot(t);
  const { port, tokens } = await challengeServer(t);
  const names = ["a.ari.test", "b.ari.test"];
  const s = await startAcme(t, dir, ["--allow", "*.ari.test", "--http-01-port", String(port),
    "--resolve", names.map((n) => `${n}=127.0.0.1`).join(",")]);
  const ca = readFileSync(await depotCert(dir));
  acme.axios.defaults.httpsAgent = new https.Agent({ ca });
  const c = new acme.Client({ directoryUrl: s.url, accountKey: await acme.crypto.createPrivateEcdsaKey() });
  await c.createAccount({ termsOfServiceAgreed: true });
  const dirDoc = (await request(ca, s.url, { method: "GET" })).json;
  const ari = async (id) => request(ca, `${dirDoc.renewalInfo}/${id}`, { method: "GET" });
  return { dir, s, c, tokens, ca, ari, dirDoc };
}

const serialOf = async (file) =>
  /serial=([0-9A-F]+)/.exec((await openssl(["x509", "-in", file, "-noout", "-serial"])).out)[1];

const entryOf = async (t, dir, serialHex) => {
  const list = JSON.parse((await pkiOk(t, dir, ["list", "--json"])).out);
  return list.find((e) => e.serial === serialHex.toLowerCase().replace(/^0+/, ""));
};

test.serial("renewalInfo: openssl's certID, a future window, begun after renew-now and after revoke", async (t) => {
  t.timeout(120_000);
  const { dir, c, tokens, ari, dirDoc } = await setup(t);
  t.regex(dirDoc.renewalInfo, /^https:\/\/127\.0\.0\.1:\d+\/acme\/renewal-info$/);
  const a = await obtain(c, tokens, "a.ari.test");
  writeFileSync(join(dir, "a.pem"), a.pem);
  const id = await opensslCertId(t, join(dir, "a.pem"));
  const before = Date.now();
  const r = await ari(id);
  t.is(r.status, 200, r.text);
  const { start, end } = r.json.suggestedWindow;
  t.true(Date.parse(start) > before, `a fresh certificate's window (${start}) lies in its future`);
  t.true(Date.parse(end) > Date.parse(start));
  const info = await openssl(["x509", "-in", join(dir, "a.pem"), "-noout", "-startdate", "-enddate", "-serial"]);
  const nb = Date.parse(/notBefore=(.*)/.exec(info.out)[1]);
  const na = Date.parse(/notAfter=(.*)/.exec(info.out)[1]);
  const twoThirds = nb + ((na - nb) * 2) / 3;
  t.true(Date.parse(start) <= twoThirds && twoThirds <= Date.parse(end), "the window holds two thirds of the lifetime");
  t.true(Number(r.headers["retry-after"]) > 0, `Retry-After ${r.headers["retry-after"]}`);

  const entry = await entryOf(t, dir, /serial=([0-9A-F]+)/.exec(info.out)[1]);
  const marked = await pkiOk(t, dir, ["acme", "renew-now", entry.name]);
  t.is(marked.out, `${entry.name}\n`);
  const now = await ari(id);
  t.true(Date.parse(now.json.suggestedWindow.start) <= Date.now(), "after renew-now the window has begun");

  const b = await obtain(c, tokens, "b.ari.test");
  writeFileSync(join(dir, "b.pem"), b.pem);
  const idB = await opensslCertId(t, join(dir, "b.pem"));
  t.true(Date.parse((await ari(idB)).json.suggestedWindow.start) > Date.now());
  await pkiOk(t, dir, ["revoke", (await entryOf(t, dir, await serialOf(join(dir, "b.pem")))).name]);
  const revoked = (await ari(idB)).json.suggestedWindow;
  t.true(Date.parse(revoked.start) <= Date.now(), "after pki revoke the window has begun");

  // Ids that name nothing, or not canonically: a problem document each, and the server keeps answering.
  const [akiPart] = id.split(".");
  const bads = [["abc", 400], [`${id}=`, 400], [`${akiPart}.AQ`, 404], [`AAAA.${id.split(".")[1]}`, 404]];
  for (const [bad, status] of bads) {
    const x = await ari(bad);
    t.is(x.status, status, `${bad}: ${x.text}`);
    t.is(x.json.type, "urn:ietf:params:acme:error:malformed");
  }
  t.is((await ari(id)).status, 200);
});

test.serial("newOrder's replaces is recorded, a second one is alreadyReplaced, pki list shows the pair", async (t) => {
  t.timeout(120_000);
  const { dir, s, c, tokens } = await setup(t);
  const old = await obtain(c, tokens, "a.ari.test");
  writeFileSync(join(dir, "old.pem"), old.pem);
  const id = await opensslCertId(t, join(dir, "old.pem"));
  const oldName = (await entryOf(t, dir, await serialOf(join(dir, "old.pem")))).name;

  const order = (name) => c.createOrder({ identifiers: [{ type: "dns", value: name }], replaces: id }).catch((e) => e);
  const err = await order("b.ari.test");
  t.regex(String(err.message), /shares no identifier/);
  const next = await obtain(c, tokens, "a.ari.test", { replaces: id });
  t.is(next.order.replaces, id);
  const again = await order("a.ari.test");
  t.regex(String(again.message), /already being replaced/);
  await logged(s, /POST \/acme\/new-order 409 alreadyReplaced/);

  writeFileSync(join(dir, "new.pem"), next.pem);
  const fresh = await entryOf(t, dir, await serialOf(join(dir, "new.pem")));
  t.is(fresh.acme.replaces, oldName);
  const table = (await pkiOk(t, dir, ["list"])).out;
  t.regex(table, new RegExp(`^${fresh.name} \\(replaces ${oldName}\\)\\s`, "m"));

  const both = [oldName, fresh.name].sort();
  t.deepEqual((await pkiOk(t, dir, ["acme", "renew-now", "--issuer", "ca"])).out.trim().split("\n").sort(), both);
  t.deepEqual((await pkiOk(t, dir, ["acme", "renew-now", "--all"])).out.trim().split("\n").sort(), both);
});

test("pki acme renew-now: --issuer and --all mark what the server issued; bad selections change nothing", async (t) => {
  const dir = await newDepot(t);
  // the depot's files byte for byte; on PostgreSQL (acme-ari-pg) its records
  const state = async () => (existsSync(join(dir, ".pki")) ? snapshot(join(dir, ".pki")) : acmeSnapshot(dir));
  const before = await state();
  for (const [args, code, re] of [
    [["acme", "renew-now"], 2, /^pki: usage: pki acme renew-now NAME \| --issuer CA \| --all\n$/],
    [["acme", "renew-now", "x", "--all"], 2, /usage/],
    [["acme", "renew-now", "--issuer", "nosuch"], 1, /^pki: unknown name "nosuch"/],
    [["acme", "renew-now", "ca"], 1, /^pki: "ca" was not issued by 'pki acme serve'/],
  ]) {
    const r = await pki(dir, args);
    t.is(r.code, code, `${args.join(" ")}: ${r.stderr}`);
    t.regex(r.stderr, re);
  }
  t.deepEqual(await state(), before);
  const none = await pkiOk(t, dir, ["acme", "renew-now", "--all"]);
  t.is(none.out, "");
  t.regex(none.stderr, /nothing marked/);
  t.is((await pkiOk(t, dir, ["acme", "renew-now", "--issuer", "ca"])).out, "");
});
