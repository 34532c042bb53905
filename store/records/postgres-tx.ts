/**
 * One transaction on PostgreSQL: the ReadTx/WriteTx methods as SQL, every row read back validated. An entry read
 * once is not read again in the transaction until an entry is written (one snapshot: the same row), and writes
 * whose answer nobody needs are held and sent together (postgres-pipe.ts).
 */
import { DepotError } from "../fsutil.js";
import { SERIAL_RE } from "./integrity.js";
import { pgError } from "./postgres-conn.js";
import type { PgPipe } from "./postgres-pipe.js";
import { placed } from "./postgres-places.js";
import {
  acmeBodyOf, depotOf, eabOf, ENTRY_COLUMNS, entryOf, entryParams, listQuery, pastOf, pastParams, REVOKED_SOURCES,
  revokedOf, type Row, pages,
} from "./sqlite-rows.js";
import * as v from "./validate.js";
import {
  NameTakenError, SerialTakenError, type AcmeKind, type AcmeRecords, type BlobKind, type BlobRef, type CrlRecord,
  type DepotRecord, type EabRecord, type EntryRecord, type ListFilter, type PastCert, type RemovedCert,
  type Revocation, type RevokedSerial, type WriteTx,
} from "./schema.js";

const PAGE = 1000;
const UPSERT_ENTRY =
  `INSERT INTO entries (${ENTRY_COLUMNS.join(", ")}) VALUES (${ENTRY_COLUMNS.map((_, i) => `$${i + 1}`).join(", ")}) ` +
  `ON CONFLICT (name) DO UPDATE SET ${ENTRY_COLUMNS.slice(1).map((k) => `${k} = excluded.${k}`).join(", ")}`;
/** An entry under a name (and a folded name) nobody holds; none written otherwise (either UNIQUE refuses). */
const ADD_ENTRY = `${UPSERT_ENTRY.split(" ON CONFLICT")[0]} ON CONFLICT DO NOTHING RETURNING name`;

/** SQLite's `?` placeholders (the shared list query) as PostgreSQL's `$n`. */
export const dollars = (sql: string) => { let n = 0; return sql.replace(/\?/g, () => `$${++n}`); };

export class PgTx implements WriteTx {
  open = true;
  private readonly cas = new Map<string, boolean>();
  /** Entry rows read in this transaction, by name and by folded name, until an entry is written. */
  private readonly named = new Map<string, Row | undefined>();
  private readonly folded = new Map<string, Row | undefined>();
  private readonly c: v.Check;

  /** `places`: where rows were last seen (postgres-places.ts), kept by the store across its transactions. */
  constructor(
    private readonly pipe: PgPipe, private readonly where: string, readonly writable: boolean,
    private readonly places = new Map<string, string>(),
  ) {
    this.c = v.checker(where);
  }

  private async q(sql: string, p: unknown[], unique?: () => Error) {
    if (!this.open) throw new Error("records: the transaction has ended (a use outside store.read/write)");
    try { await this.pipe.flush(); } catch (e) { throw pgError(e, this.where); }
    try {
      return await this.pipe.query(sql, p);
    } catch (e) {
      if (unique && (e as { code?: unknown }).code === "23505") throw unique();
      throw pgError(e, this.where);
    }
  }
  private get = async (sql: string, ...p: unknown[]) => (await this.q(sql, p)).rows[0] as Row | undefined;
  private all = async (sql: string, ...p: unknown[]) => (await this.q(sql, p)).rows as Row[];
  private run(sql: string, ...p: unknown[]): Promise<number> { return this.runOr(undefined, sql, ...p); }
  private async runOr(unique: (() => Error) | undefined, sql: string, ...p: unknown[]): Promise<number> {
    if (!this.writable) throw new Error("records: a write in a read transaction");
    return (await this.q(sql, p, unique)).rowCount ?? 0;
  }
  /** A write of `row` whose answer is not needed: held, and sent with the next statement's (or the commit's). */
  private async hold(row: string, sql: string, ...params: unknown[]): Promise<void> {
    if (!this.open) throw new Error("records: the transaction has ended (a use outside store.read/write)");
    if (!this.writable) throw new Error("records: a write in a read transaction");
    try { await this.pipe.hold({ row, sql, params }); } catch (e) { throw pgError(e, this.where); }
  }
  /** Ends the transaction: what is held sent, then COMMIT (none in a caller's own); when `fn` failed, ROLLBACK. */
  async end(commit: boolean): Promise<void> {
    this.open = false;
    await (commit ? this.pipe.commit() : this.pipe.rollback());
  }
  private entriesWritten(): void {
    this.named.clear();
    this.folded.clear();
  }

