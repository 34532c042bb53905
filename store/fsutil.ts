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

/** Writes `data` to `path` atomically with `mode` (the temp file is created with that mode, never wider). */
export function writeAtomic(path: string, data: string | Uint8Array, mode = 0o644): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
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
