/**
 * Rows read where they were last seen. In a SERIALIZABLE transaction a look-up through a B-tree index takes a
 * predicate lock on the index page it reads, and any insert into that page by a concurrent writer is a
 * read-write conflict. Every ACME finalize reads the issuing CA's entry and certificate while inserting its own
 * entry and blobs, whose keys sort beside the CA's, so two finalizes kept conflicting and one ran again.
 * Read by its ctid (a TID scan), a row PostgreSQL can see is locked alone: what a concurrent writer may change
 * in it is still caught (an update or delete of that row), and inserts beside it no longer are. The ctid is only a
 * hint, with the key in the same WHERE: a row found so is the one row that key names in this snapshot (keys are
 * unique); none found (the row moved, or another took its place after a VACUUM) and the look-up by key runs, as
 * before. The store keeps the places across its transactions (bounded; a stale one costs one more statement).
 */
import type { Row } from "./sqlite-rows.js";

const MAX_PLACES = 4096;
type Get = (sql: string, ...p: unknown[]) => Promise<Row | undefined>;

/** `SELECT cols FROM table WHERE where`, for the row `key` names (`where`'s parameters `p`), by ctid when known. */
export async function placed(
  get: Get, places: Map<string, string>, key: string, cols: string, table: string, where: string, p: unknown[],
): Promise<Row | undefined> {
  const sql = `SELECT ${cols}, ctid::text AS ctid_ FROM ${table} WHERE `;
  const at = places.get(key);
  let row = at === undefined ? undefined : await get(`${sql}ctid = $${p.length + 1}::tid AND ${where}`, ...p, at);
  row ??= await get(sql + where, ...p);
  if (!row) {
    places.delete(key);
    return undefined;
  }
  if (places.size >= MAX_PLACES) places.clear();
  places.set(key, row.ctid_ as string);
  delete row.ctid_;
  return row;
}
