/**
 * Rows of depot.db ↔ records. A row becomes the record's shape here (NULL → absent, JSON columns parsed) and
 * is then judged by validate.ts; nothing here trusts a value, it only renames.
 */
import type { Check } from "./validate.js";
import {
  ACME_FILED, type AcmeFiled, type AcmeKind, type AcmeRecords, type EntryRecord, type ListFilter, type PastCert,
} from "./schema.js";

export type Row = Record<string, unknown>;

const opt = (o: Row, k: string, v: unknown) => {
  if (v !== null && v !== undefined) o[k] = v;
};

function json(c: Check, v: unknown, field: string): unknown {
  if (typeof v !== "string") return v;
  try { return JSON.parse(v); } catch { return c.fail(field, "is not JSON"); }
}

function revocationOf(r: Row): unknown {
  return r.revoked_date === null && r.revoked_reason === null
    ? undefined
    : { date: r.revoked_date, reason: r.revoked_reason };
}

/** An entries row as an EntryRecord-shaped object (to be validated). */
export function entryOf(c: Check, r: Row): Row {
  const f = `entries["${typeof r.name === "string" ? r.name.slice(0, 64) : "?"}"]`;
  if (typeof r.name !== "string" || r.name_fold !== r.name.toLowerCase()) c.fail(`${f}.name_fold`, "is not its name");
  const o: Row = {
    name: r.name,
    kind: r.kind,
    subject: r.subject,
    keyType: r.key_type,
    sans: json(c, r.sans, `${f}.sans`),
    status: r.status,
    created: r.created,
  };
  opt(o, "issuer", r.issuer);
  opt(o, "serial", r.serial);
  opt(o, "notBefore", r.not_before);
  opt(o, "notAfter", r.not_after);
  opt(o, "usage", r.usage);
  opt(o, "eku", r.eku === null ? null : json(c, r.eku, `${f}.eku`));
  opt(o, "pathLength", r.path_length);
  opt(o, "revoked", revocationOf(r));
  opt(o, "alias", r.alias);
  opt(o, "external", r.external === 1 ? true : r.external === 0 ? false : r.external);
  if (r.acme_account !== null || r.acme_order !== null || r.acme_replaces !== null) {
    o.acme = { account: r.acme_account, order: r.acme_order };
    opt(o.acme as Row, "replaces", r.acme_replaces);
  }
  opt(o, "crlUrl", r.crl_url);
  return o;
}

export const ENTRY_COLUMNS = [
  "name", "name_fold", "kind", "issuer", "subject", "key_type", "sans", "status", "created", "serial", "not_before",
  "not_after", "usage", "eku", "path_length", "revoked_date", "revoked_reason", "alias", "external", "acme_account",
  "acme_order", "crl_url", "acme_replaces",
] as const;

/** An EntryRecord as the parameters of ENTRY_COLUMNS. */
export function entryParams(e: EntryRecord): unknown[] {
  const n = (v: unknown) => (v === undefined ? null : v);
  return [
    e.name, e.name.toLowerCase(), e.kind, n(e.issuer), e.subject, e.keyType, JSON.stringify(e.sans), e.status,
    e.created, n(e.serial), n(e.notBefore), n(e.notAfter), n(e.usage), e.eku ? JSON.stringify(e.eku) : null,
    n(e.pathLength), n(e.revoked?.date), n(e.revoked?.reason), n(e.alias),
    e.external === undefined ? null : e.external ? 1 : 0, n(e.acme?.account), n(e.acme?.order), n(e.crlUrl),
    n(e.acme?.replaces),
  ];
}

/** The depot row as a DepotRecord-shaped object. */
export function depotOf(r: Row): Row {
  const o: Row = { kdf: { salt: r.kdf_salt, iterations: r.kdf_iterations }, created: r.created };
  opt(o, "serialFloor", r.serial_floor);
  return o;
}

/** An eab row as an EabRecord-shaped object. */
export function eabOf(r: Row): Row {
  const o: Row = { kid: r.kid, hmac: r.hmac, created: r.created };
  opt(o, "account", r.account);
  opt(o, "bound", r.bound);
  return o;
}

