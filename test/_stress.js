// Helpers of the stress tests (concurrency, crash): cheap depots, dead pids, secret scans.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join, relative } from "node:path";
import { PASS, pkiOk, tempDir } from "./_helpers.js";

export const env = { PKI_PASSPHRASE: PASS };

/**
 * A depot whose KDF is cheap (1000 PBKDF2 iterations, by the test-only PKI_TEST_ONLY_KDF_ITERATIONS, set for every pki
 * this test worker runs):
 * the stress is on locking and ordering, not on PBKDF2. Also writes `pass` for --passphrase-file.
 */
export async function cheapDepot(t) {
  process.env.PKI_TEST_ONLY_KDF_ITERATIONS = "1000";
  const dir = tempDir(t);
  writeFileSync(join(dir, "pass"), PASS + "\n");
  await pkiOk(t, dir, ["init"], { env });
  return dir;
}

/** A lock record as pki writes it for `pid` on this host, boot and PID namespace (Linux /proc). */
export function lockRecord(pid, extra = {}) {
  let stat;
  try { stat = readFileSync(`/proc/${pid}/stat`, "utf8"); } catch { /* gone: any start time will do */ }
  return JSON.stringify({
    pid, host: hostname(), time: new Date().toISOString(), nonce: "x",
    boot: readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim(), pidNs: readlinkSync("/proc/self/ns/pid"),
    start: stat ? stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] : "1", ...extra,
  });
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
