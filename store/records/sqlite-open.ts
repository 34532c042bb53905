/**
 * Opening depot.db as untrusted input. Before the driver sees it: depot.db (and -wal, -shm) must be regular
 * files, not links, owned like the depot and writable by nobody else, and start with SQLite's header without
 * being shorter than the header says. After: pki's application_id, a schema version this pki knows, and the
 * exact schema pki made (no trigger or view someone added). Every driver error becomes one line (dbError).
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, readSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import { DepotError } from "../fsutil.js";
import { depotDirProblems, fileProblems, ownershipError } from "../ownership.js";
import { APPLICATION_ID, expectedObjects, SCHEMA_VERSION } from "./sqlite-ddl.js";
import { DB_FILE } from "./presence.js";

export { DB_FILE };

/** The part of better-sqlite3's API pki uses (typed here: its types would be one more dependency). */
export interface Stmt {
  run(...params: unknown[]): { changes: number };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}
export interface Db {
  prepare(sql: string): Stmt;
  pragma(source: string, o?: { simple?: boolean }): unknown;
  exec(sql: string): void;
  close(): void;
  backup(file: string, o?: { progress?: (p: { remainingPages: number }) => number }): Promise<unknown>;
  unsafeMode(on: boolean): void;
  readonly inTransaction: boolean;
}
type Driver = new (
  path: string,
  o: { fileMustExist: boolean; readonly: boolean; timeout: number; nativeBinding?: object },
) => Db;
const DOCTOR = ": run 'pki doctor'";

/** One line for a driver error (never SQLite's own words): busy → locked, corrupt/notadb → damaged, ... */
export function dbError(e: unknown, file: string, holder?: () => string): Error {
  if (e instanceof DepotError || !(e instanceof Error)) return e as Error;
  const code = String((e as { code?: unknown }).code ?? "");
  if (!code.startsWith("SQLITE_")) return e;
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"))
    return new DepotError(`depot is locked by ${holder?.() ?? "another process"}; try again later`);
  if (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB" || code === "SQLITE_FORMAT")
    return new DepotError(`${file} is damaged (not a sound SQLite database: truncated or overwritten?)${DOCTOR}`);
  if (code === "SQLITE_FULL") return new DepotError(`cannot write ${file}: the disk is full`);
  if (code.startsWith("SQLITE_READONLY") || code.startsWith("SQLITE_CANTOPEN") || code.startsWith("SQLITE_PERM"))
    return new DepotError(`cannot open ${file} for writing (${code.toLowerCase().replace("sqlite_", "")})`);
  if (code.startsWith("SQLITE_IOERR")) return new DepotError(`cannot read or write ${file}: an I/O error`);
  return new DepotError(`${file} is damaged or not pki's (${code}): run 'pki doctor'`);
}

/**
 * Refuses depot.db, -wal or -shm when a link, not a regular file, owned by someone else or group/world-writable;
 * and the depot directory by the same rule as every depot. Returns depot.db's inode (to see it was not swapped).
 */
export function checkDbFiles(dir: string): number {
  const { owner, problems } = depotDirProblems(dir);
  if (problems.length) throw ownershipError(dir, problems[0]);
  let ino = 0;
  for (const name of [DB_FILE, `${DB_FILE}-wal`, `${DB_FILE}-shm`]) {
    const st = lstatSync(join(dir, name), { throwIfNoEntry: false });
    if (!st) {
      if (name === DB_FILE) throw new DepotError(`no depot at ${dir}: run 'pki init' first (or pass --depot DIR)`);
      continue;
    }
    if (st.isSymbolicLink())
      throw new DepotError(`depot file ${name} is a symbolic link: a depot holds only regular files and directories`);
    if (!st.isFile()) throw new DepotError(`depot file ${name} is not a regular file`);
    const [p] = fileProblems(name, st, owner);
    if (p) throw ownershipError(dir, p);
    if (name === DB_FILE) ino = st.ino;
  }
  return ino;
}

/**
 * SQLite's 100-byte header: the magic, a page size, and (when the file was last written by SQLite 3.7+) the
 * page count, which the file must hold. Catches garbage and truncation before any query. Not the page count
 * while a WAL is beside it: a checkpoint cut short writes page 1 before the rest, and SQLite replays the WAL.
 */
export function checkHeader(path: string): void {
  const wal = lstatSync(`${path}-wal`, { throwIfNoEntry: false });
  const what = basename(path);
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const h = Buffer.alloc(100);
    const n = readSync(fd, h, 0, 100, 0);
    const size = fstatSync(fd).size;
    if (n === 0) throw new DepotError(`${what} is empty (truncated?): run 'pki doctor'`);
    if (n < 100 || h.toString("latin1", 0, 16) !== "SQLite format 3\0")
      throw new DepotError(`${what} is not a database (garbage or truncated): run 'pki doctor'`);
    const raw = h.readUInt16BE(16);
    const pageSize = raw === 1 ? 65536 : raw;
    if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) throw new DepotError(`${what} is damaged (page size)`);
    const pages = h.readUInt32BE(28);
    if (!wal?.size && h.readUInt32BE(24) === h.readUInt32BE(92) && pages * pageSize > size)
      throw new DepotError(`${what} is truncated (${size} of ${pages * pageSize} bytes): run 'pki doctor'`);
  } finally {
    closeSync(fd);
  }
}

let loaded: Driver | undefined;
/** better-sqlite3, loaded on first use (a native module): `pki list` on a layout-1 depot never pays for it. */
function driver(): Driver {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  const Database = require("better-sqlite3") as Driver;
  const addon = require(join(dirname(require.resolve("better-sqlite3/package.json")), "build", "Release",
    "better_sqlite3.node"));
  keepNativeObjects(addon);
  const Kept = function (this: unknown, path: string, o: ConstructorParameters<Driver>[1]) {
    const db = new Database(path, { ...o, nativeBinding: addon });
    kept.push(db);
    return db;
  } as unknown as Driver;
  return (loaded = Kept);
}