  /** Which names are CA entries, read once per transaction for the rows validated in it. */
  private async loadCas(rows: Row[]): Promise<(n: string) => boolean> {
    const want = [...new Set(rows.map((r) => r.issuer).filter((x) => typeof x === "string"))]
      .filter((n) => !this.cas.has(n as string));
    if (want.length) {
      const found = await this.all("SELECT name, kind FROM entries WHERE name = ANY($1)", want);
      for (const n of want) this.cas.set(n as string, found.some((r) => r.name === n && r.kind === "ca"));
    }
    return (n) => this.cas.get(n) ?? false;
  }
  private async entries(rows: Row[]): Promise<EntryRecord[]> {
    // an entry's row says itself whether it is a CA: only its issuer may need a look-up
    for (const r of rows) if (typeof r.name === "string") this.cas.set(r.name, r.kind === "ca");
    const isCa = await this.loadCas(rows);
    return rows.map((r) => v.validEntry(this.c, entryOf(this.c, r), isCa));
  }
  private async entryRow(r: Row | undefined) { return r ? (await this.entries([r]))[0] : undefined; }

  async depot(): Promise<DepotRecord> {
    const r = await this.get("SELECT * FROM depot WHERE id = 1");
    if (!r) this.c.fail("depot", "is missing");
    return v.validDepot(this.c, depotOf(r));
  }
  async entry(name: string) {
    if (!this.named.has(name))
      this.named.set(name, await placed(this.get, this.places, `e ${name}`, "*", "entries", "name = $1", [name]));
    return this.entryRow(this.named.get(name));
  }
  async entryFolded(name: string) {
    const fold = name.toLowerCase();
    if (!this.folded.has(fold))
      this.folded.set(fold, await this.get("SELECT * FROM entries WHERE name_fold = $1", fold));
    return this.entryRow(this.folded.get(fold));
  }
  async entryBySerial(serial: string) {
    return this.entryRow(await this.get("SELECT * FROM entries WHERE serial = $1", serial.toLowerCase()));
  }
  async entryByAcmeOrder(order: string) {
    return this.entryRow(await this.get("SELECT * FROM entries WHERE acme_order = $1", order));
  }

  /** One page of `list`, after the last entry of the previous one. */
  async page(f: ListFilter, after: EntryRecord | undefined, limit: number): Promise<EntryRecord[]> {
    const { sql, params } = listQuery(f, after, limit);
    return this.entries(await this.all(dollars(sql), ...params));
  }
  list(f: ListFilter = {}, o: { pageSize?: number } = {}): AsyncIterable<EntryRecord> {
    return pages((after, size) => this.page(f, after, size), o.pageSize ?? PAGE);
  }
  async count(f: ListFilter = {}): Promise<number> {
    const { sql, params } = listQuery(f, undefined);
    return (await this.get(dollars(sql), ...params))!.n as number;
  }

  async history(name: string): Promise<PastCert[]> {
    const rows = await this.all("SELECT * FROM history WHERE name = $1 ORDER BY seq", name);
    const isCa = await this.loadCas(rows);
    return rows.map((r, i) => v.validPast(this.c, pastOf(r), name, i, isCa));
  }
  async *removed(): AsyncIterable<RemovedCert> {
    for (let seq = -1, rows: Row[]; ; seq = rows[rows.length - 1].seq as number) {
      rows = await this.all("SELECT * FROM removed WHERE seq > $1 ORDER BY seq LIMIT $2", seq, PAGE);
      yield* rows.map((r) => v.validRemoved(this.c, pastOf(r, true), r.seq as number));
      if (rows.length < PAGE) return;
    }
  }
  async *revokedBy(issuer: string): AsyncIterable<RevokedSerial> {
    for (const { table, sql } of REVOKED_SOURCES)
      for (const [i, r] of (await this.all(dollars(sql), issuer)).entries())
        yield v.validRevoked(this.c, revokedOf(r), `${table}[revoked by "${issuer}"][${i}]`);
  }

  async hasSerial(serial: string) { return !!(await this.get("SELECT 1 AS x FROM serials WHERE serial = $1", serial)); }
  async serialCount() { return (await this.get("SELECT count(*) AS n FROM serials"))!.n as number; }
  async *serials(): AsyncIterable<string> {
    for (let last = "", rows: Row[]; ; last = rows[rows.length - 1].serial as string) {
      rows = await this.all("SELECT serial FROM serials WHERE serial > $1 ORDER BY serial LIMIT $2", last, PAGE);
      yield* rows.map((r, i) => this.c.serial(r.serial, `serials[${i}]`));
      if (rows.length < PAGE) return;
    }
  }

