/** One transaction on depot.db: the ReadTx/WriteTx methods as SQL, every row read back validated. */
import { DepotError } from "../fsutil.js";
import { SERIAL_RE } from "./integrity.js";
import { dbError, type Db, type Stmt } from "./sqlite-open.js";
import {
  acmeBodyOf, acmeFiledQuery, acmeParams, ACME_PUT_COLUMNS, depotOf, eabOf, ENTRY_COLUMNS, entryOf, entryParams,
  listQuery, pastOf, pastParams, REVOKED_SOURCES, revokedOf, type Row,
  pages,
} from "./sqlite-rows.js";
import * as v from "./validate.js";
import {
  NameTakenError,
  SerialTakenError,
  type AcmeFiled,
  type AcmeKind,
  type AcmeRecords,
  type BlobKind,
  type BlobRef,
  type CrlRecord,
  type DepotRecord,
  type EabRecord,
  type EntryRecord,
  type ListFilter,
  type PastCert,
  type RemovedCert,
  type Revocation,
  type RevokedSerial,
  type WriteTx,
} from "./schema.js";

const PAGE = 1000;
const UPSERT_ENTRY =
  `INSERT INTO entries (${ENTRY_COLUMNS.join(", ")}) VALUES (${ENTRY_COLUMNS.map(() => "?").join(", ")}) ` +
  `ON CONFLICT (name) DO UPDATE SET ${ENTRY_COLUMNS.slice(1).map((k) => `${k} = excluded.${k}`).join(", ")}`;

export class SqliteTx implements WriteTx {
  open = true;
  private readonly cas = new Map<string, boolean>();
  private readonly c: v.Check;

  constructor(
    private readonly db: Db,
    private readonly stmts: Map<string, Stmt>,
    private readonly file: string,
    readonly writable: boolean,
  ) {
    this.c = v.checker(file);
  }

  /** A cached prepared statement, run with driver errors as one line (a UNIQUE one as `unique()` says). */
  private q<T>(sql: string, use: (s: Stmt) => T, unique?: () => Error): T {
    if (!this.open) throw new Error("records: the transaction has ended (a use outside store.read/write)");
    try {
      let s = this.stmts.get(sql);
      if (!s) this.stmts.set(sql, (s = this.db.prepare(sql)));
      return use(s);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (unique && (code === "SQLITE_CONSTRAINT_PRIMARYKEY" || code === "SQLITE_CONSTRAINT_UNIQUE")) throw unique();
      throw dbError(e, this.file);
    }
  }
  private get = (sql: string, ...p: unknown[]) => this.q(sql, (s) => s.get(...p) as Row | undefined);
  private all = (sql: string, ...p: unknown[]) => this.q(sql, (s) => s.all(...p) as Row[]);
  private run(sql: string, ...p: unknown[]): number { return this.runOr(undefined, sql, ...p); }
  private runOr(unique: (() => Error) | undefined, sql: string, ...p: unknown[]): number {
    if (!this.writable) throw new Error("records: a write in a read transaction");
    return this.q(sql, (s) => s.run(...p).changes, unique);
  }

  private isCa = (name: string): boolean => {
    let ca = this.cas.get(name);
    if (ca === undefined)
      this.cas.set(name, (ca = this.get("SELECT kind FROM entries WHERE name = ?", name)?.kind === "ca"));
    return ca;
  };
  private entryRow = (r: Row | undefined) => (r ? v.validEntry(this.c, entryOf(this.c, r), this.isCa) : undefined);

  async depot(): Promise<DepotRecord> {
    const r = this.get("SELECT * FROM depot WHERE id = 1");
    if (!r) this.c.fail("depot", "is missing");
    return v.validDepot(this.c, depotOf(r));
  }
  async entry(name: string) { return this.entryRow(this.get("SELECT * FROM entries WHERE name = ?", name)); }
  async entryFolded(name: string) {
    return this.entryRow(this.get("SELECT * FROM entries WHERE name_fold = ?", name.toLowerCase()));
  }
  async entryBySerial(serial: string) {
    return this.entryRow(this.get("SELECT * FROM entries WHERE serial = ?", serial.toLowerCase()));
  }
  async entryByAcmeOrder(order: string) {
    return this.entryRow(this.get("SELECT * FROM entries WHERE acme_order = ?", order));
  }

  /** One page of `list`, after the last entry of the previous one. */
  page(f: ListFilter, after: EntryRecord | undefined, limit: number): EntryRecord[] {
    const { sql, params } = listQuery(f, after, limit);
    return this.all(sql, ...params).map((r) => this.entryRow(r)!);
  }
  list(f: ListFilter = {}, o: { pageSize?: number } = {}): AsyncIterable<EntryRecord> {
    return pages((after, size) => this.page(f, after, size), o.pageSize ?? PAGE);
  }
  async count(f: ListFilter = {}): Promise<number> {
    const { sql, params } = listQuery(f, undefined);
    return this.get(sql, ...params)!.n as number;
  }