/**
 * better-sqlite3 12 makes its native objects (databases, statements, backups) with node's ObjectWrap, whose destructor
 * aborts the process on node >= 24.19 when the garbage collector frees one outside a JS context ("Assertion failed:
 * (env) != nullptr" in RemoveEnvironmentCleanupHook; upstream closed it unfixed, and 13.x needs node 22 and crashes
 * on 20). So every one this process makes stays reachable until it exits: a few per depot opened, since statements
 * are cached by their fixed SQL text and pragmas run at open.
 */
const kept: unknown[] = [];
type Proto = Record<string, (...a: unknown[]) => unknown>;
function keepNativeObjects(addon: { Database: { prototype: Proto }; kept?: boolean }): void {
  if (addon.kept) return;
  addon.kept = true;
  for (const m of ["prepare", "backup"]) {
    const f = addon.Database.prototype[m];
    addon.Database.prototype[m] = function (this: unknown, ...a: unknown[]) {
      const o = f.apply(this, a);
      kept.push(o);
      return o;
    };
  }
}

/**
 * Opens (or, with `create`, makes) a database file with the settings every connection needs:
 * - defensive mode: better-sqlite3 12 already turns SQLITE_DBCONFIG_DEFENSIVE on in its Database constructor
 *   (src/objects/database.cpp) and only `unsafeMode(true)` turns it off; we say unsafeMode(false) anyway, so a
 *   driver whose default changes cannot open a depot without it. It forbids writable_schema and direct writes
 *   to shadow tables from SQL.
 * - trusted_schema=OFF: functions named in the file's schema run only if innocuous (SQLite's default is ON).
 * - cell_size_check: a damaged page is found when read, not trusted.
 * - busy timeout short (50 ms): waiting for another writer is done by the caller, asynchronously, so a
 *   server's event loop is not blocked for the whole wait; `timeout: 0` for a reader that must not wait at all.
 * - WAL and synchronous=FULL (better-sqlite3 builds SQLite with WAL's default at NORMAL: not durable on power loss).
 */
export function openDb(path: string, o: { create?: boolean; readonly?: boolean; timeout?: number } = {}): Db {
  let db: Db;
  try {
    db = new (driver())(path, { fileMustExist: !o.create, readonly: o.readonly ?? false, timeout: o.timeout ?? 50 });
  } catch (e) {
    throw dbError(e, basename(path));
  }
  try {
    db.unsafeMode(false);
    db.pragma("trusted_schema = OFF");
    db.pragma("cell_size_check = ON");
    db.pragma("foreign_keys = ON");
    return db;
  } catch (e) {
    db.close();
    throw dbError(e, basename(path));
  }
}

/** Durable settings, once the file is known to be pki's (journal_mode writes the header). */
export function setDurable(db: Db): void {
  if (db.pragma("journal_mode", { simple: true }) !== "wal") db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
}

/**
 * The file is pki's (application_id), of a version this pki reads (older: the caller migrates), and holds the
 * exact schema of that version. Returns the version.
 */
export function checkSchema(db: Db, file: string): number {
  const app = db.pragma("application_id", { simple: true }) as number;
  const version = db.pragma("user_version", { simple: true }) as number;
  if (app !== APPLICATION_ID)
    throw new DepotError(`${file} is not a pki depot database (application_id ${app}): refusing to use it`);
  if (version > SCHEMA_VERSION)
    throw new DepotError(
      `${file} has schema version ${version}, newer than this pki understands (${SCHEMA_VERSION}): upgrade pki`,
    );
  if (version < SCHEMA_VERSION) return version;
  const want = expectedObjects();
  const rows = db.prepare("SELECT type, name, sql FROM sqlite_schema").all() as Array<Record<string, unknown>>;
  for (const r of rows) {
    const key = `${r.type} ${r.name}`;
    if (r.sql === null && r.type === "index" && String(r.name).startsWith("sqlite_autoindex_")) continue;
    if (want.get(key) !== r.sql)
      throw new DepotError(`${file} is damaged: its schema has a changed or foreign ${r.type}: run 'pki doctor'`);
    want.delete(key);
  }
  if (want.size) throw new DepotError(`${file} is damaged: its schema lacks ${[...want.keys()][0]}: run 'pki doctor'`);
  return version;
}

/**
 * Who holds the write lock on a WAL database: Linux lists POSIX locks in /proc/locks by inode; SQLite's write
 * lock is one on depot.db-shm. Said as today's lock message says it ("pid N (pki issue ...)").
 */
export function lockHolder(dir: string): string {
  try {
    const ino = lstatSync(join(dir, `${DB_FILE}-shm`)).ino;
    for (const line of readFileSync("/proc/locks", "latin1").split("\n")) {
      const m = /^\d+: POSIX\s+ADVISORY\s+WRITE (\d+) [0-9a-f]+:[0-9a-f]+:(\d+) /.exec(line);
      if (!m || Number(m[2]) !== ino || Number(m[1]) === process.pid) continue;
      const cmd = readFileSync(`/proc/${m[1]}/cmdline`, "latin1").split("\0").filter(Boolean);
      const at = cmd.findIndex((a) => /\bpki(\.js)?$/.test(a));
      const what = at < 0 ? basename(cmd[0] ?? "?") : ["pki", ...cmd.slice(at + 1)].join(" ");
      return `pid ${m[1]} (${what.replace(/[^\x20-\x7e]/g, "?").slice(0, 60)})`;
    }
  } catch { /* not Linux, or the holder just left */ }
  return "another process";
}
