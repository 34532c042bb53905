/**
 * The depot's exclusive lock: the file `lock`, holding pid, host, time and a nonce.
 *
 * The lock appears atomically and complete: its content is written to a temp
 * file which is then hard-linked to `lock` (link fails with EEXIST when the lock
 * is held), so no reader ever sees an empty lock. Where hard links are not
 * supported it falls back to O_CREAT|O_EXCL.
 *
 * A lock is stale only when its holder is provably dead: same host and boot (boot id), same PID namespace, and
 * the pid gone or now a different process (its start time differs). A lock from another host, another PID
 * namespace (a container), or an older pki that recorded none of this is held: `pki doctor --break-lock`
 * removes it explicitly. A stale lock is broken under a guard file, so two breakers cannot remove a fresh lock.
 */
import {
  closeSync,
  constants,
  linkSync,
  openSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { DepotError, lockTimeout, own, tempName } from "./fsutil.js";

export const LOCK_FILE = "lock";
export interface LockInfo {
  pid: number;
  host: string;
  time: string;
  nonce: string;
  boot?: string;
  pidNs?: string;
  start?: string;
}
export type LockState = { state: "free" } | { state: "held" | "stale"; info?: LockInfo; raw: string; path: string };

/** An unreadable lock younger than this may still be being written (fallback mode only). */
const GARBAGE_GRACE_MS = 20_000;

/** `outside`: a lock outside any depot (the trust stores'), never handed to a depot's owner by --as-owner. */
function writeExclusive(path: string, text: string, outside: boolean): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try { if (!outside) own(fd); writeSync(fd, text); } finally { closeSync(fd); }
}

function tryCreate(path: string, info: LockInfo, outside = false): boolean {
  const text = JSON.stringify(info);
  const tmp = tempName(path);
  try {
    writeExclusive(tmp, text, outside);
    linkSync(tmp, path);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw e;
  } finally {
    rmSync(tmp, { force: true });
  }
  try { writeExclusive(path, text, outside); return true; } catch (e) {
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

const tryRead = (f: () => string): string | undefined => {
  try {
    return f().trim() || undefined;
  } catch {
    return undefined;
  }
};
/** This machine's boot (Linux); a lock from an earlier boot has no live holder. */
const bootId = () => tryRead(() => readFileSync("/proc/sys/kernel/random/boot_id", "utf8"));
/** The PID namespace `pid` numbers belong to (Linux): "pid:[4026531836]". */
const pidNamespace = () => tryRead(() => readlinkSync("/proc/self/ns/pid"));
/** Process start time in clock ticks since boot (field 22 of /proc/PID/stat): tells a reused pid apart. */
export function startTime(pid: number): string | undefined {
  const stat = tryRead(() => readFileSync(`/proc/${pid}/stat`, "utf8"));
  return stat?.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
}

/** What a lock taken now by this process records. */
function myInfo(): LockInfo {
  return {
    pid: process.pid,
    host: hostname(),
    time: new Date().toISOString(),
    nonce: randomBytes(8).toString("hex"),
    boot: bootId(),
    pidNs: pidNamespace(),
    start: startTime(process.pid),
  };
}

/** Whether process `pid` (on this host) exists. */
export function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === "EPERM"; }
}

/**
 * Stale: its holder is provably dead (see the top of this file); or it is unreadable garbage older than
 * GARBAGE_GRACE_MS.
 */
function isStale(path: string, l: { raw: string; info?: LockInfo }): boolean {
  if (l.info) return provablyDead(l.info);
  try { return Date.now() - statSync(path).mtimeMs > GARBAGE_GRACE_MS; } catch { return true; }
}

function provablyDead(info: LockInfo): boolean {
  if (info.host !== hostname() || info.pid === process.pid) return false;
  const boot = bootId();
  if (boot === undefined) return !alive(info.pid); // no procfs (macOS, BSD): no PID namespaces; kill(pid, 0) decides
  // an older pki's lock: not provable
  if (typeof info.boot !== "string" || typeof info.pidNs !== "string") return false;
  if (info.boot !== boot) return true; // the machine rebooted since
  if (info.pidNs !== pidNamespace()) return false; // its pid means nothing here
  if (!alive(info.pid)) return true;
  const now = startTime(info.pid);
  return typeof info.start === "string" && now !== undefined && now !== info.start; // the pid was reused
}

/** Removes the file at `path` only if it still holds `seen`. */
function removeIf(path: string, seen: string): void {
  if (readLock(path)?.raw === seen) rmSync(path, { force: true });
}

/** Removes a stale lock, guarded so that two breakers cannot remove a fresh lock. */
function breakStale(path: string, seen: string, outside = false): void {
  const guard = `${path}.break`;
  if (!tryCreate(guard, myInfo(), outside)) {
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
  if (!info) return "another process";
  const ns = info.pidNs && info.pidNs !== pidNamespace() ? ` in PID namespace ${info.pidNs}` : "";
  return `pid ${info.pid} on ${String(info.host).slice(0, 64)}${ns} since ${String(info.time).slice(0, 40)}`;
}

/** `pki doctor --break-lock`: removes the lock whoever holds it; returns what it held (undefined: no lock). */
export function breakLock(dir: string): LockState {
  const s = inspectLock(dir);
  if (s.state !== "free") removeIf(s.path, s.raw);
  return s;
}

/** A lock other than a depot's: its file name, and what to say when it stays held. */
export interface LockOptions {
  file?: string;
  /** the lock is outside any depot: --as-owner does not hand it to the depot's owner */
  outsideDepot?: boolean;
  busy?: (holder: string, path: string) => string;
}

/**
 * Takes the lock on `dir`, waiting up to `timeoutMs` ($PKI_LOCK_TIMEOUT_MS, default 30 s); returns the release
 * function.
 */
export async function acquireLock(dir: string, timeoutMs = lockTimeout(), o: LockOptions = {}): Promise<() => void> {
  const path = join(dir, o.file ?? LOCK_FILE);
  const outside = o.outsideDepot ?? false;
  const me = myInfo();
  const deadline = Date.now() + timeoutMs;
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    if (tryCreate(path, me, outside)) {
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
    if (cur && isStale(path, cur)) { breakStale(path, cur.raw, outside); continue; }
    if (Date.now() >= deadline) {
      if (o.busy) throw new DepotError(o.busy(describeHolder(cur?.info), path));
      throw new DepotError(
        `depot is locked by ${describeHolder(cur?.info)}; try again later, or run 'pki doctor --break-lock' if that process is gone`,
      );
    }
    await sleep(delay + Math.random() * delay);
  }
}

/**
 * A consistent read of several depot files (export, chain, serve --name): under the lock, so that no renewal is
 * half-written (a new key beside the old certificate). Where the lock cannot be taken (a read-only depot), the
 * files are read until two reads in a row agree.
 */
export async function readConsistent<T>(dir: string, read: () => T): Promise<T> {
  let release: (() => void) | undefined;
  try { release = await acquireLock(dir); } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "EACCES" && code !== "EROFS" && code !== "EPERM") throw e;
  }
  if (release) { try { return read(); } finally { release(); } }
  for (let prev = JSON.stringify(read()), i = 0; ; i++) {
    await sleep(20);
    const cur = read();
    if (JSON.stringify(cur) === prev) return cur;
    if (i > 50) throw new DepotError("the depot keeps changing while being read: try again");
    prev = JSON.stringify(cur);
  }
}