  async blob(ref: BlobRef): Promise<Uint8Array | undefined> {
    const key = blobKey(ref);
    const where = "name = $1 AND kind = $2 AND serial = $3";
    const r = await placed(this.get, this.places, `b ${JSON.stringify(key)}`, "data", "blobs", where, key);
    return r ? v.validBlob(this.c, ref, r.data) : undefined;
  }
  async crl(issuer: string): Promise<CrlRecord | undefined> {
    const r = await this.get("SELECT issuer, number, der FROM crls WHERE issuer = $1", issuer);
    if (!r) return undefined;
    return v.validCrl(this.c, { issuer: r.issuer, number: r.number, ...(r.der === null ? {} : { der: r.der }) });
  }

  async acmeGet<K extends AcmeKind>(kind: K, id: string): Promise<AcmeRecords[K] | undefined> {
    const r = await this.get("SELECT id, body FROM acme WHERE kind = $1 AND id = $2", kind, id);
    return r ? this.acmeRow(kind, r) : undefined;
  }
  async *acmeList<K extends AcmeKind>(kind: K): AsyncIterable<AcmeRecords[K]> {
    const sql = "SELECT id, body FROM acme WHERE kind = $1 AND id > $2 ORDER BY id LIMIT $3";
    for (let id = "", rows: Row[]; ; id = rows[rows.length - 1].id as string) {
      rows = await this.all(sql, kind, id, PAGE);
      yield* rows.map((r) => this.acmeRow(kind, r));
      if (rows.length < PAGE) return;
    }
  }
  private acmeRow<K extends AcmeKind>(kind: K, r: Row): AcmeRecords[K] {
    return v.validAcme(this.c, kind, r.id, acmeBodyOf(this.c, kind, r));
  }
  async eab(kid: string): Promise<EabRecord | undefined> {
    const r = await this.get("SELECT * FROM eab WHERE kid = $1", kid);
    if (!r) return undefined;
    return v.validEab(this.c, eabOf(r));
  }
  async *eabs(): AsyncIterable<EabRecord> {
    for (let kid = "", rows: Row[]; ; kid = rows[rows.length - 1].kid as string) {
      rows = await this.all("SELECT * FROM eab WHERE kid > $1 ORDER BY kid LIMIT $2", kid, PAGE);
      yield* rows.map((r) => v.validEab(this.c, eabOf(r)));
      if (rows.length < PAGE) return;
    }
  }

