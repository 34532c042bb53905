// ACME accounts found by their key and orders by their account through an index (schema version 3): a version-2
// depot.db and a version-2 PostgreSQL schema (made with version 2's own DDL) are migrated, their accounts then
// found by key; an account row whose thumbprint column was edited with the sqlite3 shell is reported by
// `pki doctor` and refused by the look-up; the look-ups walk their index (EXPLAIN). Their own cases, on both
// backends: _records-cases.js.
import test from "ava";
import { chmodSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pki, ROOT, run, tempDir } from "./_helpers.js";
import { account, order } from "./_records-cases.js";
import { depotRecord, newStore, RECORDS, SqliteStore, sqlite } from "./_records.js";
import { BIN, ROLE, ROLE_PASS, useCluster } from "./_postgres.js";
import { cheapDepot, env } from "./_stress.js";
import { sqlite as depotSql } from "./_state.js";

const Database = createRequire(join(ROOT, "package.json"))("better-sqlite3");
const { PgStore } = await import(join(RECORDS, "postgres.js"));
const pg = useCluster(test);

const acct = (i) => ({ ...account, id: `acct${i}`, thumbprint: `tp${i}` });
/** Version 2's acme rows (no thumbprint column): 50 accounts, an order of acct1, and an account that is not JSON. */
const V2_ROWS = [
  ...Array.from({ length: 50 }, (_, i) => ["accounts", `acct${i}`, null, JSON.stringify(acct(i))]),
  ["orders", "ord1", "acct1", JSON.stringify({ ...order, account: "acct1" })],
  ["accounts", "junk", null, "{"],
];

/** The look-ups on a store migrated from V2_ROWS. */
async function migratedLookups(t, store) {
  await store.read(async (tx) => {
    t.deepEqual(await tx.acmeAccountByThumbprint("tp42"), acct(42));
    t.deepEqual(await tx.acmeAccountByThumbprint("tp0"), acct(0));
    t.is(await tx.acmeAccountByThumbprint("tp50"), undefined);
    t.deepEqual((await tx.acmeOrdersOf("acct1")).map((o) => o.id), ["ord1"]);
  });
}

test("a version-2 depot.db is migrated to 3 in one transaction: its accounts are found by key", async (t) => {
  const { MIGRATIONS } = await import(join(RECORDS, "sqlite-ddl.js"));
  const dir = tempDir(t, "pki-records-");
  chmodSync(dir, 0o700);
  const file = join(dir, "depot.db");
  const db = new Database(file);
  db.pragma("application_id = 1886087492");
  db.pragma("journal_mode = WAL");
  for (const sql of [...MIGRATIONS[0], ...MIGRATIONS[1]]) db.exec(sql);
  db.prepare("INSERT INTO depot VALUES (1, ?, 1000, '2026-01-01T00:00:00.000Z', NULL)").run(depotRecord().kdf.salt);
  const put = db.prepare("INSERT INTO acme (kind, id, account, body) VALUES (?, ?, ?, ?)");
  for (const row of V2_ROWS) put.run(...row);
  db.pragma("user_version = 2");
  db.close();
  const store = await SqliteStore.open(dir);
  t.teardown(() => store.close());
  t.is((await sqlite(t, file, "PRAGMA user_version")).trim(), "4");
  await migratedLookups(t, store);
  t.is((await sqlite(t, file, "SELECT count(thumbprint) FROM acme")).trim(), "50", "the junk row got none");
  const schema = "SELECT group_concat(sql, ';') FROM (SELECT sql FROM sqlite_schema ORDER BY name)";
  t.is(await sqlite(t, file, schema), await sqlite(t, (await newStore(t)).db, schema), "exactly a new depot's schema");
});