  async history(name: string): Promise<PastCert[]> {
    return this.all("SELECT * FROM history WHERE name = ? ORDER BY seq", name)
      .map((r, i) => v.validPast(this.c, pastOf(r), name, i, this.isCa));
  }
  async *removed(): AsyncIterable<RemovedCert> {
    for (let seq = -1, rows: Row[]; ; seq = rows[rows.length - 1].seq as number) {
      rows = this.all("SELECT * FROM removed WHERE seq > ? ORDER BY seq LIMIT ?", seq, PAGE);
      yield* rows.map((r) => v.validRemoved(this.c, pastOf(r, true), r.seq as number));
      if (rows.length < PAGE) return;
    }
  }
  async *revokedBy(issuer: string): AsyncIterable<RevokedSerial> {
    for (const { table, sql } of REVOKED_SOURCES)
      for (const [i, r] of this.all(sql, issuer).entries())
        yield v.validRevoked(this.c, revokedOf(r), `${table}[revoked by "${issuer}"][${i}]`);
  }

  async hasSerial(serial: string) { return !!this.get("SELECT 1 AS x FROM serials WHERE serial = ?", serial); }
  async serialCount() { return this.get("SELECT count(*) AS n FROM serials")!.n as number; }
  async *serials(): AsyncIterable<string> {
    for (let last = "", rows: Row[]; ; last = rows[rows.length - 1].serial as string) {
      rows = this.all("SELECT serial FROM serials WHERE serial > ? ORDER BY serial LIMIT ?", last, PAGE);
      yield* rows.map((r, i) => this.c.serial(r.serial, `serials[${i}]`));
      if (rows.length < PAGE) return;
    }
  }

  async blob(ref: BlobRef): Promise<Uint8Array | undefined> {
    const r = this.get("SELECT data FROM blobs WHERE name = ? AND kind = ? AND serial = ?", ...blobKey(ref));
    return r ? v.validBlob(this.c, ref, r.data) : undefined;
  }
  async crl(issuer: string): Promise<CrlRecord | undefined> {
    const r = this.get("SELECT issuer, number, der FROM crls WHERE issuer = ?", issuer);
    if (!r) return undefined;
    return v.validCrl(this.c, { issuer: r.issuer, number: r.number, ...(r.der === null ? {} : { der: r.der }) });
  }

  async acmeGet<K extends AcmeKind>(kind: K, id: string): Promise<AcmeRecords[K] | undefined> {
    const r = this.get("SELECT id, body FROM acme WHERE kind = ? AND id = ?", kind, id);
    return r ? this.acmeRow(kind, r) : undefined;
  }
  async *acmeList<K extends AcmeKind>(kind: K): AsyncIterable<AcmeRecords[K]> {
    for (let id = "", rows: Row[]; ; id = rows[rows.length - 1].id as string) {
      rows = this.all("SELECT id, body FROM acme WHERE kind = ? AND id > ? ORDER BY id LIMIT ?", kind, id, PAGE);
      yield* rows.map((r) => this.acmeRow(kind, r));
      if (rows.length < PAGE) return;
    }
  }
  private acmeRow<K extends AcmeKind>(kind: K, r: Row): AcmeRecords[K] {
    return v.validAcme(this.c, kind, r.id, acmeBodyOf(this.c, kind, r));
  }
  async acmeAccountByThumbprint(thumbprint: string) { return this.acmeFiled("accounts", thumbprint)[0]; }
  async acmeOrdersOf(account: string) { return this.acmeFiled("orders", account); }
  private acmeFiled<K extends AcmeFiled>(kind: K, value: string): AcmeRecords[K][] {
    return this.all(acmeFiledQuery(kind), value)
      .map((r) => v.validFiled(this.c, kind, r.id, acmeBodyOf(this.c, kind, r), value));
  }
  async eab(kid: string): Promise<EabRecord | undefined> {
    const r = this.get("SELECT * FROM eab WHERE kid = ?", kid);
    if (!r) return undefined;
    return v.validEab(this.c, eabOf(r));
  }
  async *eabs(): AsyncIterable<EabRecord> {
    for (let kid = "", rows: Row[]; ; kid = rows[rows.length - 1].kid as string) {
      rows = this.all("SELECT * FROM eab WHERE kid > ? ORDER BY kid LIMIT ?", kid, PAGE);
      yield* rows.map((r) => v.validEab(this.c, eabOf(r)));
      if (rows.length < PAGE) return;
    }
  }

  // ---- writes ----------------------------------------------------------------------------------------------
  async reserveSerial(serial: string): Promise<void> {
    if (!SERIAL_RE.test(serial)) throw new DepotError(`not a serial: ${JSON.stringify(serial.slice(0, 60))}`);
    this.runOr(() => new SerialTakenError(serial), "INSERT INTO serials (serial) VALUES (?)", serial);
  }
  async setSerialFloor(serial: string) { this.run("UPDATE depot SET serial_floor = ? WHERE id = 1", serial); }
  /** The write lock is held for the whole transaction: a look-up, then the insert, is as good as one statement. */
  async addEntry(e: EntryRecord): Promise<boolean> {
    if (await this.entryFolded(e.name)) return false;
    await this.putEntry(e);
    return true;
  }

