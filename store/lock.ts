/**
 * The depot's exclusive lock: the file `lock`, holding pid, host, time and a nonce.
 *
 * The lock appears atomically and complete: its content is written to a temp
 * file which is then hard-linked to `lock` (link fails with EEXIST when the lock
 * is held), so no reader ever sees an empty lock. Where hard links are not
 * supported it falls back to O_CREAT|O_EXCL. A lock whose pid is gone (same host)
 * is stale and broken under a guard file, so two breakers cannot remove a fresh lock.
 */
import { closeSync, constants, linkSync, openSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { DepotError, tempName } from "./fsutil.js";

export const LOCK_FILE = "lock";
export interface LockInfo { pid: number; host: string; time: string; nonce: string }
export type LockState = { state: "free" } | { state: "held" | "stale"; info?: LockInfo; raw: string; path: string };

/** An unreadable lock younger than this may still be being written (fallback mode only). */
const GARBAGE_GRACE_MS = 20_000;

function writeExclusive(path: string, text: string): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try { writeSync(fd, text); } finally { closeSync(fd); }
}

function tryCreate(path: string, info: LockInfo): boolean {
  const text = JSON.stringify(info);
  const tmp = tempName(path);
  try {
    writeExclusive(tmp, text);
    linkSync(tmp, path);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw e;
  } finally {
    rmSync(tmp, { force: true });
  }
  try { writeExclusive(path, text); return true; } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  }
}

function readLock(path: string): { raw: string; info?: LockInfo } | undefined {
  try {
    const raw = readFileSync(path, "utf8");
    try {
      const info = JSON.parse(raw);
      return { raw, info: Number.isInteger(info?.pid) && typeof info.host === "string" ? info : undefined };
    } catch { return { raw }; }
  } catch { return undefined; }
}

/** Whether process `pid` (on this host) exists. */
export function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === "EPERM"; }
}

/** Stale: its process, on this host, is gone; or it is unreadable garbage older than GARBAGE_GRACE_MS. */
function isStale(path: string, l: { raw: string; info?: LockInfo }): boolean {
  if (l.info) return l.info.host === hostname() && l.info.pid !== process.pid && !alive(l.info.pid);
  try { return Date.now() - statSync(path).mtimeMs > GARBAGE_GRACE_MS; } catch { return true; }
}

/** Removes the file at `path` only if it still holds `seen`. */
function removeIf(path: string, seen: string): void {
  if (readLock(path)?.raw === seen) rmSync(path, { force: true });
}

/** Removes a stale lock, guarded so that two breakers cannot remove a fresh lock. */
function breakStale(path: string, seen: string): void {
  const guard = `${path}.break`;
  if (!tryCreate(guard, { pid: process.pid, host: hostname(), time: new Date().toISOString(), nonce: randomBytes(8).toString("hex") })) {
    const g = readLock(guard);
    if (g && isStale(guard, g)) removeIf(guard, g.raw);
    return;
  }
  try { removeIf(path, seen); } finally { rmSync(guard, { force: true }); }
}

/** What the lock on `dir` (or its guard, `lock.break`) looks like now (for `pki doctor`). */
export function inspectLock(dir: string, file = LOCK_FILE): LockState {
  const path = join(dir, file);
  const l = readLock(path);
  if (!l) return { state: "free" };
  return { state: isStale(path, l) ? "stale" : "held", info: l.info, raw: l.raw, path };
}

/** Removes the lock on `dir` (or its guard) if, and only if, it is stale. */
export function breakStaleLock(dir: string, file = LOCK_FILE): void {
  const s = inspectLock(dir, file);
  if (s.state !== "stale") return;
  if (file === LOCK_FILE) breakStale(s.path, s.raw);
  else removeIf(s.path, s.raw);
}

export function describeHolder(info?: LockInfo): string {
  return info ? `pid ${info.pid} on ${info.host} since ${info.time}` : "another process";
}

function lockTimeout(): number {
  const t = Number(process.env.PKI_LOCK_TIMEOUT_MS);
  return process.env.PKI_LOCK_TIMEOUT_MS && Number.isFinite(t) && t >= 0 ? t : 30_000;
}

/** Takes the lock on `dir`, waiting up to `timeoutMs` ($PKI_LOCK_TIMEOUT_MS, default 30 s); returns the release function. */
export async function acquireLock(dir: string, timeoutMs = lockTimeout()): Promise<() => void> {
  const path = join(dir, LOCK_FILE);
  const me: LockInfo = { pid: process.pid, host: hostname(), time: new Date().toISOString(), nonce: randomBytes(8).toString("hex") };
  const deadline = Date.now() + timeoutMs;
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    if (tryCreate(path, me)) {
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        process.off("exit", release);
        if (readLock(path)?.info?.nonce === me.nonce) rmSync(path, { force: true });
      };
      process.once("exit", release);
      return release;
    }
    const cur = readLock(path);
    if (cur && isStale(path, cur)) { breakStale(path, cur.raw); continue; }
    if (Date.now() >= deadline) {
      throw new DepotError(`depot is locked by ${describeHolder(cur?.info)}; try again later, or remove ${path} if that process is gone`);
    }
    await sleep(delay + Math.random() * delay);
  }
}