test("a version-2 PostgreSQL depot is migrated to 3 in one transaction: its accounts are found by key", async (t) => {
  const { SCHEMA_MARK, MIGRATIONS } = await import(join(RECORDS, "postgres-ddl.js"));
  const db = await pg.db();
  const lit = (v) => (v === null ? "NULL" : `'${v.replace(/'/g, "''")}'`);
  const v2 = [SCHEMA_MARK, "INSERT INTO pki_schema VALUES (1, 'pki', 2)", ...MIGRATIONS[0], ...MIGRATIONS[1],
    `INSERT INTO depot VALUES (1, '${depotRecord().kdf.salt}', 1000, '2026-01-01T00:00:00.000Z', NULL)`,
    ...[...V2_ROWS, ["accounts", "nul", null, '{"thumbprint":"\\u0000"}']]
      .map((r) => `INSERT INTO acme (kind, id, account, body) VALUES (${r.map(lit).join(", ")})`)];
  const psql = (sql) => run(join(BIN, "psql"), ["-h", "127.0.0.1", "-p", String(pg.port), "-U", ROLE, "-d", db,
    "-v", "ON_ERROR_STOP=1", "-XAtq", "-c", sql], { env: { ...process.env, PGPASSWORD: ROLE_PASS } });
  const made = await psql(v2.join("; "));
  t.is(made.code, 0, made.stderr);
  const store = await PgStore.open(pg.url(db));
  t.teardown(() => store.close());
  t.is((await psql("SELECT version FROM pki_schema")).out.trim(), "4");
  await migratedLookups(t, store);
  t.is((await psql("SELECT count(thumbprint) FROM acme")).out.trim(), "50", "the rows that are not JSON got none");
});

test("pki doctor reports an account whose thumbprint column was edited to another's key; the look-up refuses it",
  async (t) => {
  const dir = await cheapDepot(t);
  const rows = [1, 2].map((i) => `('accounts', 'acct${i}', NULL, 'tp${i}', '${JSON.stringify(acct(i))}')`);
  await depotSql(dir, `INSERT INTO acme (kind, id, account, thumbprint, body) VALUES ${rows.join(", ")}`);
  t.is((await pki(dir, ["doctor"], { env })).code, 0, "a consistent index is no problem");
  await depotSql(dir, "UPDATE acme SET thumbprint = 'tp2' WHERE id = 'acct1'");
  const d = await pki(dir, ["doctor"], { env });
  t.is(d.code, 1);
  t.regex(d.out, /^depot\.db: ACME account "acct1" is not found by its key: its thumbprint column differs from/m);
  t.regex(d.out, /^depot\.db: acme\.accounts\["acct1"\]\.thumbprint differs from the index it was found by/m);
  const store = await SqliteStore.open(join(dir, ".pki"));
  t.teardown(() => store.close());
  const e = await t.throwsAsync(store.read((tx) => tx.acmeAccountByThumbprint("tp2")));
  t.is(e.message, "depot.db is damaged: acme.accounts[\"acct1\"].thumbprint differs from the index it was found by: " +
    "run 'pki doctor'");
});

test("the look-ups walk their index, not the acme table (EXPLAIN; PostgreSQL with seq and bitmap scans off)",
  async (t) => {
  const { acmeFiledQuery } = await import(join(RECORDS, "sqlite-rows.js"));
  const { dollars } = await import(join(RECORDS, "postgres-tx.js"));
  const want = { accounts: /acme_thumbprint/, orders: /acme_account/ };
  const plan = new Database((await newStore(t)).db, { readonly: true });
  t.teardown(() => plan.close());
  for (const kind of ["accounts", "orders"]) {
    const detail = plan.prepare(`EXPLAIN QUERY PLAN ${acmeFiledQuery(kind)}`).all("x").map((r) => r.detail).join("; ");
    t.regex(detail, new RegExp(`USING (COVERING )?INDEX ${want[kind].source}`), detail);
    t.notRegex(detail, /TEMP B-TREE/, detail);
  }
  const db = await pg.db();
  const store = await PgStore.create(pg.url(db), depotRecord());
  t.teardown(() => store.close());
  const client = new (createRequire(join(ROOT, "package.json"))("pg").Client)({ connectionString: pg.url(db) });
  await client.connect();
  t.teardown(() => client.end());
  await client.query("SET enable_seqscan = off; SET enable_bitmapscan = off");
  for (const kind of ["accounts", "orders"]) {
    const rows = (await client.query(`EXPLAIN ${dollars(acmeFiledQuery(kind))}`, ["x"])).rows;
    const detail = rows.map((r) => r["QUERY PLAN"]).join("; ");
    t.regex(detail, want[kind], detail);
  }
});
