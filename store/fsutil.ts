/** Crash-safe file writes: temp file → fsync → rename → fsync of the directory. */
import {
  fsync,
  chownSync,
  closeSync,
  fchownSync,
  fstatSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  writeSync,
  constants,
  readFileSync,
  type Stats,
} from "node:fs";
import { basename, dirname, join } from "node:path";

export class DepotError extends Error {}

/**
 * How long a writer waits for another's lock ($PKI_LOCK_TIMEOUT_MS, 30 s). Here, not in lock.ts, so that the record
 * store's read path (`pki list`) does not load lock.ts's node:os and node:crypto.
 */
export function lockTimeout(): number {
  const t = Number(process.env.PKI_LOCK_TIMEOUT_MS);
  return process.env.PKI_LOCK_TIMEOUT_MS && Number.isFinite(t) && t >= 0 ? t : 30_000;
}

/**
 * With `pki --as-owner` (root on another user's depot): every file and directory it creates goes to the depot's owner.
 */
let newFileOwner: { uid: number; gid: number } | undefined;
export function setNewFileOwner(o: { uid: number; gid: number } | undefined): void { newFileOwner = o; }
export function own(fd: number): void { if (newFileOwner) fchownSync(fd, newFileOwner.uid, newFileOwner.gid); }

/** A directory inside the depot (0700, owned like the depot); an existing one must not be a symbolic link. */
export function mkdirInDepot(p: string): void {
  try { mkdirSync(p, { mode: 0o700 }); } catch (e) { if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e; }
  if (!lstatSync(p).isDirectory())
    throw new DepotError(`${p} is not a directory (a symbolic link?): refusing to write through it`);
  if (newFileOwner) chownSync(p, newFileOwner.uid, newFileOwner.gid);
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    try { fsyncSync(fd); } finally { closeSync(fd); }
  } catch { /* some filesystems refuse directory fsync; the rename is still atomic */ }
}

/** A fresh temp-file name beside `path`: hidden, and recognisable by TEMP_RE (which `pki doctor` cleans up). */
export function tempName(path: string): string {
  // node:crypto is loaded here, on the first write, not at start-up: `pki list` reads the depot and never needs it.
  const rand = process.getBuiltinModule("node:crypto").randomBytes(4).toString("hex");
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${rand}`);
}
export const TEMP_RE = /^\..+\.tmp-(\d+)-[0-9a-f]{8}$/;

/**
 * Writes `data` to `path` atomically with `mode`: temp file (created with that mode, never
 * wider: a key is never readable by others, even half-written) → fsync → rename → fsync of
 * the directory. A crash leaves either the old file or the new one, plus perhaps a temp file.
 * `outsideDepot`: the file is not the depot's, so --as-owner does not hand it to the depot's owner.
 */
export function writeAtomic(
  path: string,
  data: string | Uint8Array,
  mode = 0o644,
  o: { outsideDepot?: boolean } = {},
): void {
  const tmp = tempName(path);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    // --as-owner governs the depot only: a file outside it (a system trust store) stays the caller's.
    if (!o.outsideDepot) own(fd);
    const buf = typeof data === "string" ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dirname(path));
}

export interface FileWrite { path: string; data: string | Uint8Array; mode?: number }

const fsyncAsync = (fd: number) => new Promise<void>((res, rej) => fsync(fd, (e) => (e ? rej(e) : res())));

/**
 * writeAtomic for files that appear together, in the order given: every temp file is written, then all are
 * fsynced at once on the libuv pool (the filesystem commits them together instead of one commit per file),
 * then renamed in order; a directory is fsynced after its last rename and before any rename in another, so a
 * file named after others (index.json) is never visible before they are durable.
 */
export async function writeAtomicAll(files: FileWrite[]): Promise<void> {
  const temps: { tmp: string; path: string; fd: number }[] = [];
  const cleanup = (from: number) => {
    for (const t of temps.slice(from)) rmSync(t.tmp, { force: true });
  };
  try {
    for (const f of files) {
      const tmp = tempName(f.path);
      const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
      const fd = openSync(tmp, flags, f.mode ?? 0o644);
      temps.push({ tmp, path: f.path, fd });
      own(fd);
      const buf = typeof f.data === "string" ? Buffer.from(f.data) : f.data;
      for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
    }
    await Promise.all(temps.map((t) => fsyncAsync(t.fd)));
  } catch (e) {
    for (const t of temps) closeSync(t.fd);
    cleanup(0);
    throw e;
  }
  for (const t of temps) closeSync(t.fd);
  for (let i = 0; i < temps.length; i++) {
    try {
      renameSync(temps[i].tmp, temps[i].path);
    } catch (e) {
      cleanup(i);
      throw e;
    }
    const dir = dirname(temps[i].path);
    if (i === temps.length - 1 || dirname(temps[i + 1].path) !== dir) fsyncDir(dir);
  }
}

/** Reads a depot file as text, naming it in the error when it is missing, unreadable or larger than `max`. */
export function readText(path: string, what = path, max = 16 << 20, check?: (st: Stats) => void): string {
  try {
    const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new DepotError(`${what} is not a regular file`);
      if (st.size > max) throw new DepotError(`${what} is larger than ${max} bytes`);
      check?.(st);
      return readFileSync(fd, "utf8");
    } finally { closeSync(fd); }
  } catch (e) {
    if (e instanceof DepotError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ELOOP") throw new DepotError(`${what} is a symbolic link: a depot holds only regular files`);
    throw new DepotError(
      code === "ENOENT" ? `${what} is missing` : `cannot read ${what}: ${code ?? (e as Error).message}`,
    );
  }
}
