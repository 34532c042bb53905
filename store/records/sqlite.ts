/**
 * The embedded backend: the depot's records in DIR/depot.db (SQLite through better-sqlite3, WAL, synchronous=FULL).
 * One connection per process; its transactions run one at a time (an in-process queue: the ACME server's
 * concurrent requests never interleave inside one), and against other processes SQLite's own locks serialise
 * writers: a write begins IMMEDIATE, waiting (asynchronously, up to $PKI_LOCK_TIMEOUT_MS) for another writer.
 */
import { pages } from "./sqlite-rows.js";
import { AsyncLocalStorage } from "node:async_hooks";
import { chmodSync, closeSync, constants, existsSync, fsyncSync, linkSync, openSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { DepotError, lockTimeout, own, tempName } from "../fsutil.js";
import { APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION } from "./sqlite-ddl.js";
import {
  checkDbFiles, checkHeader, checkSchema, DB_FILE, dbError, lockHolder, openDb, setDurable, type Db, type Stmt,
} from "./sqlite-open.js";
import { SqliteTx } from "./sqlite-tx.js";
import { hintKdf } from "./kdf-hint.js";
import type { DepotRecord, EntryRecord, ListFilter, ReadTx, RecordStore, WriteTx } from "./schema.js";

const inTx = new AsyncLocalStorage<SqliteStore>();

export class SqliteStore implements RecordStore {
  readonly backend = "sqlite";
  readonly location: string;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly stmts = new Map<string, Stmt>();
  private closed = false;
  private readOnly = false;

  private constructor(readonly dir: string, private readonly db: Db) {
    this.location = join(dir, DB_FILE);
  }

  /** Opens DIR/depot.db after the file checks (sqlite-open.ts); migrates an older schema in one transaction. */
  static async open(dir: string): Promise<SqliteStore> {
    const ino = checkDbFiles(dir);
    const path = join(dir, DB_FILE);
    checkHeader(path);
    const db = openDb(path);
    try {
      if (checkDbFiles(dir) !== ino) throw new DepotError(`${DB_FILE} was replaced while being opened: try again`);
      // A process closing the depot last checkpoints it under an exclusive lock: wait for it, as for a writer.
      const version = await whileBusy(dir, () => checkSchema(db, DB_FILE));
      await whileBusy(dir, () => setDurable(db));
      const store = new SqliteStore(dir, db);
      if (version < SCHEMA_VERSION) await store.migrate();
      return store;
    } catch (e) {
      db.close();
      throw dbError(e, DB_FILE);
    }
  }

  /**
   * Makes DIR/depot.db holding `depot` and whatever `fill` writes, all or nothing: built as a temp file in one
   * transaction, fsynced, then linked into place (never over an existing depot.db), and opened.
   */
  static async create(dir: string, depot: DepotRecord, fill?: (tx: WriteTx) => Promise<void>): Promise<SqliteStore> {
    const path = join(dir, DB_FILE);
    if (existsSync(path)) throw new DepotError(`a depot database already exists in ${dir}`);
    const tmp = tempName(path);
    const cleanup = () => ["", "-journal", "-wal", "-shm"].forEach((x) => rmSync(tmp + x, { force: true }));
    try {
      const db = openDb(tmp, { create: true });
      try {
        db.pragma("synchronous = FULL");
        await build(db, depot, fill);
        db.pragma("journal_mode = WAL");
      } finally {
        db.close(); // checkpoints the WAL into the file and removes it
      }
      const fd = openSync(tmp, constants.O_RDWR | constants.O_NOFOLLOW);
      try { own(fd); fsyncSync(fd); } finally { closeSync(fd); }
      chmodSync(tmp, 0o600);
      linkSync(tmp, path);
    } catch (e) {
      cleanup();
      if ((e as NodeJS.ErrnoException).code === "EEXIST")
        throw new DepotError(`a depot database already exists in ${dir}`);
      throw dbError(e, DB_FILE);
    }
    cleanup();
    fsyncDirOf(path);
    hintKdf(dir, depot.kdf);
    return SqliteStore.open(dir);
  }

  /**
   * A read-only store in memory holding `depot` and what `fill` writes: how read-only commands see a layout-1
   * depot without upgrading it (layout1-upgrade.ts's layout1Snapshot). `label` names it in messages.
   */
  static async memory(label: string, depot: DepotRecord, fill: (tx: WriteTx) => Promise<void>): Promise<SqliteStore> {
    const db = openDb(":memory:", { create: true });
    try {
      await build(db, depot, fill);
    } catch (e) {
      db.close();
      throw dbError(e, label);
    }
    const store = new SqliteStore(label, db);
    store.readOnly = true;
    return store;
  }

  read<T>(fn: (tx: ReadTx) => Promise<T>): Promise<T> { return this.transaction(false, fn); }
  /** One statement costs SQLite no round trip: a read transaction as any other. */
  readOne<T>(fn: (tx: ReadTx) => Promise<T>): Promise<T> { return this.read(fn); }
  takeNonce(nonce: string): Promise<boolean> { return this.write((tx) => tx.takeNonce(nonce)); }
  write<T>(fn: (tx: WriteTx) => Promise<T>): Promise<T> {
    if (this.readOnly)
      return Promise.reject(new DepotError(`${this.dir} is open read-only (a layout-1 depot): nothing was written`));
    return this.transaction(true, fn);
  }

  list(filter: ListFilter = {}, o: { pageSize?: number } = {}): AsyncIterable<EntryRecord> {
    const page = (after: EntryRecord | undefined, size: number) =>
      this.transaction(false, async (tx) => tx.page(filter, after, size));
    return pages(page, o.pageSize ?? 1000);
  }

  /**
   * A consistent copy at `file` (0600), while this and other processes keep writing: SQLite's online backup
   * from a second, read-only connection, in one step after the first (a step is one snapshot; between steps
   * another writer would restart it), into a temp file renamed into place.
   */
  async backup(file: string): Promise<void> {
    const tmp = tempName(file);
    const src = openDb(this.location, { readonly: true });
    try {
      await src.backup(tmp, { progress: () => 0x7fffffff });
      chmodSync(tmp, 0o600);
      const fd = openSync(tmp, constants.O_RDONLY);
      try { fsyncSync(fd); } finally { closeSync(fd); }
      linkSync(tmp, file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new DepotError(`${file} already exists`);
      throw dbError(e, DB_FILE);
    } finally {
      src.close();
      rmSync(tmp, { force: true });
    }
    fsyncDirOf(file);
  }

  async close(): Promise<void> {
    await this.queue;
    if (!this.closed) this.db.close();
    this.closed = true;
  }

  private transaction<T>(write: boolean, fn: (tx: SqliteTx) => Promise<T>): Promise<T> {
    if (inTx.getStore() === this) throw new Error("records: a transaction inside a transaction of the same store");
    if (this.closed) throw new Error("records: the store is closed");
    const run = this.queue.then(() => inTx.run(this, () => this.runTx(write, fn)));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async runTx<T>(write: boolean, fn: (tx: SqliteTx) => Promise<T>): Promise<T> {
    await this.begin(write);
    const tx = new SqliteTx(this.db, this.stmts, DB_FILE, write);
    try {
      const out = await fn(tx);
      tx.open = false;
      this.exec("COMMIT");
      return out;
    } catch (e) {
      tx.open = false;
      if (this.db.inTransaction) this.exec("ROLLBACK");
      throw e;
    }
  }

  /** BEGIN, or for a write BEGIN IMMEDIATE, retried (never blocking the event loop) while another process writes. */
  private async begin(write: boolean): Promise<void> {
    await whileBusy(this.dir, () => this.db.exec(write ? "BEGIN IMMEDIATE" : "BEGIN"));
  }

  private exec(sql: string): void {
    try { this.db.exec(sql); } catch (e) { throw dbError(e, DB_FILE, () => lockHolder(this.dir)); }
  }

  private async migrate(): Promise<void> {
    await this.transaction(true, async () => {
      const from = this.db.pragma("user_version", { simple: true }) as number;
      for (let v = from; v < SCHEMA_VERSION; v++) for (const sql of MIGRATIONS[v]) this.db.exec(sql);
      this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    });
    checkSchema(this.db, DB_FILE);
  }
}

/** Runs `fn` until no other process holds depot.db (retried without blocking the event loop), up to the timeout. */
async function whileBusy<T>(dir: string, fn: () => T): Promise<T> {
  const deadline = Date.now() + lockTimeout();
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    try {
      return fn();
    } catch (e) {
      const busy = String((e as { code?: unknown }).code).startsWith("SQLITE_BUSY");
      if (!busy || Date.now() >= deadline) throw dbError(e, DB_FILE, () => lockHolder(dir));
    }
    await sleep(delay + Math.random() * delay);
  }
}

/** pki's schema, the depot row and what `fill` writes, in one transaction on a new database. */
async function build(db: Db, depot: DepotRecord, fill?: (tx: WriteTx) => Promise<void>): Promise<void> {
  db.pragma(`application_id = ${APPLICATION_ID}`);
  db.exec("BEGIN IMMEDIATE");
  for (let v = 0; v < SCHEMA_VERSION; v++) for (const sql of MIGRATIONS[v]) db.exec(sql);
  db.prepare("INSERT INTO depot (id, kdf_salt, kdf_iterations, created, serial_floor) VALUES (1, ?, ?, ?, ?)")
    .run(depot.kdf.salt, depot.kdf.iterations, depot.created, depot.serialFloor ?? null);
  const tx = new SqliteTx(db, new Map(), DB_FILE, true);
  try { await fill?.(tx); } finally { tx.open = false; }
  db.pragma(`user_version = ${SCHEMA_VERSION}`);
  db.exec("COMMIT");
}

function fsyncDirOf(path: string): void {
  try {
    const fd = openSync(dirname(path), constants.O_RDONLY | constants.O_DIRECTORY);
    try { fsyncSync(fd); } finally { closeSync(fd); }
  } catch { /* some filesystems refuse directory fsync; the link is still atomic */ }
}
