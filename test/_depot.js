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
