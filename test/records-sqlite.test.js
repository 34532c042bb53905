// The record store on real SQLite (store/records/sqlite.ts): every record kind round-trips, a serial is unique by
// the database's own constraint, the list filters are answered by an index, transactions are all-or-nothing.
import test from "ava";
import { chmodSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { ROOT, tempDir } from "./_helpers.js";
import {
  clean, entry, newStore, NameTakenError, RECORDS, rootEntry, SerialTakenError, SqliteStore, sqlite,
} from "./_records.js";

const { listQuery } = await import(join(RECORDS, "sqlite-rows.js"));
const Database = createRequire(join(ROOT, "package.json"))("better-sqlite3");

const CERT = Buffer.from("3003020105", "hex"); // one DER SEQUENCE: the shape a blob must have
const KEY = Buffer.from("30073002050004 01aa".replace(/ /g, ""), "hex"); // EncryptedPrivateKeyInfo's shape
const TOKEN = "t".repeat(43);
const account = { id: "acct1", jwk: { kty: "EC", crv: "P-256", x: "x", y: "y" }, thumbprint: "tp", status: "valid",
  contact: ["mailto:ops@example.com"], eab: "team", created: "2026-05-01T00:00:00.000Z" };
const authz = { id: "az1", account: "acct1", identifier: { type: "dns", value: "a.example" },
  expires: "2026-05-02T00:00:00.000Z", status: "valid",
  challenges: [{ type: "http-01", token: TOKEN, status: "valid", validated: "2026-05-01T00:01:00.000Z" }] };
const order = { id: "ord1", account: "acct1", expires: "2026-05-02T00:00:00.000Z",
  identifiers: [{ type: "dns", value: "a.example" }], authzs: ["az1"], created: "2026-05-01T00:00:00.000Z",
  status: "valid", cert: "acme-0a1b" };

test("every record kind written in one transaction reads back equal", async (t) => {
  const { store } = await newStore(t);
  const inter = entry("inter", { kind: "ca", pathLength: 0, usage: undefined, alias: "intermediate_ca" });
  const web = entry("web", { issuer: "inter", eku: ["1.3.6.1.5.5.7.3.1"], external: true,
    acme: { account: "acct1", order: "ord1" } });
  const gone = { name: "old", serial: "0bad", issuer: "ca", notBefore: web.notBefore, notAfter: web.notAfter,
    revoked: { date: "2026-05-05T00:00:00.000Z", reason: "superseded" } };
  const past = { serial: "0c", issuer: "inter", notBefore: web.notBefore, notAfter: web.notAfter };
  const eab = { kid: "team", hmac: "h".repeat(43), created: "2026-05-01T00:00:00.000Z", account: "acct1",
    bound: "2026-05-01T00:00:01.000Z" };
  await store.write(async (tx) => {
    for (const e of [rootEntry(), inter, web]) { await tx.putEntry(e); await tx.reserveSerial(e.serial); }
    await tx.addHistory("web", past);
    await tx.addRemoved(gone);
    await tx.setSerialFloor("ff");
    await tx.putBlob({ name: "web", kind: "cert" }, CERT);
    await tx.putBlob({ name: "web", kind: "key" }, KEY);
    await tx.putBlob({ name: "web", kind: "csr", serial: "0c" }, CERT);
    t.is(await tx.nextCrlNumber("inter"), 1);
    t.is(await tx.nextCrlNumber("inter"), 2);
    await tx.putCrl("inter", CERT);
    for (const [k, o] of [["accounts", account], ["authz", authz], ["orders", order]]) await tx.acmePut(k, o);
    await tx.putEab(eab);
  });
  await store.read(async (tx) => {
    t.deepEqual(await tx.depot(), { kdf: { salt: Buffer.alloc(16, 7).toString("base64"), iterations: 600_000 },
      created: "2026-01-02T03:04:05.006Z", serialFloor: "ff" });
    t.deepEqual(await tx.entry("web"), clean(web));
    t.deepEqual(await tx.entry("inter"), clean(inter));
    t.deepEqual(await tx.entryFolded("WEB"), clean(web));
    t.deepEqual(await tx.entryBySerial(web.serial), clean(web));
    t.deepEqual(await tx.entryByAcmeOrder("ord1"), clean(web));
    t.deepEqual(await tx.history("web"), [past]);
    t.deepEqual(await collect(tx.removed()), [gone]);
    t.true(await tx.hasSerial(web.serial));
    t.false(await tx.hasSerial("0d"));
    t.is(await tx.serialCount(), 3);
    t.deepEqual(Buffer.from(await tx.blob({ name: "web", kind: "cert" })), CERT);
    t.deepEqual(Buffer.from(await tx.blob({ name: "web", kind: "key" })), KEY);
    t.deepEqual(Buffer.from(await tx.blob({ name: "web", kind: "csr", serial: "0c" })), CERT);
    t.is(await tx.blob({ name: "web", kind: "csr" }), undefined);
    const crl = await tx.crl("inter");
    t.deepEqual([crl.number, Buffer.from(crl.der)], [2, CERT]);
    t.deepEqual(await tx.acmeGet("accounts", "acct1"), account);
    t.deepEqual(await tx.acmeGet("authz", "az1"), authz);
    t.deepEqual(await tx.acmeGet("orders", "ord1"), order);
    t.deepEqual(await collect(tx.acmeList("orders")), [order]);
    t.deepEqual(await tx.eab("team"), eab);
  });
});

test("revocation, renewal's blob retirement, rm and the CRL list of an issuer", async (t) => {
  const { store } = await newStore(t);
  const web = entry("web");
  await store.write(async (tx) => {
    await tx.putEntry(rootEntry());
    await tx.putEntry(web);
    await tx.putBlob({ name: "web", kind: "cert" }, CERT);
    await tx.addHistory("web", { serial: "0c", issuer: "ca", notBefore: web.notBefore, notAfter: web.notAfter });
    t.true(await tx.revoke("web", "0c", { date: "2026-05-05T00:00:00.000Z", reason: "keyCompromise" }));
    t.true(await tx.revoke("web", web.serial, { date: "2026-05-06T00:00:00.000Z", reason: "superseded" }));
    t.false(await tx.revoke("web", "0d", { date: "2026-05-06T00:00:00.000Z", reason: "superseded" }));
    await tx.retireBlob("web", "cert", web.serial);
  });
  await store.read(async (tx) => {
    const e = await tx.entry("web");
    t.deepEqual([e.status, e.revoked], ["revoked", { date: "2026-05-06T00:00:00.000Z", reason: "superseded" }]);
    t.deepEqual((await collect(tx.revokedBy("ca"))).map((r) => r.serial).sort(), ["0c", web.serial].sort());
    t.is(await tx.blob({ name: "web", kind: "cert" }), undefined);
    t.truthy(await tx.blob({ name: "web", kind: "cert", serial: web.serial }));
  });
  await store.write(async (tx) => tx.deleteEntry("web"));
  await store.read(async (tx) => {
    t.is(await tx.entry("web"), undefined);
    t.deepEqual(await tx.history("web"), []);
  });
});

test("a serial is unique by the database's constraint: twice is an error, from the sqlite3 shell too", async (t) => {
  const { store, db } = await newStore(t);
  await store.write(async (tx) => tx.reserveSerial("0a"));
  const e = await t.throwsAsync(store.write(async (tx) => {
    await tx.reserveSerial("0b");
    await tx.reserveSerial("0a");
  }));
  t.true(e instanceof SerialTakenError);
  t.is(e.message, "serial 0a is already recorded in the depot");
  t.false(await store.read((tx) => tx.hasSerial("0b")), "the failed transaction left nothing");
  await store.close();
  const r = await import("./_helpers.js").then((h) => h.run("sqlite3", [db, "INSERT INTO serials VALUES ('0a')"]));
  t.not(r.code, 0);
  t.regex(r.stderr, /UNIQUE constraint failed: serials\.serial/);
});

test("a name is unique ignoring case", async (t) => {
  const { store } = await newStore(t);
  await store.write(async (tx) => { await tx.putEntry(rootEntry()); await tx.putEntry(entry("Web")); });
  const e = await t.throwsAsync(store.write(async (tx) => tx.putEntry(entry("web"))));
  t.true(e instanceof NameTakenError);
  t.regex(e.message, /"web" already exists in the depot \(as "Web"/);
});

test("list filters by status, expiry and issuer, each through its index (EXPLAIN QUERY PLAN), in pages", async (t) => {
  const { store, db } = await newStore(t);
  await store.write(async (tx) => {
    await tx.putEntry(rootEntry());
    await tx.putEntry(entry("inter", { kind: "ca", usage: undefined }));
    for (let i = 0; i < 50; i++)
      await tx.putEntry(entry(`h${String(i).padStart(2, "0")}`, { days: i + 1, issuer: i % 2 ? "inter" : undefined,
        status: i % 5 ? "signed" : "revoked", ...(i % 5 ? {} : { revoked: { date: "2026-05-05T00:00:00.000Z",
          reason: "superseded" } }) }));
  });
  const names = async (f) => (await collect(store.list(f, { pageSize: 7 }))).map((e) => e.name);
  t.is((await names({})).length, 52);
  const revoked = [0, 5, 10, 15, 20, 25, 30, 35, 40, 45].map((i) => `h${String(i).padStart(2, "0")}`);
  t.deepEqual(await names({ status: "revoked" }), revoked);
  t.deepEqual(await names({ expiringBefore: new Date("2026-06-04T12:00:00Z") }), ["h00", "h01", "h02"]);
  t.is((await names({ issuer: "inter" })).length, 25);
  t.is((await names({ issuer: "ca" })).length, 26, "the root's leaves and the intermediate (the root itself: none)");
  t.is(await store.read((tx) => tx.count({ issuer: "inter", status: "revoked" })), 5);

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

test("a failed write leaves nothing; concurrent transactions on one store run one at a time", async (t) => {
  const { store } = await newStore(t);
  const boom = store.write(async (tx) => {
    await tx.putEntry(rootEntry());
    throw new Error("boom");
  });
  await t.throwsAsync(boom, { message: "boom" });
  t.is(await store.read((tx) => tx.entry("ca")), undefined);
  const seen = [];
  await Promise.all([1, 2, 3].map((i) => store.write(async (tx) => {
    seen.push(`begin ${i}`);
    await new Promise((r) => setTimeout(r, 5));
    await tx.reserveSerial(`0${i}`);
    seen.push(`end ${i}`);
  })));
  t.deepEqual(seen, ["begin 1", "end 1", "begin 2", "end 2", "begin 3", "end 3"]);
  await t.throwsAsync(store.write(async () => store.read(async () => 1)), { message: /inside a transaction/ });
});

test("a nonce is taken once, and not after it expires", async (t) => {
  const { store } = await newStore(t);
  const soon = new Date(Date.now() + 60_000);
  await store.write(async (tx) => {
    await tx.putNonce("n1", soon);
    await tx.putNonce("n2", new Date(Date.now() - 1));
  });
  t.true(await store.write((tx) => tx.takeNonce("n1")));
  t.false(await store.write((tx) => tx.takeNonce("n1")));
  t.false(await store.write((tx) => tx.takeNonce("n2")));
  t.false(await store.write((tx) => tx.takeNonce("unknown")));
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

async function collect(it) {
  const out = [];
  for await (const x of it) out.push(x);
  return out;
}

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
  t.is((await sqlite(t, db, "PRAGMA user_version")).trim(), "1");
  const tables = "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name)";
  t.is((await sqlite(t, db, tables)).trim(), "acme blobs crls depot eab entries history nonces removed serials");
});
