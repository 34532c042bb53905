/**
 * The PostgreSQL schema of a depot: the same tables and columns as depot.db (sqlite-ddl.ts), so rows read back
 * take the same shape and pass the same checks. Dates stay ISO text and JSON stays text, as in SQLite: what is
 * validated is the exact string pki wrote. pki_schema says the schema is pki's and which version it holds.
 */

export const SCHEMA_VERSION = 4;

/** The marker table, made first: a schema holding it (and only pki's relations) is a pki depot. */
export const SCHEMA_MARK = `CREATE TABLE pki_schema (
  id integer PRIMARY KEY CHECK (id = 1), app text NOT NULL CHECK (app = 'pki'), version integer NOT NULL
)`;

const SCHEMA_V1: readonly string[] = [
  `CREATE TABLE depot (
  id integer PRIMARY KEY CHECK (id = 1),
  kdf_salt text NOT NULL, kdf_iterations integer NOT NULL, created text NOT NULL, serial_floor text
)`,
  `CREATE TABLE entries (
  name text PRIMARY KEY, name_fold text NOT NULL UNIQUE, kind text NOT NULL, issuer text,
  issued_by text GENERATED ALWAYS AS (CASE WHEN name = 'ca' THEN NULL ELSE coalesce(issuer, 'ca') END) STORED,
  subject text NOT NULL, key_type text NOT NULL, sans text NOT NULL, status text NOT NULL, created text NOT NULL,
  serial text, not_before text, not_after text, usage text, eku text, path_length integer,
  revoked_date text, revoked_reason text, alias text, external integer, acme_account text, acme_order text
)`,
  `CREATE INDEX entries_status ON entries (status, name)`,
  `CREATE INDEX entries_not_after ON entries (not_after, name)`,
  `CREATE INDEX entries_issued_by ON entries (issued_by, name)`,
  `CREATE INDEX entries_serial ON entries (serial)`,
  `CREATE INDEX entries_acme_order ON entries (acme_order)`,
  `CREATE TABLE serials (serial text PRIMARY KEY)`,
  `CREATE TABLE history (
  name text NOT NULL REFERENCES entries (name) ON DELETE CASCADE, seq integer NOT NULL,
  serial text NOT NULL, issuer text NOT NULL, not_before text NOT NULL, not_after text NOT NULL,
  revoked_date text, revoked_reason text, PRIMARY KEY (name, seq)
)`,
  `CREATE INDEX history_issuer ON history (issuer, revoked_date)`,
  `CREATE TABLE removed (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, serial text NOT NULL,
  issuer text NOT NULL, not_before text NOT NULL, not_after text NOT NULL, revoked_date text, revoked_reason text
)`,
  `CREATE INDEX removed_issuer ON removed (issuer, revoked_date)`,
  `CREATE TABLE blobs (
  name text NOT NULL, kind text NOT NULL, serial text NOT NULL, data bytea NOT NULL, PRIMARY KEY (name, kind, serial)
)`,
  `CREATE TABLE crls (issuer text PRIMARY KEY, number bigint NOT NULL, der bytea)`,
  `CREATE TABLE acme (kind text NOT NULL, id text NOT NULL, account text, body text NOT NULL, PRIMARY KEY (kind, id))`,
  `CREATE TABLE eab (kid text PRIMARY KEY, hmac text NOT NULL, created text NOT NULL, account text, bound text)`,
  `CREATE TABLE nonces (nonce text PRIMARY KEY, expires bigint NOT NULL)`,
];

/** Version 2: a CA's CRL distribution point URL (`pki init --crl-url`), put in what it issues. */
const SCHEMA_V2: readonly string[] = [`ALTER TABLE entries ADD COLUMN crl_url text`];

/**
 * A migration's fill from the JSON bodies, one row `r` of `rows` at a time, each body cast to jsonb on its own: one
 * that is not JSON (damage the reads and `pki doctor` report) leaves its row unfilled rather than failing the
 * migration.
 */
const eachBody = (rows: string, update: string) => `DO $$ DECLARE r record; BEGIN
  FOR r IN ${rows} LOOP
    BEGIN
      ${update};
    EXCEPTION WHEN invalid_text_representation OR untranslatable_character THEN NULL;
    END;
  END LOOP;
END $$`;
/** The string at `key` of r.body, or NULL. */
const textIn = (key: string) =>
  `CASE WHEN jsonb_typeof(r.body::jsonb -> '${key}') = 'string' THEN r.body::jsonb ->> '${key}' END`;

/**
 * Version 3: an ACME account's key (its thumbprint) and an order's account are looked up by index (sqlite-ddl.ts
 * says why), each account's thumbprint filled from its body.
 */
const SCHEMA_V3: readonly string[] = [
  `ALTER TABLE acme ADD COLUMN thumbprint text`,
  `CREATE INDEX acme_thumbprint ON acme (kind, thumbprint, id)`,
  `CREATE INDEX acme_account ON acme (kind, account, id)`,
  eachBody(`SELECT id, body FROM acme WHERE kind = 'accounts'`, `UPDATE acme SET thumbprint = ${
    textIn("thumbprint")} WHERE kind = 'accounts' AND id = r.id`),
];

/**
 * Version 4: the entry an ACME certificate replaced is recorded with its entry (sqlite-ddl.ts says why), filled
 * from each entry's order in one pass.
 */
const SCHEMA_V4: readonly string[] = [
  `ALTER TABLE entries ADD COLUMN acme_replaces text`,
  eachBody(`SELECT e.name, a.body FROM entries e JOIN acme a ON a.kind = 'orders' AND a.id = e.acme_order`,
    `UPDATE entries SET acme_replaces = ${textIn("replacesCert")} WHERE name = r.name`),
];

/** MIGRATIONS[v] takes version v to v + 1, in the one transaction that records v + 1. Version 0: only the mark. */
export const MIGRATIONS: Record<number, readonly string[]> = {
  0: SCHEMA_V1, 1: SCHEMA_V2, 2: SCHEMA_V3, 3: SCHEMA_V4,
};

/**
 * The relations (pg_class kind and name) a schema of the current version holds: tables, their indexes
 * (including those of primary keys and UNIQUE constraints) and the identity sequence. Anything else is foreign.
 */
export function expectedRelations(): Set<string> {
  const out = new Set<string>(["r pki_schema", "i pki_schema_pkey"]);
  for (const sql of Object.values(MIGRATIONS).flat()) {
    const m = /^CREATE (TABLE|INDEX) (\w+)/.exec(sql);
    if (!m) continue; // ALTER TABLE: no new relation
    if (m[1] === "INDEX") { out.add(`i ${m[2]}`); continue; }
    out.add(`r ${m[2]}`);
    if (/PRIMARY KEY/.test(sql)) out.add(`i ${m[2]}_pkey`);
  }
  out.add("i entries_name_fold_key");
  out.add("S removed_seq_seq");
  return out;
}
