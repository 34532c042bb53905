// Helpers of the stress tests (concurrency, crash): cheap depots, dead pids, secret scans.
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { PASS, pkiOk, tempDir } from "./_helpers.js";

export const env = { PKI_PASSPHRASE: PASS };

/**
 * A depot whose KDF is cheap (1000 PBKDF2 iterations, written in depot.json before `init`, which keeps it):
 * the stress is on locking and ordering, not on PBKDF2. Also writes `pass` for --passphrase-file.
 */
export async function cheapDepot(t) {
  const dir = tempDir(t);
  mkdirSync(join(dir, ".pki"), { mode: 0o700 });
  writeFileSync(join(dir, ".pki", "depot.json"), JSON.stringify({ layout: 1, kdf: { salt: "c3RyZXNzLXRlc3Qtc2FsdA==", iterations: 1000 }, created: new Date().toISOString() }), { mode: 0o600 });
  writeFileSync(join(dir, "pass"), PASS + "\n");
  await pkiOk(t, dir, ["init"], { env });
  return dir;
}

/** The pid of a process that has exited (so a lock naming it is stale). */
export async function deadPid() {
  const child = spawn(process.execPath, ["-e", ""]);
  await new Promise((r) => child.on("exit", r));
  return child.pid;
}

/** Every regular file under `dir`, as paths. */
export function allFiles(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? allFiles(p) : [p];
  });
}

/** Files under `dir` holding an unencrypted private key, relative to `dir`. */
export function plaintextKeys(dir) {
  return allFiles(dir).filter((p) => /-----BEGIN (RSA |EC )?PRIVATE KEY-----/.test(readFileSync(p, "latin1"))).map((p) => relative(dir, p));
}

/**
 * One line on stderr while a long stress test runs ("trial 18/54: ..."), so a minute without output is
 * visibly work, not a hang. ava passes a worker's stderr through as it comes.
 */
export function progress(t, text) {
  process.stderr.write(`  … ${t.title}: ${text}\n`);
}
