// Helpers for the depot-API tests (test/depot-*.test.js): a depot made by `pki init` with a cheap KDF, opened
// in this process through the package's "pki-depot/depot" entry (the built dist/store/depot/index.js).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { PASS, ROOT, openssl, pkiOk, snapshot, tempDir } from "./_helpers.js";

// Read by `pki init` (the child) and by the depot's own checks in this process: 1000 PBKDF2 rounds, test only.
process.env.PKI_TEST_ONLY_KDF_ITERATIONS = "1000";

export const { openDepot, InputError, DepotError } = await import(join(ROOT, "dist", "store", "depot", "index.js"));

/** `pki init` in a temp dir: the layout-1 depot at DIR/.pki that openDepot upgrades; returns both paths. */
export async function initDepot(t, initArgs = []) {
  const dir = tempDir(t, "pki-depot-");
  writeFileSync(join(dir, "pass"), PASS + "\n");
  await pkiOk(t, dir, ["init", "--passphrase-file", "pass", ...initArgs]);
  return { dir, depot: join(dir, ".pki") };
}

/** openDepot on a fresh depot; closed at the end of the test. */
export async function openNew(t, initArgs) {
  const { dir, depot } = await initDepot(t, initArgs);
  const d = await openDepot({ depot, passphrase: PASS, upgrade: true });
  t.teardown(() => d.close());
  return { dir, depot, d };
}

/** Writes `text` to DIR/NAME and returns the path (for openssl's file arguments). */
export function put(dir, name, text) {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** `openssl verify -x509_strict` of a certificate PEM against the CA PEM (and optional CRL): [code, output]. */
export async function verify(dir, caPem, certPem, crlPem) {
  const args = ["verify", "-x509_strict", "-CAfile", put(dir, "ca-v.pem", caPem)];
  if (crlPem) args.push("-crl_check", "-CRLfile", put(dir, "crl-v.pem", crlPem));
  const r = await openssl([...args, put(dir, "leaf-v.pem", certPem)]);
  return [r.code, r.out + r.stderr];
}

/**
 * snapshot() of a depot that a process has open, without depot.db-shm: SQLite's shared-memory index of the WAL,
 * which a read updates (its read marks) and which holds no record. depot.db and its WAL must stay byte-identical.
 */
export function depotFiles(depot) {
  return Object.fromEntries(Object.entries(snapshot(depot)).filter(([f]) => !f.endsWith("-shm")));
}

export const collect = async (it) => { const out = []; for await (const e of it) out.push(e); return out; };

/**
 * The API's main flow on an open depot `d` (a directory or a postgresql:// URL; `dir` a scratch directory), judged
 * by openssl: issue → get (the key opens, it is the certificate's) → list filters → revoke → crl.
 */
export async function issueToCrl(t, d, dir) {
  const web = await d.issue("web", { domains: ["web.example"], ips: ["10.0.0.5"], lifetime: "90d" });
  const api = await d.issue("api", { domains: ["api.example"], key: "rsa", usage: "server" });
  t.regex(web.serial, /^[0-9a-f]+$/);
  t.not(web.serial, api.serial);
  const ca = await d.get("ca");
  t.is(ca.kind, "ca");
  for (const c of [web, api]) {
    const [code, out] = await verify(dir, ca.certificate, c.certificate);
    t.is(code, 0, out);
  }
  const text = (await openssl(["x509", "-noout", "-text", "-in", put(dir, "web.pem", web.certificate)])).out;
  t.regex(text, /DNS:web\.example, IP Address:10\.0\.0\.5/);
  t.true(Math.abs(Date.parse(web.notAfter) - Date.now() - 90 * 86400_000) < 600_000, web.notAfter);

  const got = await d.get("web");
  t.is(got.serial, web.serial);
  t.is(got.certificate, web.certificate);
  const keyFile = put(dir, "web.key", got.key);
  const pkey = await openssl(["pkey", "-in", keyFile, "-passin", `pass:${PASS}`, "-pubout"]);
  t.is(pkey.code, 0, pkey.stderr);
  const certPub = await openssl(["x509", "-in", put(dir, "w.pem", got.certificate), "-noout", "-pubkey"]);
  t.is(pkey.out, certPub.out, "the key in the depot is the certificate's");
  t.not((await openssl(["pkey", "-in", keyFile, "-passin", "pass:wrong"])).code, 0, "the key is encrypted");

  t.deepEqual((await collect(d.list())).map((e) => e.name), ["api", "ca", "web"]);
  t.deepEqual((await collect(d.list({ issuer: "ca" }))).map((e) => e.name), ["api", "web"]);
  t.deepEqual((await collect(d.list({ expiringWithin: "100d" }))).map((e) => e.name), ["web"]);

  const r = await d.revoke("web", { reason: "keyCompromise" });
  t.is(r.serial, web.serial);
  t.deepEqual((await collect(d.list({ status: "revoked" }))).map((e) => e.name), ["web"]);
  t.deepEqual((await collect(d.list({ status: "signed" }))).map((e) => e.name).sort(), ["api", "ca"]);
  const crl = await d.crl();
  t.is(crl.number, 1);
  t.is(crl.revoked, 1);
  const crlText = await openssl(["crl", "-noout", "-text", "-CAfile", put(dir, "ca.pem", ca.certificate),
    "-in", put(dir, "crl.pem", crl.pem)]);
  t.is(crlText.code, 0, crlText.stderr);
  t.regex(crlText.stderr + crlText.out, /verify OK/);
  t.regex(crlText.out, new RegExp(`Serial Number: ${web.serial.toUpperCase()}`));
  t.regex(crlText.out, /Key Compromise/);
  const [code, out] = await verify(dir, ca.certificate, web.certificate, crl.pem);
  t.not(code, 0, "openssl refuses the revoked certificate with the CRL");
  t.regex(out, /revoked/);
  t.is((await verify(dir, ca.certificate, api.certificate, crl.pem))[0], 0);
  t.is((await d.crl()).number, 2, "the cRLNumber increments");
}
