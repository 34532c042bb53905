/**
 * The shared backend: the depot's records in a PostgreSQL schema (`postgresql://user@host/db?schema=NAME`),
 * through a pg Pool. Writes run SERIALIZABLE, so two processes (or nodes) writing at once give the result of one
 * order or the other; a write that loses a serialization race is run again from the start (see attempt), so
 * `fn` must hand nothing out before write() returns. Reads run REPEATABLE READ READ ONLY (one snapshot). What
 * is one statement (an ACME object looked up, a nonce taken) runs as that statement alone, without BEGIN/COMMIT.
 */
import { pages } from "./sqlite-rows.js";
import { AsyncLocalStorage } from "node:async_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { DepotError, lockTimeout } from "../fsutil.js";
import { expectedRelations, MIGRATIONS, SCHEMA_MARK, SCHEMA_VERSION } from "./postgres-ddl.js";
import { newPool, pgError, pgTarget, type PgClient, type PgPool, type PgTarget } from "./postgres-conn.js";
import { PgPipe } from "./postgres-pipe.js";
import { PgTx } from "./postgres-tx.js";
import type { DepotRecord, EntryRecord, ListFilter, ReadTx, RecordStore, WriteTx } from "./schema.js";

const inTx = new AsyncLocalStorage<PgStore>();
const WRITE = "BEGIN ISOLATION LEVEL SERIALIZABLE";
const READ = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
/** pg_advisory_xact_lock key ("pkiD") serialising schema creation and migration. */
const DDL_LOCK = 0x706b6944;

export class PgStore implements RecordStore {
  readonly backend = "postgres";
  readonly location: string;
  private closed = false;
  /** Where rows were last seen (postgres-places.ts): a row read by every finalize locks only itself. */
  private readonly places = new Map<string, string>();

  private constructor(private readonly target: PgTarget, private readonly pool: PgPool) {
    this.location = target.location;
  }

  private static connect(url: string): PgStore {
    const target = pgTarget(url);
    return new PgStore(target, newPool(target, () => undefined));
  }

  /** Opens the depot in URL's schema: pki's (nothing foreign in it), of a version this pki knows (older: migrated). */
  static async open(url: string): Promise<PgStore> {
    const store = PgStore.connect(url);
    try {
      const version = await store.withClient((c) => store.checkSchema(c));
      if (version === undefined) throw new DepotError(`no depot at ${store.location}: run 'pki init' first`);
      if (version < SCHEMA_VERSION) await store.ddl(async (c) => store.migrate(c));
      return store;
    } catch (e) {
      await store.close();
      throw pgError(e, store.location);
    }
  }

