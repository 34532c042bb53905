/**
 * One transaction on PostgreSQL: PgReadTx's reads (postgres-read.ts) and the WriteTx methods as SQL. Writes whose
 * answer nobody needs are held and sent together (postgres-pipe.ts).
 */
import { DepotError } from "../fsutil.js";
import { SERIAL_RE } from "./integrity.js";
import { pgError } from "./postgres-conn.js";
import { blobKey, dollars, PgReadTx } from "./postgres-read.js";
import { acmeParams, ACME_PUT_COLUMNS, ENTRY_COLUMNS, entryParams, pastParams } from "./sqlite-rows.js";
import {
  NameTakenError, SerialTakenError, type AcmeKind, type AcmeRecords, type BlobKind, type BlobRef, type CrlRecord,
  type EabRecord, type EntryRecord, type PastCert, type RemovedCert, type Revocation, type WriteTx,
} from "./schema.js";

const UPSERT_ENTRY =
  `INSERT INTO entries (${ENTRY_COLUMNS.join(", ")}) VALUES (${ENTRY_COLUMNS.map((_, i) => `$${i + 1}`).join(", ")}) ` +
  `ON CONFLICT (name) DO UPDATE SET ${ENTRY_COLUMNS.slice(1).map((k) => `${k} = excluded.${k}`).join(", ")}`;
/** An entry under a name (and a folded name) nobody holds; none written otherwise (either UNIQUE refuses). */
const ADD_ENTRY = `${UPSERT_ENTRY.split(" ON CONFLICT")[0]} ON CONFLICT DO NOTHING RETURNING name`;

/** The list query's placeholders as PostgreSQL's (postgres-read.ts). */
export { dollars };

export class PgTx extends PgReadTx implements WriteTx {
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
  private entriesWritten(): void {
    this.named.clear();
    this.folded.clear();
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
    await this.hold(`acme ${JSON.stringify([kind, obj.id])}`, `INSERT INTO acme ${ACME_PUT_COLUMNS} ` +
      "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kind, id) DO UPDATE SET account = $3, thumbprint = $4, body = $5",
    ...acmeParams(kind, obj));
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

