/** Crash-safe file writes: temp file → fsync → rename → fsync of the directory. */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync, constants, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";

export class DepotError extends Error {}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    try { fsyncSync(fd); } finally { closeSync(fd); }
  } catch { /* some filesystems refuse directory fsync; the rename is still atomic */ }
}

/** A fresh temp-file name beside `path`: hidden, and recognisable by TEMP_RE (which `pki doctor` cleans up). */
export function tempName(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
}
export const TEMP_RE = /^\..+\.tmp-(\d+)-[0-9a-f]{8}$/;

/**
 * Writes `data` to `path` atomically with `mode`: temp file (created with that mode, never
 * wider: a key is never readable by others, even half-written) → fsync → rename → fsync of
 * the directory. A crash leaves either the old file or the new one, plus perhaps a temp file.
 */
export function writeAtomic(path: string, data: string | Uint8Array, mode = 0o644): void {
  const tmp = tempName(path);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
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

/** Reads a depot file as text, naming it in the error when it is missing or unreadable. */
export function readText(path: string, what = path): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DepotError(code === "ENOENT" ? `${what} is missing` : `cannot read ${what}: ${code ?? (e as Error).message}`);
  }
}