  async putEntry(e: EntryRecord): Promise<void> {
    const taken = this.get("SELECT name FROM entries WHERE name_fold = ? AND name <> ?", e.name.toLowerCase(), e.name);
    if (taken) throw new NameTakenError(e.name, taken.name as string);
    this.runOr(() => new NameTakenError(e.name, "?"), UPSERT_ENTRY, ...entryParams(e));
    this.cas.delete(e.name);
  }
  async deleteEntry(name: string): Promise<void> {
    this.run("DELETE FROM blobs WHERE name = ? AND serial = ''", name);
    this.run("DELETE FROM crls WHERE issuer = ?", name);
    this.run("DELETE FROM entries WHERE name = ?", name);
    this.cas.delete(name);
  }
  async addHistory(name: string, p: PastCert): Promise<void> {
    this.run(
      "INSERT INTO history (name, seq, serial, issuer, not_before, not_after, revoked_date, revoked_reason) " +
        "VALUES (?, (SELECT coalesce(max(seq), 0) + 1 FROM history WHERE name = ?), ?, ?, ?, ?, ?, ?)",
      name, name, ...pastParams(p),
    );
  }
  async addRemoved(r: RemovedCert): Promise<void> {
    this.run(
      "INSERT INTO removed (name, serial, issuer, not_before, not_after, revoked_date, revoked_reason) " +
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
      r.name, ...pastParams(r),
    );
  }
  async revoke(name: string, serial: string, r: Revocation): Promise<boolean> {
    const set = "SET revoked_date = ?, revoked_reason = ? WHERE name = ? AND serial = ?";
    if (this.run(`UPDATE entries ${set.replace("SET", "SET status = 'revoked',")}`, r.date, r.reason, name, serial))
      return true;
    return this.run(`UPDATE history ${set}`, r.date, r.reason, name, serial) > 0;
  }
  async putBlob(ref: BlobRef, data: Uint8Array): Promise<void> {
    this.run("INSERT OR REPLACE INTO blobs (name, kind, serial, data) VALUES (?, ?, ?, ?)", ...blobKey(ref), data);
  }
  async retireBlob(name: string, kind: BlobKind, serial: string): Promise<void> {
    this.run("UPDATE blobs SET serial = ? WHERE name = ? AND kind = ? AND serial = ''", serial, name, kind);
  }
  async deleteBlob(ref: BlobRef): Promise<void> {
    this.run("DELETE FROM blobs WHERE name = ? AND kind = ? AND serial = ?", ...blobKey(ref));
  }
  async nextCrlNumber(issuer: string): Promise<number> {
    const n = ((await this.crl(issuer))?.number ?? 0) + 1;
    const sql = "INSERT INTO crls (issuer, number) VALUES (?, ?) ON CONFLICT (issuer) DO UPDATE SET number = ?";
    this.run(sql, issuer, n, n);
    return n;
  }
  async putCrl(issuer: string, der: Uint8Array): Promise<void> {
    if (!this.run("UPDATE crls SET der = ? WHERE issuer = ?", der, issuer))
      throw new Error("records: putCrl without nextCrlNumber");
  }
  async setCrl(c: CrlRecord): Promise<void> {
    this.run("INSERT OR REPLACE INTO crls (issuer, number, der) VALUES (?, ?, ?)", c.issuer, c.number, c.der ?? null);
  }
  async acmePut<K extends AcmeKind>(kind: K, obj: AcmeRecords[K]): Promise<void> {
    this.run(`INSERT OR REPLACE INTO acme ${ACME_PUT_COLUMNS} VALUES (?, ?, ?, ?, ?)`, ...acmeParams(kind, obj));
  }
  async putEab(e: EabRecord): Promise<void> {
    this.run("INSERT OR REPLACE INTO eab (kid, hmac, created, account, bound) VALUES (?, ?, ?, ?, ?)",
      e.kid, e.hmac, e.created, e.account ?? null, e.bound ?? null);
  }
  async putNonce(nonce: string, expires: Date): Promise<void> {
    this.run("INSERT INTO nonces (nonce, expires) VALUES (?, ?)", nonce, expires.getTime());
  }
  async takeNonce(nonce: string, now = new Date()): Promise<boolean> {
    return this.run("DELETE FROM nonces WHERE nonce = ? AND expires > ?", nonce, now.getTime()) === 1;
  }
  async pruneNonces(max: number, now = new Date()): Promise<number> {
    this.run("DELETE FROM nonces WHERE expires <= ?", now.getTime());
    const left = Number((this.get("SELECT count(*) AS n FROM nonces") as { n: number }).n);
    if (left <= max) return left;
    this.run("DELETE FROM nonces WHERE nonce IN (SELECT nonce FROM nonces ORDER BY expires LIMIT ?)", left - max);
    return max;
  }
}

const blobKey = (ref: BlobRef) => [ref.name, ref.kind, ref.serial ?? ""];
