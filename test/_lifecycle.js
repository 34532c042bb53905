// Helpers shared by test/lifecycle*.test.js (on top of _helpers.js).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { newDepot, pkiOk, run, untar } from "./_helpers.js";

/**
 * Like newDepot(), but with a cheap KDF (1000 PBKDF2 rounds, by the test-only PKI_TEST_ONLY_KDF_ITERATIONS, set for
 * every pki this test worker runs): these tests are about certificates, and 600k rounds per command make a loaded
 * machine crawl.
 */
export async function cheapDepot(t, initArgs = []) {
  process.env.PKI_TEST_ONLY_KDF_ITERATIONS = "1000";
  return newDepot(t, initArgs);
}

/** Exports NAME with its key decrypted into dir/out-NAME; returns the paths of NAME.crt and NAME.key.insecure. */
export async function exportInsecure(t, dir, name, extra = []) {
  const out = join(dir, `out-${name}`);
  mkdirSync(out, { recursive: true });
  const r = await pkiOk(t, dir, ["export", "--insecure", "--passphrase-file", "pass", ...extra, name]);
  const listing = await untar(t, out, r.stdout);
  return { crt: join(out, `${name}.crt`), key: join(out, `${name}.key.insecure`), out, listing };
}

/** `pki chain [ARGS] NAME` written to a file; returns its path. */
export async function chainFile(t, dir, name, args = []) {
  const r = await pkiOk(t, dir, ["chain", ...args, name]);
  const p = join(dir, `${name}${args.includes("--no-root") ? ".fullchain" : ".chain"}.pem`);
  writeFileSync(p, r.stdout);
  return p;
}

/** One extension of a certificate as openssl prints it. */
export const ext = async (crt, name) => (await run("openssl", ["x509", "-in", crt, "-noout", "-ext", name])).out;

/** A shell command in `dir`. */
export const sh = (dir, cmd) => run("sh", ["-c", cmd], { cwd: dir });

export const countPem = (text) => (text.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length;
