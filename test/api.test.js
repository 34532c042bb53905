// The programmatic API from the package root: in-memory CAs and certs judged by node's TLS and openssl;
// interchangeable with what `pki fixtures` and the depot write.
import test from "ava";
import fc from "fast-check";
import https from "node:https";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PASS, ROOT, inOwnProcess, newDepot, openssl, pkiOk, snapshot, tempDir, untar } from "./_helpers.js";

// Through the package's own name: checks package.json "exports" and the ESM entry.
const api = await import("pki-depot");
const { createCA, loadCA, buildFixtures, InputError, SpecError, parseWhen } = api;

/** GET https://127.0.0.1:PORT/ trusting `ca`, optionally with a client cert; resolves the status or the error code. */
function get(port, { ca, cert, key, servername }) {
  return new Promise((resolve) => {
    const req = https.get({ host: "127.0.0.1", port, path: "/", ca, cert, key, ...(servername ? { servername } : {}), agent: false }, (res) => { res.resume(); resolve(res.statusCode); });
    req.on("error", (e) => resolve(e.code ?? e.message));
  });
}

async function serve(t, opts) {
  const server = https.createServer(opts, (req, res) => { res.writeHead(200); res.end("ok"); });
  server.on("tlsClientError", () => {});
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }));
  return server.address().port;
}