/** Where an issuer's revoked certificates are (`?`: the issuer), and a row of them as a RevokedSerial shape. */
export const REVOKED_SOURCES = [
  ["entries", "issued_by = ? AND status = 'revoked'"],
  ["history", "issuer = ? AND revoked_date IS NOT NULL"],
  ["removed", "issuer = ? AND revoked_date IS NOT NULL"],
].map(([table, cond]) => ({
  table,
  sql: `SELECT serial, revoked_date, revoked_reason, not_after FROM ${table} WHERE ${cond}`,
}));
export const revokedOf = (r: Row): Row =>
  ({ serial: r.serial, revoked: { date: r.revoked_date, reason: r.revoked_reason }, notAfter: r.not_after });

/** An acme row's body, parsed (not yet validated). */
export function acmeBodyOf(c: Check, kind: string, r: Row): unknown {
  try { return JSON.parse(r.body as string); } catch { return c.fail(`acme.${kind}["${r.id}"]`, "is not JSON"); }
}

/** An ACME record as its row's values: kind, id, account (authz, orders), thumbprint (accounts), body. */
export const ACME_PUT_COLUMNS = "(kind, id, account, thumbprint, body)";
export function acmeParams<K extends AcmeKind>(kind: K, obj: AcmeRecords[K]): unknown[] {
  const account = "account" in obj ? obj.account : null, thumbprint = "thumbprint" in obj ? obj.thumbprint : null;
  return [kind, obj.id, account, thumbprint, JSON.stringify(obj)];
}
/** The rows of `kind` filed under a value of its indexed column (ACME_FILED), by id. */
export const acmeFiledQuery = (kind: AcmeFiled) =>
  `SELECT id, body FROM acme WHERE kind = '${kind}' AND ${ACME_FILED[kind]} = ? ORDER BY id`;

/** A history or removed row as a PastCert-shaped object. */
export function pastOf(r: Row, withName = false): Row {
  const o: Row = { serial: r.serial, issuer: r.issuer, notBefore: r.not_before, notAfter: r.not_after };
  if (withName) o.name = r.name;
  opt(o, "revoked", revocationOf(r));
  return o;
}

export function pastParams(p: PastCert): unknown[] {
  return [p.serial, p.issuer, p.notBefore, p.notAfter, p.revoked?.date ?? null, p.revoked?.reason ?? null];
}

/**
 * The query of a list page (without `limit`: of the count): keyset pagination, after the last row of the
 * previous page, ordered by name, or by (not_after, name) when filtering on expiry, so each filter walks its
 * own index.
 */
export function listQuery(f: ListFilter, after: { name: string; notAfter?: string } | undefined, limit?: number) {
  const cond: string[] = [];
  const params: unknown[] = [];
  if (f.status) cond.push("status = ?") && params.push(f.status);
  if (f.issuer) cond.push("issued_by = ?") && params.push(f.issuer);
  const byExpiry = f.expiringBefore !== undefined;
  if (byExpiry) cond.push("not_after < ?") && params.push(f.expiringBefore!.toISOString());
  if (after && byExpiry) cond.push("(not_after, name) > (?, ?)") && params.push(after.notAfter ?? "", after.name);
  else if (after) cond.push("name > ?") && params.push(after.name);
  const where = cond.length ? ` WHERE ${cond.join(" AND ")}` : "";
  if (limit === undefined) return { sql: `SELECT count(*) AS n FROM entries${where}`, params };
  const order = byExpiry ? " ORDER BY not_after, name" : " ORDER BY name";
  return { sql: `SELECT * FROM entries${where}${order} LIMIT ${Math.trunc(limit)}`, params };
}

/** Streams entries in keyset pages of `size`: `page(after, size)` reads those after the last one of the page before. */
export async function* pages(
  page: (after: EntryRecord | undefined, size: number) => EntryRecord[] | Promise<EntryRecord[]>,
  size: number,
): AsyncIterable<EntryRecord> {
  for (let after: EntryRecord | undefined, rows: EntryRecord[]; ; after = rows[rows.length - 1]) {
    rows = await page(after, size);
    yield* rows;
    if (rows.length < size) return;
  }
}