  /** Makes pki's tables in an empty schema (created if missing) holding `depot` and what `fill` writes, all or none. */
  static async create(url: string, depot: DepotRecord, fill?: (tx: WriteTx) => Promise<void>): Promise<PgStore> {
    const store = PgStore.connect(url);
    try {
      await store.ddl(async (c) => {
        // CREATE SCHEMA IF NOT EXISTS would need CREATE on the database even when the schema exists
        const has = await c.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [store.target.schema]);
        if (!has.rows.length) await c.query(`CREATE SCHEMA ${store.target.schema}`);
        if ((await store.checkSchema(c)) !== undefined)
          throw new DepotError(`a depot already exists at ${store.location}`);
        await c.query(SCHEMA_MARK);
        await c.query("INSERT INTO pki_schema (id, app, version) VALUES (1, 'pki', 0)");
        await store.migrate(c);
        await c.query(
          "INSERT INTO depot (id, kdf_salt, kdf_iterations, created, serial_floor) VALUES (1, $1, $2, $3, $4)",
          [depot.kdf.salt, depot.kdf.iterations, depot.created, depot.serialFloor ?? null]);
        const tx = new PgTx(new PgPipe(c, null), store.location, true);
        try {
          await fill?.(tx);
        } catch (e) {
          await tx.end(false); // what is held, dropped: the DDL transaction rolls back
          throw e;
        }
        await tx.end(true); // what is held, sent: the DDL transaction commits
      });
      return store;
    } catch (e) {
      await store.close();
      throw pgError(e, store.location);
    }
  }

  read<T>(fn: (tx: ReadTx) => Promise<T>): Promise<T> { return this.transaction(READ, fn); }
  write<T>(fn: (tx: WriteTx) => Promise<T>): Promise<T> { return this.transaction(WRITE, fn); }
  readOne<T>(fn: (tx: ReadTx) => Promise<T>): Promise<T> { return this.transaction(undefined, fn); }
  /** One DELETE ... RETURNING on its own: of two connections taking one nonce at once, exactly one gets the row. */
  takeNonce(nonce: string): Promise<boolean> { return this.transaction(undefined, (tx) => tx.takeNonce(nonce), true); }

  list(filter: ListFilter = {}, o: { pageSize?: number } = {}): AsyncIterable<EntryRecord> {
    const page = (after: EntryRecord | undefined, size: number) =>
      this.transaction(READ, async (tx) => tx.page(filter, after, size));
    return pages(page, o.pageSize ?? 1000);
  }

  async backup(): Promise<void> {
    const how = `pg_dump -n ${this.target.schema}`;
    throw new DepotError(`a PostgreSQL depot is backed up with PostgreSQL's own tools (${how})`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end().catch(() => undefined);
  }

  /** A pooled client with its own 'error' listener: a server going away mid-query must not kill the process. */
  private async withClient<T>(fn: (c: PgClient) => Promise<T>): Promise<T> {
    let c: PgClient;
    try { c = await this.pool.connect(); } catch (e) { throw pgError(e, this.location); }
    let broken: Error | undefined;
    const onError = (e: Error) => { broken = e; };
    c.on("error", onError);
    try {
      return await fn(c);
    } catch (e) {
      broken ??= e instanceof DepotError ? undefined : (e as Error);
      throw e;
    } finally {
      // A pooled client outlives this checkout: one listener per checkout would pile up on it.
      c.off("error", onError);
      c.release(broken ?? false);
    }
  }

  /** `begin` undefined: `fn` makes one statement, run on its own (a read unless `write`). */
  private transaction<T>(begin: string | undefined, fn: (tx: PgTx) => Promise<T>, write = begin === WRITE) {
    if (inTx.getStore() === this) throw new Error("records: a transaction inside a transaction of the same store");
    if (this.closed) throw new Error("records: the store is closed");
    return inTx.run(this, () => this.attempt(begin, write, fn));
  }

  /**
   * One transaction; one that loses a serialization race (40001) or a deadlock (40P01) is run again, with a
   * growing random pause, until $PKI_LOCK_TIMEOUT_MS (30 s) has passed, as a SQLite writer waits for the lock.
   * Errors of `fn` itself pass as they are (PgTx already made the driver's one line).
   */
  private async attempt<T>(begin: string | undefined, write: boolean, fn: (tx: PgTx) => Promise<T>): Promise<T> {
    const deadline = Date.now() + lockTimeout();
    for (let delay = 5; ; delay = Math.min(delay * 2, 200)) {
      try {
        return await this.withClient(async (c) => {
          const tx = new PgTx(new PgPipe(c, begin), this.location, write, this.places);
          let out: T;
          try {
            out = await fn(tx);
          } catch (e) {
            await tx.end(false);
            throw e;
          }
          try { await tx.end(true); } catch (e) { throw pgError(e, this.location); }
          return out;
        });
      } catch (e) {
        const code = (e as { cause?: { code?: unknown } }).cause?.code;
        if (!(code === "40001" || code === "40P01") || Date.now() >= deadline) throw e;
      }
      await sleep(delay * (0.5 + Math.random()));
    }
  }

  /** Runs `fn` in one transaction holding the DDL lock: creation and migration happen once, whoever races. */
  private async ddl(fn: (c: PgClient) => Promise<void>): Promise<void> {
    await this.withClient(async (c) => {
      await c.query("BEGIN");
      try {
        await c.query("SELECT pg_advisory_xact_lock($1)", [DDL_LOCK]);
        await fn(c);
        await c.query("COMMIT");
      } catch (e) {
        await c.query("ROLLBACK").catch(() => undefined);
        throw e;
      }
    });
  }

  /**
   * The version of the pki depot in the schema, undefined when the schema is empty (or missing). Refused: a schema
   * holding anything not pki's (a foreign table, view, function, trigger or rule), or a version newer than ours.
   */
  private async checkSchema(c: PgClient): Promise<number | undefined> {
    const s = this.target.schema;
    const rels = (await c.query(
      "SELECT c.relkind AS k, c.relname AS n FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace " +
        "WHERE ns.nspname = $1 UNION ALL SELECT 'f', p.proname FROM pg_proc p JOIN pg_namespace ns " +
        "ON ns.oid = p.pronamespace WHERE ns.nspname = $1 UNION ALL SELECT 't', t.tgname FROM pg_trigger t " +
        "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace ns ON ns.oid = c.relnamespace " +
        "WHERE ns.nspname = $1 AND NOT t.tgisinternal", [s])).rows.map((r) => `${r.k} ${r.n}`);
    if (rels.length === 0) return undefined;
    const here = `PostgreSQL schema "${s}" at ${this.location}`;
    const notPki = () => new DepotError(`${here} holds tables that are not a pki depot: refusing to use it`);
    if (!rels.includes("r pki_schema")) throw notPki();
    const mark = (await c.query("SELECT app, version FROM pki_schema WHERE id = 1")).rows[0];
    if (!mark || mark.app !== "pki" || !Number.isSafeInteger(mark.version)) throw notPki();
    const version = mark.version as number;
    if (version > SCHEMA_VERSION)
      throw new DepotError(`${here} has schema version ${version}, newer than this pki understands ` +
        `(${SCHEMA_VERSION}): upgrade pki`);
    if (version < SCHEMA_VERSION) return version;
    const want = expectedRelations();
    const foreign = rels.find((r) => !want.delete(r));
    if (foreign) throw new DepotError(`${here} holds a foreign object ${foreign.slice(2)}: refusing to use it`);
    if (want.size) throw new DepotError(`${here} lacks ${[...want][0].slice(2)}: run 'pki doctor'`);
    return version;
  }

  /** Takes the schema from its recorded version to ours (inside the caller's DDL transaction). */
  private async migrate(c: PgClient): Promise<void> {
    const from = (await c.query("SELECT version FROM pki_schema WHERE id = 1")).rows[0].version as number;
    for (let v = from; v < SCHEMA_VERSION; v++) for (const sql of MIGRATIONS[v]) await c.query(sql);
    await c.query("UPDATE pki_schema SET version = $1", [SCHEMA_VERSION]);
  }
}
