/**
 * depot.db's schema. The file says it is pki's (application_id) and which schema it holds (user_version); on
 * open the stored CREATE statements must equal these, so a trigger, a view or a loosened constraint added with
 * the sqlite3 shell is refused rather than run. STRICT tables: a column holds its declared type or nothing.
 */

/** "pkiD": PRAGMA application_id of every depot.db. */
export const APPLICATION_ID = 0x706b6944;
export const SCHEMA_VERSION = 4;

/** The statements that make schema version 1, in order (the text SQLite keeps in sqlite_schema). */
export const SCHEMA_V1: readonly string[] = [
  `CREATE TABLE depot (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  kdf_salt TEXT NOT NULL, kdf_iterations INTEGER NOT NULL, created TEXT NOT NULL, serial_floor TEXT
) STRICT`,
  `CREATE TABLE entries (
  name TEXT PRIMARY KEY, name_fold TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, issuer TEXT,
  issued_by TEXT GENERATED ALWAYS AS (CASE WHEN name = 'ca' THEN NULL ELSE coalesce(issuer, 'ca') END) VIRTUAL,
  subject TEXT NOT NULL, key_type TEXT NOT NULL, sans TEXT NOT NULL, status TEXT NOT NULL, created TEXT NOT NULL,
  serial TEXT, not_before TEXT, not_after TEXT, usage TEXT, eku TEXT, path_length INTEGER,
  revoked_date TEXT, revoked_reason TEXT, alias TEXT, external INTEGER, acme_account TEXT, acme_order TEXT
) STRICT`,
  `CREATE INDEX entries_status ON entries (status, name)`,
  `CREATE INDEX entries_not_after ON entries (not_after, name)`,
  `CREATE INDEX entries_issued_by ON entries (issued_by, name)`,
  `CREATE INDEX entries_serial ON entries (serial)`,
  `CREATE INDEX entries_acme_order ON entries (acme_order)`,
  `CREATE TABLE serials (serial TEXT PRIMARY KEY) STRICT, WITHOUT ROWID`,
  `CREATE TABLE history (
  name TEXT NOT NULL REFERENCES entries (name) ON DELETE CASCADE, seq INTEGER NOT NULL,
  serial TEXT NOT NULL, issuer TEXT NOT NULL, not_before TEXT NOT NULL, not_after TEXT NOT NULL,
  revoked_date TEXT, revoked_reason TEXT, PRIMARY KEY (name, seq)
) STRICT`,
  `CREATE INDEX history_issuer ON history (issuer, revoked_date)`,
  `CREATE TABLE removed (
  seq INTEGER PRIMARY KEY, name TEXT NOT NULL, serial TEXT NOT NULL, issuer TEXT NOT NULL,
  not_before TEXT NOT NULL, not_after TEXT NOT NULL, revoked_date TEXT, revoked_reason TEXT
) STRICT`,
  `CREATE INDEX removed_issuer ON removed (issuer, revoked_date)`,
  `CREATE TABLE blobs (
  name TEXT NOT NULL, kind TEXT NOT NULL, serial TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (name, kind, serial)
) STRICT`,
  `CREATE TABLE crls (issuer TEXT PRIMARY KEY, number INTEGER NOT NULL, der BLOB) STRICT`,
  `CREATE TABLE acme (
  kind TEXT NOT NULL, id TEXT NOT NULL, account TEXT, body TEXT NOT NULL, PRIMARY KEY (kind, id)
) STRICT`,
  `CREATE TABLE eab (
  kid TEXT PRIMARY KEY, hmac TEXT NOT NULL, created TEXT NOT NULL, account TEXT, bound TEXT
) STRICT`,
  `CREATE TABLE nonces (nonce TEXT PRIMARY KEY, expires INTEGER NOT NULL) STRICT, WITHOUT ROWID`,
];

/** Version 2: a CA's CRL distribution point URL (`pki init --crl-url`), put in what it issues. */
const SCHEMA_V2: readonly string[] = [`ALTER TABLE entries ADD COLUMN crl_url TEXT`];

/**
 * Version 3: an ACME account's key (its thumbprint) and an order's account are looked up by index, not by reading
 * every row; existing accounts get the thumbprint their body holds (none when the body is not JSON: damage that
 * the look-ups and `pki doctor` report). The column is only where to look: the body read is still checked.
 */
const SCHEMA_V3: readonly string[] = [
  `ALTER TABLE acme ADD COLUMN thumbprint TEXT`,
  `CREATE INDEX acme_thumbprint ON acme (kind, thumbprint, id)`,
  `CREATE INDEX acme_account ON acme (kind, account, id)`,
  `UPDATE acme SET thumbprint = CASE WHEN NOT json_valid(body) THEN NULL
  WHEN json_type(body, '$.thumbprint') = 'text' THEN json_extract(body, '$.thumbprint') END WHERE kind = 'accounts'`,
];

/**
 * Version 4: the entry an ACME certificate replaced (its order's replacesCert) is recorded with the certificate's
 * entry, so `pki list` reads the entries it prints and no order (a fleet depot holds one per issuance). Existing
 * entries get it from their order in the migration's one pass; an order that is not JSON gives none (damage
 * `pki doctor` reports).
 */
const SCHEMA_V4: readonly string[] = [
  `ALTER TABLE entries ADD COLUMN acme_replaces TEXT`,
  `UPDATE entries SET acme_replaces = (SELECT CASE WHEN NOT json_valid(body) THEN NULL
  WHEN json_type(body, '$.replacesCert') = 'text' THEN json_extract(body, '$.replacesCert') END
  FROM acme WHERE kind = 'orders' AND id = entries.acme_order) WHERE acme_order IS NOT NULL`,
];

/**
 * How an older schema becomes the next one: MIGRATIONS[v] takes version v to v + 1, run in one transaction
 * with the new version. Version 0 is an empty file; a new depot runs them all, so it holds what a migrated one does.
 */
export const MIGRATIONS: Record<number, readonly string[]> = {
  0: SCHEMA_V1, 1: SCHEMA_V2, 2: SCHEMA_V3, 3: SCHEMA_V4,
};

/**
 * The objects (type and name → CREATE text) a database of the current version holds. ADD COLUMN edits the
 * table's stored text as SQLite does: `, <column>` inserted after the last column, before a table constraint
 * (`, PRIMARY KEY (...)`) or else the parenthesis that closes the columns.
 */
export function expectedObjects(): Map<string, string> {
  const out = new Map<string, string>();
  for (const sql of Object.values(MIGRATIONS).flat()) {
    const m = /^CREATE (TABLE|INDEX) (\w+)/.exec(sql);
    if (m) out.set(`${m[1].toLowerCase()} ${m[2]}`, sql);
    const add = /^ALTER TABLE (\w+) ADD COLUMN (.+)$/s.exec(sql);
    if (!add) continue;
    const was = out.get(`table ${add[1]}`)!;
    const end = /, (PRIMARY KEY|UNIQUE|CHECK|FOREIGN KEY|CONSTRAINT) /.exec(was)?.index ?? was.lastIndexOf(")");
    out.set(`table ${add[1]}`, `${was.slice(0, end)}, ${add[2]}${was.slice(end)}`);
  }
  return out;
}