  // ---- writes ----------------------------------------------------------------------------------------------
  async reserveSerial(serial: string): Promise<void> {
    if (!SERIAL_RE.test(serial)) throw new DepotError(`not a serial: ${JSON.stringify(serial.slice(0, 60))}`);
    await this.runOr(() => new SerialTakenError(serial), "INSERT INTO serials (serial) VALUES ($1)", serial);
  }
  async setSerialFloor(serial: string) { await this.run("UPDATE depot SET serial_floor = $1 WHERE id = 1", serial); }
  async putEntry(e: EntryRecord): Promise<void> {
    const fold = e.name.toLowerCase();
    // entryFolded just read this name's fold (as a new name is checked): the same snapshot, no second look
    const seen = this.folded.get(fold);
    const taken = this.folded.has(fold) ? (seen?.name === e.name ? undefined : seen) :
      await this.get("SELECT name FROM entries WHERE name_fold = $1 AND name <> $2", fold, e.name);
    if (taken) throw new NameTakenError(e.name, taken.name as string);
    this.entriesWritten();
    await this.runOr(() => new NameTakenError(e.name, "?"), UPSERT_ENTRY, ...entryParams(e));
    this.cas.delete(e.name);
  }
  async addEntry(e: EntryRecord): Promise<boolean> {
    this.entriesWritten();
    const added = (await this.runOr(undefined, ADD_ENTRY, ...entryParams(e))) === 1;
    if (added) this.cas.delete(e.name);
    return added;
  }
  async deleteEntry(name: string): Promise<void> {
    this.entriesWritten();
    await this.run("DELETE FROM blobs WHERE name = $1 AND serial = ''", name);
    await this.run("DELETE FROM crls WHERE issuer = $1", name);
    await this.run("DELETE FROM entries WHERE name = $1", name);
    this.cas.delete(name);
  }
  async addHistory(name: string, p: PastCert): Promise<void> {
    await this.run(
      "INSERT INTO history (name, seq, serial, issuer, not_before, not_after, revoked_date, revoked_reason) " +
        "VALUES ($1, (SELECT coalesce(max(seq), 0) + 1 FROM history WHERE name = $1), $2, $3, $4, $5, $6, $7)",
      name, ...pastParams(p),
    );
  }
  async addRemoved(r: RemovedCert): Promise<void> {
    await this.run(
      "INSERT INTO removed (name, serial, issuer, not_before, not_after, revoked_date, revoked_reason) " +
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
      r.name, ...pastParams(r),
    );
  }
  async revoke(name: string, serial: string, r: Revocation): Promise<boolean> {
    this.entriesWritten();
    const set = "revoked_date = $1, revoked_reason = $2 WHERE name = $3 AND serial = $4";
    if (await this.run(`UPDATE entries SET status = 'revoked', ${set}`, r.date, r.reason, name, serial)) return true;
    return (await this.run(`UPDATE history SET ${set}`, r.date, r.reason, name, serial)) > 0;
  }
  async putBlob(ref: BlobRef, data: Uint8Array): Promise<void> {
    await this.hold(`blobs ${JSON.stringify(blobKey(ref))}`, "INSERT INTO blobs (name, kind, serial, data) " +
      "VALUES ($1, $2, $3, $4) ON CONFLICT (name, kind, serial) DO UPDATE SET data = excluded.data",
    ...blobKey(ref), Buffer.from(data));
  }
  async retireBlob(name: string, kind: BlobKind, serial: string): Promise<void> {
    await this.run("UPDATE blobs SET serial = $1 WHERE name = $2 AND kind = $3 AND serial = ''", serial, name, kind);
  }
  async deleteBlob(ref: BlobRef): Promise<void> {
    await this.run("DELETE FROM blobs WHERE name = $1 AND kind = $2 AND serial = $3", ...blobKey(ref));
  }
  async nextCrlNumber(issuer: string): Promise<number> {
    const n = ((await this.crl(issuer))?.number ?? 0) + 1;
    const sql = "INSERT INTO crls (issuer, number) VALUES ($1, $2) ON CONFLICT (issuer) DO UPDATE SET number = $2";
    await this.run(sql, issuer, n);
    return n;
  }
  async putCrl(issuer: string, der: Uint8Array): Promise<void> {
    if (!(await this.run("UPDATE crls SET der = $1 WHERE issuer = $2", Buffer.from(der), issuer)))
      throw new Error("records: putCrl without nextCrlNumber");
  }
  async setCrl(c: CrlRecord): Promise<void> {
    await this.run("INSERT INTO crls (issuer, number, der) VALUES ($1, $2, $3) " +
      "ON CONFLICT (issuer) DO UPDATE SET number = $2, der = $3",
      c.issuer, c.number, c.der ? Buffer.from(c.der) : null);
  }
  async acmePut<K extends AcmeKind>(kind: K, obj: AcmeRecords[K]): Promise<void> {
    const account = "account" in obj ? obj.account : null;
    await this.hold(`acme ${JSON.stringify([kind, obj.id])}`, "INSERT INTO acme (kind, id, account, body) " +
      "VALUES ($1, $2, $3, $4) ON CONFLICT (kind, id) DO UPDATE SET account = $3, body = $4",
    kind, obj.id, account, JSON.stringify(obj));
  }
  async putEab(e: EabRecord): Promise<void> {
    await this.run("INSERT INTO eab (kid, hmac, created, account, bound) VALUES ($1, $2, $3, $4, $5) " +
      "ON CONFLICT (kid) DO UPDATE SET hmac = $2, created = $3, account = $4, bound = $5",
      e.kid, e.hmac, e.created, e.account ?? null, e.bound ?? null);
  }
  async putNonce(nonce: string, expires: Date): Promise<void> {
    await this.hold(`nonces ${nonce}`, "INSERT INTO nonces (nonce, expires) VALUES ($1, $2)", nonce, expires.getTime());
  }
  /** DELETE ... RETURNING: of two connections taking one nonce at once, exactly one gets the row. */
  async takeNonce(nonce: string, now = new Date()): Promise<boolean> {
    if (!this.writable) throw new Error("records: a write in a read transaction");
    const sql = "DELETE FROM nonces WHERE nonce = $1 AND expires > $2 RETURNING nonce";
    return (await this.q(sql, [nonce, now.getTime()])).rows.length === 1;
  }
  async pruneNonces(max: number, now = new Date()): Promise<number> {
    await this.run("DELETE FROM nonces WHERE expires <= $1", now.getTime());
    const left = Number((await this.get("SELECT count(*) AS n FROM nonces"))!.n);
    if (left <= max) return left;
    const oldest = "SELECT nonce FROM nonces ORDER BY expires LIMIT $1";
    await this.run(`DELETE FROM nonces WHERE nonce IN (${oldest})`, left - max);
    return max;
  }
}

const blobKey = (ref: BlobRef) => [ref.name, ref.kind, ref.serial ?? ""];
