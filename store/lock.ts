/** The depot's exclusive lock: a file created with O_EXCL holding pid, host and time. */
import { closeSync, constants, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { DepotError } from "./fsutil.js";

interface LockInfo { pid: number; host: string; time: string }

function tryCreate(path: string, info: LockInfo): boolean {
  try {
    const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try { writeSync(fd, JSON.stringify(info)); } finally { closeSync(fd); }
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  }
}

function readLock(path: string): { raw: string; info?: LockInfo } | undefined {
  try {
    const raw = readFileSync(path, "utf8");
    try { return { raw, info: JSON.parse(raw) }; } catch { return { raw }; }
  } catch { return undefined; }
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === "EPERM"; }
}

/** A lock is stale when its process, on this host, is gone (or the file is unreadable garbage older than a minute). */
function isStale(l: { raw: string; info?: LockInfo }): boolean {
  if (!l.info || typeof l.info.pid !== "number") return true;
  return l.info.host === hostname() && !alive(l.info.pid);
}

/** Removes a stale lock, guarded so that two breakers cannot remove a fresh lock. */
function breakStale(path: string, seen: string): void {
  const guard = `${path}.break`;
  if (!tryCreate(guard, { pid: process.pid, host: hostname(), time: new Date().toISOString() })) {
    const g = readLock(guard);
    if (g && isStale(g)) rmSync(guard, { force: true });
    return;
  }
  try {
    if (readLock(path)?.raw === seen) rmSync(path, { force: true });
  } finally {
    rmSync(guard, { force: true });
  }
}

/** Takes the lock on `dir`, waiting up to `timeoutMs`; returns the release function. */
export async function acquireLock(dir: string, timeoutMs = Number(process.env.PKI_LOCK_TIMEOUT_MS ?? 30_000)): Promise<() => void> {
  const path = join(dir, "lock");
  const me: LockInfo = { pid: process.pid, host: hostname(), time: new Date().toISOString() };
  const deadline = Date.now() + timeoutMs;
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    if (tryCreate(path, me)) {
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        const cur = readLock(path);
        if (cur?.info?.pid === me.pid && cur.info.time === me.time) rmSync(path, { force: true });
      };
      process.once("exit", release);
      return release;
    }
    const cur = readLock(path);
    if (cur && isStale(cur)) { breakStale(path, cur.raw); continue; }
    if (Date.now() > deadline) {
      const who = cur?.info ? `pid ${cur.info.pid} on ${cur.info.host} since ${cur.info.time}` : "another process";
      throw new DepotError(`depot is locked by ${who}; try again, or remove ${path} if that process is gone`);
    }
    await sleep(delay + Math.random() * delay);
  }
}
