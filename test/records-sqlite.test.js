// The record store on real SQLite (store/records/sqlite.ts): the cases every backend passes (_records-cases.js:
// every record kind round-trips, a serial is unique by the database's own constraint, list filters, all-or-nothing
// transactions, nonces), plus SQLite's own: the filters walk their index, one process's transactions run one at a
// time, online backup, migration of an older file.
import test from "ava";
import { chmodSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { ROOT, run, tempDir } from "./_helpers.js";
import { clean, depotRecord, entry, newStore, RECORDS, rootEntry, SqliteStore, sqlite } from "./_records.js";
import { recordStoreCases } from "./_records-cases.js";

const { listQuery } = await import(join(RECORDS, "sqlite-rows.js"));
const Database = createRequire(join(ROOT, "package.json"))("better-sqlite3");

recordStoreCases(test, {
  async newStore(t) {
    const s = await newStore(t);
    return { ...s, raw: (sql) => run("sqlite3", [s.db, sql]) };
  },
  uniqueRefusal: /UNIQUE constraint failed: serials\.serial/,
});

test("each list filter walks its index (EXPLAIN QUERY PLAN)", async (t) => {
  const { store, db } = await newStore(t);
  await store.write(async (tx) => {
    await tx.putEntry(rootEntry());
    await tx.putEntry(entry("inter", { kind: "ca", usage: undefined }));
    for (let i = 0; i < 20; i++)
      await tx.putEntry(entry(`h${i}`, { days: i + 1, issuer: i % 2 ? "inter" : undefined }));
  });
  const plan = new Database(db, { readonly: true });
  t.teardown(() => plan.close());
  const explain = (f, after) => {
    const { sql, params } = listQuery(f, after, 100);
    return plan.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params).map((r) => r.detail).join("; ");
  };
  const after = { name: "h10", notAfter: "2026-06-11T00:00:00.000Z" };
  t.regex(explain({ status: "revoked" }, after), /USING INDEX entries_status/);
  t.regex(explain({ expiringBefore: new Date() }, after), /USING INDEX entries_not_after/);
  t.regex(explain({ issuer: "inter" }, after), /USING INDEX entries_issued_by/);
  for (const f of [{ status: "signed" }, { expiringBefore: new Date() }, { issuer: "ca" }, {}])
    t.notRegex(explain(f, after), /TEMP B-TREE|SCAN entries(?! USING)/, JSON.stringify(f));
});

test("concurrent transactions on one store run one at a time", async (t) => {
  const { store } = await newStore(t);
  const seen = [];
  await Promise.all([1, 2, 3].map((i) => store.write(async (tx) => {
    seen.push(`begin ${i}`);
    await new Promise((r) => setTimeout(r, 5));
    await tx.reserveSerial(`0${i}`);
    seen.push(`end ${i}`);
  })));
  t.deepEqual(seen, ["begin 1", "end 1", "begin 2", "end 2", "begin 3", "end 3"]);
});

test("backup makes a consistent depot.db that opens as a store", async (t) => {
  const { store, dir } = await newStore(t);
  await store.write(async (tx) => { await tx.putEntry(rootEntry()); await tx.reserveSerial("01"); });
  await store.backup(join(dir, "copy.db"));
  t.is(readFileSync(join(dir, "copy.db")).subarray(0, 16).toString("latin1"), "SQLite format 3\0");
  const { mkdtempSync, renameSync, chmodSync } = await import("node:fs");
  const other = mkdtempSync(join(dir, "restored-"));
  chmodSync(other, 0o700);
  renameSync(join(dir, "copy.db"), join(other, "depot.db"));
  const copy = await SqliteStore.open(other);
  t.teardown(() => copy.close());
  t.deepEqual(await copy.read((tx) => tx.entry("ca")), clean(rootEntry()));
  t.true(await copy.read((tx) => tx.hasSerial("01")));
});

test("an older schema (version 0: pki's but empty) is migrated on open, in one transaction", async (t) => {
  const dir = tempDir(t, "pki-records-");
  chmodSync(dir, 0o700);
  const db = join(dir, "depot.db");
  await sqlite(t, db, "PRAGMA application_id = 1886087492; PRAGMA journal_mode = WAL;");
  t.is((await sqlite(t, db, "PRAGMA user_version")).trim(), "0");
  const store = await SqliteStore.open(dir);
  const e = await t.throwsAsync(store.read((tx) => tx.depot()));
  t.is(e.message, "depot.db is damaged: depot is missing: run 'pki doctor'");
  await store.close();
  t.is((await sqlite(t, db, "PRAGMA user_version")).trim(), "4");
  const tables = "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name)";
  t.is((await sqlite(t, db, tables)).trim(), "acme blobs crls depot eab entries history nonces removed serials");
});

test("a version-1 depot.db (before CRL URLs) is migrated to 2 in one transaction, its records kept", async (t) => {
  const { MIGRATIONS } = await import(join(RECORDS, "sqlite-ddl.js"));
  const v1 = (dir) => {
    chmodSync(dir, 0o700);
    const db = new Database(join(dir, "depot.db"));
    db.pragma("application_id = 1886087492");
    db.pragma("journal_mode = WAL");
    for (const sql of MIGRATIONS[0]) db.exec(sql);
    db.prepare("INSERT INTO depot VALUES (1, ?, 1000, '2026-01-01T00:00:00.000Z', NULL)").run(depotRecord().kdf.salt);
    db.prepare("INSERT INTO entries (name, name_fold, kind, subject, key_type, sans, status, created) VALUES " +
      "('ca', 'ca', 'ca', 'CN=Old', 'ecdsa-p256', '{\"ips\":[],\"domains\":[]}', 'unsigned', ?)")
      .run("2026-01-01T00:00:00.000Z");
    db.pragma("user_version = 1");
    return db;
  };
  const dir = tempDir(t, "pki-records-");
  v1(dir).close();
  const store = await SqliteStore.open(dir);
  t.teardown(() => store.close());
  t.is((await store.read((tx) => tx.entry("ca"))).subject, "CN=Old");
  await store.write(async (tx) => tx.putEntry({ ...(await tx.entry("ca")), crlUrl: "http://ca.test/ca.crl" }));
  t.is((await store.read((tx) => tx.entry("ca"))).crlUrl, "http://ca.test/ca.crl");
  t.is((await sqlite(t, join(dir, "depot.db"), "PRAGMA user_version")).trim(), "4");
  // the migrated file's schema is exactly a new depot's (checked on every open)
  const schema = "SELECT group_concat(sql, ';') FROM (SELECT sql FROM sqlite_schema ORDER BY name)";
  const fresh = (await newStore(t)).db;
  t.is(await sqlite(t, join(dir, "depot.db"), schema), await sqlite(t, fresh, schema));
  // a migration that fails leaves version 1 and its rows
  const bad = tempDir(t, "pki-records-");
  const db = v1(bad);
  db.exec("ALTER TABLE entries ADD COLUMN crl_url TEXT"); // the migration's own statement then fails
  db.close();
  await t.throwsAsync(SqliteStore.open(bad));
  t.is((await sqlite(t, join(bad, "depot.db"), "PRAGMA user_version")).trim(), "1");
  t.is((await sqlite(t, join(bad, "depot.db"), "SELECT subject FROM entries")).trim(), "CN=Old");
});