test("createCA + issue: node's TLS accepts the server and the client cert, in memory; the wrong CA is refused", async (t) => {
  const ca = await createCA({ name: "ca" });
  const int = await ca.createIntermediate({ name: "int" });
  const server = await int.issue({ name: "server", ip: ["127.0.0.1"], domain: ["localhost"], usage: "server" });
  const client = await int.issue({ name: "client", usage: "client", key: "rsa-2048" });
  t.regex(server.certPem, /^-----BEGIN CERTIFICATE-----\n/);
  t.regex(server.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
  t.is(server.keyType, "ECDSA P-256");
  t.is(client.keyType, "RSA 2048");
  t.is(server.state(), "valid");
  t.is(server.issuers.map((c) => c.name).join(","), "int,ca");

  const port = await serve(t, { cert: server.chainPem, key: server.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true });
  t.is(await get(port, { ca: ca.certPem, cert: client.chainPem, key: client.keyPem }), 200, "IP SAN 127.0.0.1 matches");
  t.is(await get(port, { ca: ca.certPem, cert: client.chainPem, key: client.keyPem, servername: "localhost" }), 200, "DNS SAN localhost matches");
  t.is(await get(port, { ca: ca.certPem, cert: client.chainPem, key: client.keyPem, servername: "other.example" }), "ERR_TLS_CERT_ALTNAME_INVALID");
  const other = await createCA({ name: "other" });
  t.is(await get(port, { ca: other.certPem, cert: client.chainPem, key: client.keyPem }), "UNABLE_TO_GET_ISSUER_CERT_LOCALLY");
  const stranger = await other.issue({ name: "stranger", usage: "client" });
  const refused = await get(port, { ca: ca.certPem, cert: stranger.certPem, key: stranger.keyPem });
  t.not(refused, 200, "a client cert from another CA is refused");
  const serverAsClient = await get(port, { ca: ca.certPem, cert: server.chainPem, key: server.keyPem });
  t.not(serverAsClient, 200, "a serverAuth-only cert is no client cert");
});

test("openssl agrees: chains, expired and not-yet-valid certs, CRLs, PKCS#12, encrypted keys", async (t) => {
  const dir = tempDir(t);
  const w = (name, data) => { writeFileSync(join(dir, name), data); return join(dir, name); };
  const ca = await createCA({ name: "ca", key: "rsa-2048" });
  const int = await ca.createIntermediate({ name: "int", key: "ecdsa-p384", pathLength: 0 });
  const good = await int.issue({ name: "good", domain: ["good.test"] });
  const old = await int.issue({ name: "old", notBefore: "-30d", notAfter: "-1d" });
  const soon = await int.issue({ name: "soon", notBefore: "+1d", expires: "1 year" });
  const bad = await int.issue({ name: "bad", key: "ed25519" });
  int.revoke(bad, { reason: "superseded" });
  t.deepEqual([good, old, soon, bad].map((c) => c.state()), ["valid", "expired", "not-yet-valid", "revoked"]);

  const caFile = w("ca.crt", ca.certPem);
  const verify = async (c, extra = []) => openssl(["verify", ...extra, "-CAfile", caFile, "-untrusted", w(`${c.name}.chain.pem`, c.chainPem), w(`${c.name}.crt`, c.certPem)]);
  t.is((await verify(good)).code, 0);
  const text = async (c, extra) => { const r = await verify(c, extra); t.not(r.code, 0); return r.out + r.stderr; };
  t.regex(await text(old), /certificate has expired/);
  t.regex(await text(soon), /certificate is not yet valid/);
  const crls = w("crls.pem", (await int.crlPem()) + (await ca.crlPem()));
  t.is((await verify(good, ["-crl_check_all", "-CRLfile", crls])).code, 0);
  t.regex(await text(bad, ["-crl_check", "-CRLfile", crls]), /certificate revoked/);

  const p12 = await openssl(["pkcs12", "-in", w("good.p12", good.toP12("p12 pass")), "-passin", "pass:p12 pass", "-nodes"]);
  t.is(p12.code, 0, p12.stderr);
  t.is(p12.out.match(/BEGIN CERTIFICATE/g).length, 3);
  const enc = await good.encryptedKeyPem(PASS);
  t.regex(enc, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
  const pub = await openssl(["pkey", "-in", w("good.key", enc), "-passin", `pass:${PASS}`, "-pubout"]);
  const certPub = await openssl(["x509", "-in", join(dir, "good.crt"), "-noout", "-pubkey"]);
  t.is(pub.out, certPub.out);
  t.true(good.toJks("store pass").subarray(0, 4).equals(Buffer.from("feedfeed", "hex")));
});

test("interchangeable with the CLI: an API cert verifies with a CA `pki fixtures` wrote; buildFixtures has the same names, modes and layout", async (t) => {
  const dir = tempDir(t);
  const spec = {
    passphrase: PASS,
    cas: [{ name: "root" }, { name: "int", issuer: "root" }],
    certs: [{ name: "server", issuer: "int", ip: "127.0.0.1", outputs: ["pem", "insecure", "chain", "p12", "jks", "crl"] }, { name: "gone", issuer: "int", outputs: ["insecure"] }],
    revocations: [{ cert: "gone" }],
  };
  writeFileSync(join(dir, "spec.json"), JSON.stringify(spec));
  await pkiOk(t, dir, ["fixtures", "spec.json", "--out", "cli"]);
  const cli = join(dir, "cli");

  // The CLI's intermediate, loaded by the API, issues a cert that openssl verifies against the CLI's root.
  const int = await loadCA({ name: "int", certPem: readFileSync(join(cli, "int.crt"), "utf8"), keyPem: readFileSync(join(cli, "int.key"), "utf8"), passphrase: PASS });
  const leaf = await int.issue({ name: "api-leaf", ip: ["127.0.0.1"] });
  writeFileSync(join(dir, "api-leaf.crt"), leaf.certPem);
  const v = await openssl(["verify", "-CAfile", join(cli, "root.crt"), "-untrusted", join(cli, "int.crt"), join(dir, "api-leaf.crt")]);
  t.is(v.code, 0, v.out + v.stderr);
  // The loaded intermediate is not self-signed, so it belongs in the chain a server sends.
  writeFileSync(join(dir, "api-leaf.chain.pem"), leaf.chainPem);
  t.is(leaf.chainPem.match(/BEGIN CERTIFICATE/g).length, 2);
  const vc = await openssl(["verify", "-CAfile", join(cli, "root.crt"), "-untrusted", join(dir, "api-leaf.chain.pem"), join(dir, "api-leaf.crt")]);
  t.is(vc.code, 0, vc.out + vc.stderr);
  await t.throwsAsync(loadCA({ certPem: readFileSync(join(cli, "int.crt"), "utf8"), keyPem: readFileSync(join(cli, "int.key"), "utf8"), passphrase: "wrong" }), { message: /wrong passphrase/ });
  await t.throwsAsync(loadCA({ certPem: readFileSync(join(cli, "root.crt"), "utf8"), keyPem: readFileSync(join(cli, "int.key"), "utf8"), passphrase: PASS }), { message: /does not belong/ });
  await t.throwsAsync(loadCA({ certPem: readFileSync(join(cli, "server.crt"), "utf8"), keyPem: readFileSync(join(cli, "server.key.insecure"), "utf8") }), { message: /not a CA/ });

  // The API's set, written the obvious way, has the CLI's names and modes; openssl judges it the same.
  const set = await buildFixtures(spec);
  const api = join(dir, "api");
  mkdirSync(api);
  for (const f of set.files) writeFileSync(join(api, f.name), f.data, { mode: f.mode });
  const shape = (d) => Object.fromEntries(Object.entries(snapshot(d)).map(([k, v]) => [k, v.split(" ")[0]]));
  t.deepEqual(shape(api), shape(cli));
  t.deepEqual(set.files.map((f) => f.name).sort(), readdirSync(cli).sort());
  for (const d of [api, cli]) {
    const ok = await openssl(["verify", "-crl_check_all", "-CRLfile", join(d, "server.crl.pem"), "-CAfile", join(d, "root.crt"), "-untrusted", join(d, "server.chain.pem"), join(d, "server.crt")]);
    t.is(ok.code, 0, ok.out + ok.stderr);
    const gone = await openssl(["verify", "-crl_check", "-CRLfile", join(d, "int.crl"), "-CAfile", join(d, "root.crt"), "-untrusted", join(d, "int.crt"), join(d, "gone.crt")]);
    t.regex(gone.out + gone.stderr, /certificate revoked/);
  }
  // Mixing the two: the API's server cert does not verify under the CLI's root (different keys).
  const mixed = await openssl(["verify", "-CAfile", join(cli, "root.crt"), "-untrusted", join(cli, "int.crt"), join(api, "server.crt")]);
  t.not(mixed.code, 0);
  t.is(set.certs.get("server").state(), "valid");
  t.is(set.certs.get("gone").state(), "revoked");
});

test("a depot's CA (pki init) issues through the API", async (t) => {
  const dir = await newDepot(t);
  await untar(t, dir, (await pkiOk(t, dir, ["export"])).stdout); // ca.crt and ca.key, encrypted as the depot holds it
  const ca = await loadCA({ certPem: readFileSync(join(dir, "ca.crt"), "utf8"), keyPem: readFileSync(join(dir, "ca.key"), "utf8"), passphrase: PASS });
  const leaf = await ca.issue({ name: "x", domain: ["x.test"] });
  writeFileSync(join(dir, "x.crt"), leaf.certPem);
  const v = await openssl(["verify", "-CAfile", join(dir, "ca.crt"), join(dir, "x.crt")]);
  t.is(v.code, 0, v.out + v.stderr);
});

test("buildFixtures: one KDF run for many encrypted keys; a bad spec throws a SpecError naming the path, before any work", async (t) => {
  // Counted in a process of its own: this file's other tests run KDFs at the same moment.
  const counts = await inOwnProcess(t, `
    import { buildFixtures, SpecError } from "pki-depot";
    import { kdfRunCount } from "./dist/lib/formats/pkcs8.js";
    const certs = Array.from({ length: 12 }, (_, i) => ({ name: "c" + i, outputs: ["pem"] }));
    const set = await buildFixtures({ passphrase: "kdf once", cas: [{ name: "ca" }], certs });
    const keys = set.files.filter((f) => f.name.endsWith(".key")).length;
    const runs = kdfRunCount();
    // A new passphrase: had the bad spec reached the KDF, it would have cost a run of its own.
    const bad = { passphrase: "another", cas: [{ name: "ca" }], certs: [...certs, { name: "z", issuer: "int2" }] };
    const error = await buildFixtures(bad).then(() => "none", (e) => (e instanceof SpecError ? "SpecError" : e.message));
    console.log(JSON.stringify({ keys, runs, error, runsAfterBad: kdfRunCount() }));
  `);
  t.deepEqual(counts, { keys: 13, runs: 1, error: "SpecError", runsAfterBad: 1 },
    "13 keys, one PBKDF2 run; none for a bad spec");
  const spec = { passphrase: "p", cas: [{ name: "ca" }], certs: Array.from({ length: 12 }, (_, i) => ({ name: `c${i}` })) };
  const e = await t.throwsAsync(buildFixtures({ ...spec, certs: [...spec.certs, { name: "z", issuer: "int2" }] }), { instanceOf: SpecError });
  t.is(e.message, 'certs[12].issuer: unknown CA "int2"');
  t.is(e.path, "certs[12].issuer");
  await t.throwsAsync(buildFixtures("cas:\n  - name: a\n    key: dsa\n"), { message: /^cas\[0\]\.key: unknown key type "dsa"/ });
  await t.throwsAsync(buildFixtures({ cas: [{ name: "a" }] }), { message: /need a passphrase/ });
});

test("API input errors are InputErrors with one clear message", async (t) => {
  const ca = await createCA();
  t.is(ca.name, "ca");
  await t.throwsAsync(ca.issue({ name: "x", ip: ["1.2.3"] }), { instanceOf: InputError, message: /invalid IP address "1\.2\.3"/ });
  await t.throwsAsync(ca.issue({ name: "x", key: "dsa" }), { instanceOf: InputError, message: /unknown key type "dsa"/ });
  await t.throwsAsync(ca.issue({ name: "../x" }), { instanceOf: InputError, message: /invalid name/ });
  await t.throwsAsync(ca.issue({ name: "x", notBefore: "-1d", notAfter: "-2d" }), { instanceOf: InputError, message: /is not after notBefore/ });
  await t.throwsAsync(ca.issue({ name: "x", usage: "both" }), { instanceOf: InputError, message: /unknown usage/ });
  const far = await ca.issue({ name: "far", expires: "50 years" });
  t.deepEqual(far.notAfter, ca.notAfter, "clamped to the CA");
  t.regex(far.warnings[0], /clamped/);
  const other = await createCA({ name: "other" });
  t.throws(() => other.revoke(far), { message: /not issued by "other"/ });
  const dead = await createCA({ name: "dead", notBefore: "-10d", notAfter: "-1d" });
  await t.throwsAsync(dead.issue({ name: "y" }), { instanceOf: InputError, message: /after its issuer "dead" expires/ });
  t.is((await dead.issue({ name: "z", notBefore: "-5d" })).state(), "expired", "clamped into the CA's life: an expired cert");
});

test("parseWhen: offsets and durations are exact", (t) => {
  const now = new Date("2030-06-01T00:00:00Z");
  fc.assert(fc.property(fc.integer({ min: 1, max: 5000 }), fc.constantFrom(["d", 864e5], ["h", 3600e3], ["m", 60e3]), (n, [u, ms]) => {
    t.is(parseWhen(`-${n}${u}`, now).getTime(), now.getTime() - n * ms);
    t.is(parseWhen(`+${n}${u}`, now).getTime(), now.getTime() + n * ms);
    t.is(parseWhen(`${n}${u}`, now).getTime(), now.getTime() + n * ms);
  }));
  t.is(parseWhen("now", now), now);
  t.is(parseWhen("2031-01-02", now).toISOString(), "2031-01-02T00:00:00.000Z");
  t.throws(() => parseWhen("yesterday", now), { instanceOf: InputError });
});

test("the package has types and an ESM entry", (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  t.is(pkg.type, "module");
  t.is(pkg.exports["."].import, "./dist/lib/index.js");
  const dts = readFileSync(join(ROOT, "dist", "lib", "index.d.ts"), "utf8");
  for (const name of ["createCA", "loadCA", "buildFixtures", "CA", "Certificate", "FixtureSpec"]) t.regex(dts, new RegExp(`\\b${name}\\b`));
  t.true(existsSync(join(ROOT, "dist", "lib", "api", "api.d.ts")));
  t.is(typeof api.createCA, "function");
});
