// Wildcard identifiers (RFC 8555 §7.1.3): validated with dns-01 only, judged by --allow and the CA's name
// constraints as the names they reach, and carried as the wildcard SAN.
import test from "ava";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { openssl } from "./_helpers.js";
import { checkIssued, depotCert, logged, newDepot, newKey, rawClient, startAcme } from "./_acme.js";
import { legoDns, startNamed } from "./_named.js";

test("lego --dns rfc2136: *.example.internal and example.internal in one certificate", async (t) => {
  t.timeout(180_000);
  const dir = await newDepot(t);
  const ns = await startNamed(t, dir);
  const s = await startAcme(t, dir, ["--allow", "example.internal,*.example.internal", "--dns-resolver", ns.server]);
  const r = await legoDns(dir, s, ns, ["-d", "*.example.internal", "-d", "example.internal", "run"]);
  t.is(r.code, 0, `${r.stderr}\n--- server ---\n${s.log()}`);
  await logged(s, /validation dns-01 \*\.example\.internal: valid/);
  const crt = join(dir, "lego", "certificates", "_.example.internal.crt");
  await checkIssued(t, dir, crt, ["*.example.internal", "example.internal"]);
  // A name under the wildcard verifies as a host name; one two labels down does not (RFC 6125).
  const ca = await depotCert(dir);
  const verify = (host) => openssl(["verify", "-x509_strict", "-CAfile", ca, "-verify_hostname", host, crt]);
  t.is((await verify("db.example.internal")).code, 0);
  t.not((await verify("a.db.example.internal")).code, 0);
});

/** An account on `s` through a raw client; returns { c, as } to post with. */
async function account(dir, s) {
  const c = await rawClient(readFileSync(await depotCert(dir)), s.url);
  const k = await newKey();
  const r = await c.post(c.dir.newAccount, { termsOfServiceAgreed: true }, k);
  return { c, as: { key: k.key, kid: r.headers.location } };
}

test("a wildcard's authorization names the base with wildcard: true and offers dns-01 alone", async (t) => {
  const dir = await newDepot(t);
  const s = await startAcme(t, dir, ["--allow", "*.svc.internal"]);
  const { c, as } = await account(dir, s);
  const ids = [
    { type: "dns", value: "*.svc.internal" },
    { type: "dns", value: "db.svc.internal" },
  ];
  const o = await c.post(c.dir.newOrder, { identifiers: ids }, as);
  t.is(o.status, 201, o.text);
  t.deepEqual(o.json.identifiers, ids);
  const zs = await Promise.all(o.json.authorizations.map(async (u) => (await c.post(u, "", as)).json));
  const wild = zs.find((z) => z.wildcard);
  t.deepEqual(wild.identifier, { type: "dns", value: "svc.internal" });
  t.deepEqual(
    wild.challenges.map((x) => x.type),
    ["dns-01"],
  );
  const plain = zs.find((z) => !z.wildcard);
  t.is(plain.wildcard, undefined);
  t.deepEqual(plain.challenges.map((x) => x.type).sort(), ["dns-01", "http-01", "tls-alpn-01"]);
  // The wildcard's authorization has no http-01 to answer.
  const http = await c.post(wild.challenges[0].url.replace(/dns-01$/, "http-01"), {}, as);
  t.is(http.status, 404);
});

test("a wildcard is refused where --allow or the name constraints miss a name it covers", async (t) => {
  const dir = await newDepot(t, ["--permit-domain", "example.internal", "--exclude-domain", "secret.example.internal"]);
  const s = await startAcme(t, dir, ["--allow", "*.other.internal,*.example.internal"]);
  const { c, as } = await account(dir, s);
  const order = (value) => c.post(c.dir.newOrder, { identifiers: [{ type: "dns", value }] }, as);
  const refused = async (value, status, re) => {
    const r = await order(value);
    t.is(r.status, status, `${value}: ${r.text}`);
    t.is(r.json.type, "urn:ietf:params:acme:error:rejectedIdentifier", value);
    t.regex(r.json.detail, re, value);
  };
  await refused("*.other.internal", 403, /name constraints/); // allowed by --allow, outside the permitted subtree
  await refused("*.secret.example.internal", 403, /excluded/); // its names are all excluded
  await refused("*.example.internal", 403, /excluded/); // it reaches secret.example.internal
  await refused("*.elsewhere.test", 403, /--allow/);
  await refused("*.*.a.internal", 400, /invalid domain/);
  const ok = await order("*.db.example.internal");
  t.is(ok.status, 201, ok.text);
});
