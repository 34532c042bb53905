/**
 * The reads of one transaction on PostgreSQL (PgTx adds the writes): the ReadTx methods as SQL, every row read back
 * validated. An entry read once is not read again in the transaction until an entry is written (one snapshot: the
 * same row).
 */
import { pgError } from "./postgres-conn.js";
import type { PgPipe } from "./postgres-pipe.js";
import { placed } from "./postgres-places.js";
import {
  acmeBodyOf, acmeFiledQuery, depotOf, eabOf, entryOf, listQuery, pastOf, REVOKED_SOURCES, revokedOf, type Row, pages,
} from "./sqlite-rows.js";
import * as v from "./validate.js";
import type {
  AcmeFiled, AcmeKind, AcmeRecords, BlobRef, CrlRecord, DepotRecord, EabRecord, EntryRecord, ListFilter, PastCert,
  ReadTx, RemovedCert, RevokedSerial,
} from "./schema.js";

const PAGE = 1000;

/** SQLite's `?` placeholders (the shared list query) as PostgreSQL's `$n`. */
export const dollars = (sql: string) => { let n = 0; return sql.replace(/\?/g, () => `$${++n}`); };

export class PgReadTx implements ReadTx {
  open = true;
  protected readonly cas = new Map<string, boolean>();
  /** Entry rows read in this transaction, by name and by folded name, until an entry is written. */
  protected readonly named = new Map<string, Row | undefined>();
  protected readonly folded = new Map<string, Row | undefined>();
  protected readonly c: v.Check;

  /** `places`: where rows were last seen (postgres-places.ts), kept by the store across its transactions. */
  constructor(
    protected readonly pipe: PgPipe, protected readonly where: string, readonly writable: boolean,
    private readonly places = new Map<string, string>(),
  ) {
    this.c = v.checker(where);
  }

  protected async q(sql: string, p: unknown[], unique?: () => Error) {
    if (!this.open) throw new Error("records: the transaction has ended (a use outside store.read/write)");
    try { await this.pipe.flush(); } catch (e) { throw pgError(e, this.where); }
    try {
      return await this.pipe.query(sql, p);
    } catch (e) {
      if (unique && (e as { code?: unknown }).code === "23505") throw unique();
      throw pgError(e, this.where);
    }
  }
  protected get = async (sql: string, ...p: unknown[]) => (await this.q(sql, p)).rows[0] as Row | undefined;
  protected all = async (sql: string, ...p: unknown[]) => (await this.q(sql, p)).rows as Row[];
  /** Ends the transaction: what is held sent, then COMMIT (none in a caller's own); when `fn` failed, ROLLBACK. */
  async end(commit: boolean): Promise<void> {
    this.open = false;
    await (commit ? this.pipe.commit() : this.pipe.rollback());
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
  async acmeAccountByThumbprint(thumbprint: string) { return (await this.acmeFiled("accounts", thumbprint))[0]; }
  async acmeOrdersOf(account: string) { return this.acmeFiled("orders", account); }
  private async acmeFiled<K extends AcmeFiled>(kind: K, value: string): Promise<AcmeRecords[K][]> {
    return (await this.all(dollars(acmeFiledQuery(kind)), value))
      .map((r) => v.validFiled(this.c, kind, r.id, acmeBodyOf(this.c, kind, r), value));
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
}

export const blobKey = (ref: BlobRef) => [ref.name, ref.kind, ref.serial ?? ""];
