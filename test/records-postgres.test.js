// The record store on a real PostgreSQL (store/records/postgres.ts), one throwaway cluster for this file
// (test/_postgres.js), a database per test: the cases every backend passes (_records-cases.js), then PostgreSQL's
// own: how the password is found and never echoed, an unreachable server, a schema that is not pki's or is newer,
// a row edited with psql, several processes and connections at once, and a restart in the middle of a write.
import test from "ava";
import { createRequire } from "node:module";
import { writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { ROOT, run, tempDir } from "./_helpers.js";
import { depotRecord, entry, RECORDS, rootEntry } from "./_records.js";
import { collect, recordStoreCases } from "./_records-cases.js";
import { BIN, ROLE, ROLE_PASS, useCluster } from "./_postgres.js";

const { PgStore } = await import(join(RECORDS, "postgres.js"));
const { listQuery } = await import(join(RECORDS, "sqlite-rows.js"));
const { dollars } = await import(join(RECORDS, "postgres-tx.js"));
const { UnavailableError } = await import(join(RECORDS, "schema.js"));
const { DepotError } = await import(join(ROOT, "dist", "store", "fsutil.js"));
const pgDriver = createRequire(join(ROOT, "package.json"))("pg");

const pg = useCluster(test);

/** A new database holding a new, empty depot; `raw(sql)` runs psql in it as the pki role. */
async function newStore(t, { query = "", fill } = {}) {
  const db = await pg.db();
  const url = pg.url(db, { query });
  const store = await PgStore.create(url, depotRecord(), fill);
  t.teardown(() => store.close());
  const raw = (sql) => psqlAs(db, sql);
  return { db, url, store, raw };
}
const psqlAs = (db, sql) => run(join(BIN, "psql"), ["-h", "127.0.0.1", "-p", String(pg.port),
  "-U", ROLE, "-d", db, "-v", "ON_ERROR_STOP=1", "-XAtq", "-c", sql],
  { env: { ...process.env, PGPASSWORD: ROLE_PASS } });

/** `p` fails with one line matching `re` (a DepotError: never the driver's words), without `secret` in it. */
async function oneLine(t, p, re, secret = ROLE_PASS) {
  const e = await t.throwsAsync(p);
  t.true(e instanceof DepotError, `${e.constructor.name}: ${e.message}`);
  t.regex(e.message, re);
  t.false(e.message.includes("\n"), "one line");
  t.false(e.message.includes(secret), "the password is not echoed");
  return e;
}

recordStoreCases(test, {
  newStore: (t) => newStore(t),
  uniqueRefusal: /duplicate key value violates unique constraint "serials_pkey"/,
});

test("each list filter can walk its index in order (EXPLAIN, seq and bitmap scans off): no sort", async (t) => {
  const { url, store } = await newStore(t);
  await store.write(async (tx) => { await tx.putEntry(rootEntry()); await tx.putEntry(entry("web")); });
  const client = new pgDriver.Client({ connectionString: url });
  await client.connect();
  t.teardown(() => client.end());
  await client.query("SET enable_seqscan = off; SET enable_bitmapscan = off");
  const explain = async (f, after) => {
    const { sql, params } = listQuery(f, after, 100);
    return (await client.query(`EXPLAIN ${dollars(sql)}`, params)).rows.map((r) => r["QUERY PLAN"]).join("; ");
  };
  const after = { name: "h10", notAfter: "2026-06-11T00:00:00.000Z" };
  t.regex(await explain({ status: "revoked" }, after), /Index Scan using entries_status/);
  t.regex(await explain({ expiringBefore: new Date() }, after), /Index Scan using entries_not_after/);
  t.regex(await explain({ issuer: "inter" }, after), /Index Scan using entries_issued_by/);
  for (const f of [{ status: "signed" }, { expiringBefore: new Date() }, { issuer: "ca" }, {}])
    t.notRegex(await explain(f, after), /Sort|Seq Scan/, JSON.stringify(f));
});

test("the password comes from the URL, else PGPASSWORD, else ~/.pgpass (PGPASSFILE, 0600)", async (t) => {
  const { db, store } = await newStore(t);
  await store.close();
  const bare = pg.url(db, { pass: null });
  const count = async () => {
    const s = await PgStore.open(bare);
    try { return await s.read((tx) => tx.count()); } finally { await s.close(); }
  };
  const env = { PGPASSWORD: process.env.PGPASSWORD, PGPASSFILE: process.env.PGPASSFILE };
  t.teardown(() => Object.assign(process.env, env));
  const file = join(tempDir(t), "pgpass");
  writeFileSync(file, `127.0.0.1:${pg.port}:${db}:${ROLE}:${ROLE_PASS.replace(/:/g, "\\:")}\n`);
  chmodSync(file, 0o600);
  delete process.env.PGPASSWORD;
  process.env.PGPASSFILE = join(tempDir(t), "none");
  await oneLine(t, PgStore.open(bare),
    /^cannot log in to PostgreSQL at postgresql:\/\/pki@127\.0\.0\.1:\d+\/\w+: no password/);
  process.env.PGPASSWORD = ROLE_PASS;
  t.is(await count(), 0, "PGPASSWORD");
  delete process.env.PGPASSWORD;
  process.env.PGPASSFILE = file;
  t.is(await count(), 0, "the password file");
  chmodSync(file, 0o644);
  await oneLine(t, PgStore.open(bare), /: no password \(in the URL, PGPASSWORD or ~\/\.pgpass of mode 0600\)$/);
});

test("a wrong password is one line that names the server, not the password", async (t) => {
  const { db } = await newStore(t);
  const secret = "Wr0ng-s3cret-value";
  const e = await oneLine(t, PgStore.open(pg.url(db, { pass: secret })),
    /^cannot log in to PostgreSQL at postgresql:\/\/pki@127\.0\.0\.1:\d+\/\w+: wrong password, or no such role$/,
    secret);
  t.notRegex(e.message, /password authentication failed/, "not the server's words");
});

test("an unreachable server is one line (UnavailableError), a missing database another", async (t) => {
  const { db } = await newStore(t);
  const url = pg.url(db).replace(`:${pg.port}/`, ":1/");
  const e = await oneLine(t, PgStore.open(url),
    /^cannot reach PostgreSQL at postgresql:\/\/pki@127\.0\.0\.1:1\/\w+: connection refused$/);
  t.true(e instanceof UnavailableError);
  await oneLine(t, PgStore.open(pg.url("nosuchdb")),
    /^PostgreSQL at postgresql:\/\/pki@.*\/nosuchdb: no such database$/);
});

test("a schema holding a table that is not pki's is refused by create and open, and left as it was", async (t) => {
  const db = await pg.db();
  const r = await psqlAs(db, "CREATE TABLE invoices (id int PRIMARY KEY); INSERT INTO invoices VALUES (7)");
  t.is(r.code, 0, r.stderr);
  await oneLine(t, PgStore.create(pg.url(db), depotRecord()), /holds tables that are not a pki depot: refusing/);
  await oneLine(t, PgStore.open(pg.url(db)),
    /^PostgreSQL schema "public" at .* holds tables that are not a pki depot: refusing/);
  const tables = await psqlAs(db, "SELECT string_agg(tablename, ' ') FROM pg_tables WHERE schemaname = 'public'");
  t.is(tables.out.trim(), "invoices", "nothing created");
  const { store } = await newStore(t);
  await store.close();
  const { db: other } = await newStore(t);
  t.is((await psqlAs(other, "CREATE VIEW peek AS SELECT * FROM blobs")).code, 0);
  await oneLine(t, PgStore.open(pg.url(other)), /holds a foreign object peek: refusing to use it$/);
  await oneLine(t, PgStore.create(pg.url(other), depotRecord()), /holds a foreign object peek: refusing/);
  await psqlAs(other, "DROP VIEW peek");
  await oneLine(t, PgStore.create(pg.url(other), depotRecord()), /^a depot already exists at postgresql:\/\/pki@/);
});

test("a newer schema version is refused; an older one is migrated in one transaction", async (t) => {
  const { db, store } = await newStore(t);
  await store.close();
  t.is((await psqlAs(db, "UPDATE pki_schema SET version = 5")).code, 0);
  await oneLine(t, PgStore.open(pg.url(db)),
    /^PostgreSQL schema "public" at .* has schema version 5, newer than this pki understands \(4\): upgrade pki$/);
  const old = await pg.db();
  const { SCHEMA_MARK } = await import(join(RECORDS, "postgres-ddl.js"));
  const mark = `${SCHEMA_MARK}; INSERT INTO pki_schema VALUES (1, 'pki', 0)`;
  t.is((await psqlAs(old, mark)).code, 0);
  const s = await PgStore.open(pg.url(old));
  t.teardown(() => s.close());
  await oneLine(t, s.read((tx) => tx.depot()), /is damaged: depot is missing: run 'pki doctor'$/);
  t.is((await psqlAs(old, "SELECT version FROM pki_schema")).out.trim(), "4");
  t.is(await s.read((tx) => tx.count()), 0);
});

test("a version-1 depot (before CRL URLs) is migrated to 2 in one transaction, its records kept", async (t) => {
  const { SCHEMA_MARK, MIGRATIONS } = await import(join(RECORDS, "postgres-ddl.js"));
  const db = await pg.db();
  const row = `INSERT INTO depot VALUES (1, '${depotRecord().kdf.salt}', 1000, '2026-01-01T00:00:00.000Z', NULL)`;
  const v1 = [SCHEMA_MARK, "INSERT INTO pki_schema VALUES (1, 'pki', 1)", ...MIGRATIONS[0], row,
    "INSERT INTO entries (name, name_fold, kind, subject, key_type, sans, status, created) VALUES " +
      "('ca', 'ca', 'ca', 'CN=Old', 'ecdsa-p256', '{\"ips\":[],\"domains\":[]}', 'unsigned', " +
      "'2026-01-01T00:00:00.000Z')"];
  t.is((await psqlAs(db, v1.join("; "))).code, 0);
  const s = await PgStore.open(pg.url(db));
  t.teardown(() => s.close());
  t.is((await psqlAs(db, "SELECT version FROM pki_schema")).out.trim(), "4");
  t.is((await s.read((tx) => tx.entry("ca"))).subject, "CN=Old");
  await s.write(async (tx) => tx.putEntry({ ...(await tx.entry("ca")), crlUrl: "http://ca.test/ca.crl" }));
  t.is((await s.read((tx) => tx.entry("ca"))).crlUrl, "http://ca.test/ca.crl");
  t.is((await psqlAs(db, "UPDATE entries SET crl_url = 'ftp://x/' WHERE name = 'ca'")).code, 0);
  await oneLine(t, s.read((tx) => tx.entry("ca")), /is damaged: entries\["ca"\]\.crlUrl is not an http:\/\/ URL/);
  // A failing migration leaves version 1 and its rows: the DDL runs in the transaction that records 2.
  const bad = await pg.db();
  t.is((await psqlAs(bad, [...v1, "ALTER TABLE entries ADD COLUMN crl_url text"].join("; "))).code, 0);
  await oneLine(t, PgStore.open(pg.url(bad)), /./);
  t.is((await psqlAs(bad, "SELECT version FROM pki_schema")).out.trim(), "1");
});

test("?schema=NAME keeps two depots apart in one database", async (t) => {
  const { db, store } = await newStore(t, { query: "?schema=ca_one" });
  await store.write((tx) => tx.putEntry(rootEntry()));
  const two = await PgStore.create(pg.url(db, { query: "?options=-csearch_path%3Dca_two" }), depotRecord());
  t.teardown(() => two.close());
  t.is(await two.read((tx) => tx.count()), 0);
  t.is(await store.read((tx) => tx.count()), 1);
  t.is(two.location, `postgresql://pki@127.0.0.1:${pg.port}/${db}?schema=ca_two`);
  await oneLine(t, PgStore.open(pg.url(db, { query: "?schema=Bad-Name" })), /schema "Bad-Name" is not a plain name$/);
});

const edits = [
  ["an ESC in a subject", "UPDATE entries SET subject = 'CN=web' || chr(27) || '[2J' WHERE name = 'web'",
    /entries\["web"\]\.subject is not printable text/],
  ["../x as a name", "UPDATE entries SET name = '../x', name_fold = '../x' WHERE name = 'web'",
    /the entry name "\.\.\/x" is not a valid name/],
  ["a bad serial", "UPDATE entries SET serial = 'XYZ' WHERE name = 'web'",
    /entries\["web"\]\.serial is not lowercase hex/],
  ["KDF iterations 99", "UPDATE depot SET kdf_iterations = 99", /depot\.kdf\.iterations is not an integer from 100000/],
  ["an issuer that is no CA", "UPDATE entries SET issuer = 'web2' WHERE name = 'web'",
    /entries\["web"\]\.issuer names no CA entry/],
  ["a cut certificate", "UPDATE blobs SET data = '\\x30050201'::bytea", /blobs\["web"\]\.cert is not one DER SEQUENCE/],
  ["a CRL number past 2^53", "UPDATE crls SET number = 9007199254740993", /crls\["ca"\]\.number is not an integer/],
  ["ACME state that is not JSON", "UPDATE acme SET body = '{'", /acme\.orders\["ord1"\] is not JSON/],
];
for (const [what, sql, re] of edits) {
  test(`a row edited with psql to hold ${what} is refused in one line`, async (t) => {
    const web = entry("web");
    const { db, store, url } = await newStore(t, { fill: async (tx) => {
      await tx.putEntry(rootEntry());
      await tx.putEntry(web);
      await tx.putBlob({ name: "web", kind: "cert" }, Buffer.from("3003020105", "hex"));
      await tx.nextCrlNumber("ca");
      await tx.acmePut("orders", { id: "ord1", account: "acct1", expires: web.notAfter, identifiers: [], authzs: [],
        created: web.created, status: "pending" });
    } });
    const r = await psqlAs(db, sql);
    t.is(r.code, 0, r.stderr);
    const dump = await psqlAs(db, "SELECT * FROM entries, depot, blobs, crls, acme");
    const e = await oneLine(t, store.read(async (tx) => {
      await tx.depot();
      for await (const x of tx.list()) await tx.history(x.name);
      await tx.blob({ name: "web", kind: "cert" });
      await tx.crl("ca");
      await tx.acmeGet("orders", "ord1");
    }), re);
    t.true(e.message.startsWith(`${url.replace(`:${ROLE_PASS}`, "")} is damaged: `), e.message);
    t.regex(e.message, /: run 'pki doctor'$/);
    t.is((await psqlAs(db, "SELECT * FROM entries, depot, blobs, crls, acme")).out, dump.out, "nothing changed");
  });
}

test("4 processes writing 25 transactions each at once: every one commits, 100 distinct serials", async (t) => {
  t.timeout(120_000);
  const { url, store } = await newStore(t);
  const writer = (w) => `
    const { PgStore } = await import(${JSON.stringify(join(RECORDS, "postgres.js"))});
    const { randomBytes } = await import("node:crypto");
    const store = await PgStore.open(${JSON.stringify(url)});
    await Promise.all([0, 1, 2, 3, 4].map(async (k) => {
      for (let i = k; i < 25; i += 5) await store.write(async (tx) => {
        const serial = randomBytes(16).toString("hex").replace(/^0+/, "");
        await tx.reserveSerial(serial);
        const n = await tx.serialCount();
        await tx.setSerialFloor(serial);
        process.stdout.write(n + "\\n");
      });
    }));
    await store.close();`;
  const results = await Promise.all([0, 1, 2, 3].map((w) =>
    run(process.execPath, ["--input-type=module", "-e", writer(w)])));
  for (const r of results) t.is(r.code, 0, r.stderr);
  t.is(await store.read((tx) => tx.serialCount()), 100);
  const seen = results.flatMap((r) => r.out.trim().split("\n").map(Number));
  t.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i + 1),
    "each transaction saw the writes before it and none beside it (serializable)");
});

test("a nonce is taken once across two connections racing for it", async (t) => {
  const { url, store } = await newStore(t);
  const other = await PgStore.open(url);
  t.teardown(() => other.close());
  const nonces = Array.from({ length: 20 }, (_, i) => `nonce-${i}`);
  await store.write(async (tx) => { for (const n of nonces) await tx.putNonce(n, new Date(Date.now() + 60_000)); });
  const won = await Promise.all(nonces.map(async (n) => {
    const r = await Promise.all([store, other, store, other].map((s) => s.write((tx) => tx.takeNonce(n))));
    return r.filter(Boolean).length;
  }));
  t.deepEqual(won, nonces.map(() => 1));
});

test.serial("a write during `pg_ctl restart -m fast` fails in one line, no crash; the next succeeds", async (t) => {
  const { store } = await newStore(t);
  await store.write((tx) => tx.putEntry(rootEntry()));
  await Promise.all([1, 2, 3].map(() => store.read((tx) => tx.count()))); // idle clients in the pool, to be cut too
  let inside;
  const reached = new Promise((r) => (inside = r));
  let go;
  const gate = new Promise((r) => (go = r));
  const cut = store.write(async (tx) => {
    await tx.putEntry(entry("web"));
    inside();
    await gate;
    await tx.reserveSerial("0a");
  });
  await reached;
  await pg.restart();
  go();
  const e = await oneLine(t, cut, /^PostgreSQL at postgresql:\/\/pki@.* is unavailable \(restarting\?\): try again$/);
  t.true(e instanceof UnavailableError);
  await store.write(async (tx) => { await tx.putEntry(entry("web")); await tx.reserveSerial("0a"); });
  t.deepEqual((await collect(store.list())).map((x) => x.name), ["ca", "web"]);
});

test("sslmode=verify-full with sslrootcert: the server's certificate is checked, each failure one line", async (t) => {
  const { db, store } = await newStore(t);
  await store.close();
  const tls = (q) => pg.url(db, { query: q });
  const s = await PgStore.open(tls(`?sslmode=verify-full&sslrootcert=${encodeURIComponent(pg.caFile)}`));
  t.is(await s.read((tx) => tx.count()), 0);
  await s.close();
  const other = join(tempDir(t), "other.crt");
  const r = await run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", `${other}.key`, "-out", other, "-subj", "/CN=another CA", "-days", "1"]);
  t.is(r.code, 0, r.stderr);
  await oneLine(t, PgStore.open(tls(`?sslmode=require&sslrootcert=${encodeURIComponent(other)}`)),
    /^cannot connect to PostgreSQL at postgresql:\/\/pki@127\.0\.0\.1:\d+\/\w+: its TLS certificate was not accepted$/);
  await oneLine(t, PgStore.open(tls("?sslmode=verify-full&sslrootcert=/nonexistent/ca.crt")),
    /^cannot read the depot URL's TLS file \/nonexistent\/ca\.crt$/);
  await oneLine(t, PgStore.open(tls("?sslmode=sometimes")), /sslmode "sometimes" is not one libpq knows$/);
});

test("the role needs only its own schema: no CREATE on the database, no superuser", async (t) => {
  const db = `rights_${process.pid}`;
  await pg.psql(`CREATE DATABASE ${db}`);
  await pg.psql(`CREATE SCHEMA ca AUTHORIZATION ${ROLE}`, db);
  const s = await PgStore.create(pg.url(db, { query: "?schema=ca" }), depotRecord());
  t.teardown(() => s.close());
  await s.write(async (tx) => { await tx.putEntry(rootEntry()); await tx.reserveSerial("01"); });
  t.is(await s.read((tx) => tx.serialCount()), 1);
  await oneLine(t, PgStore.create(pg.url(db, { query: "?schema=other" }), depotRecord()),
    /^PostgreSQL at postgresql:\/\/pki@127\.0\.0\.1:\d+\/\w+\?schema=other: permission denied \(see the role rights/);
  await oneLine(t, PgStore.create(pg.url(db), depotRecord()), /: permission denied/); // public is not its own
});

test("reads made at once in one transaction reach pg one at a time: the rows, and no driver warning", async (t) => {
  const { url, store } = await newStore(t);
  const names = ["ca", "web", "db", "mail"];
  await store.write(async (tx) => { for (const n of names) await tx.putEntry(n === "ca" ? rootEntry() : entry(n)); });
  // An ACME order of several names reads their authorizations so (Promise.all); pg 8 warns on stderr of a query
  // given while another waits, and pg 9 refuses it. A process of its own: the warning is printed once a process.
  const code = `const { PgStore } = await import(${JSON.stringify(join(RECORDS, "postgres.js"))});
    const s = await PgStore.open(${JSON.stringify(url)});
    for (const write of [false, true]) {
      const run = (fn) => (write ? s.write(fn) : s.read(fn));
      console.log(JSON.stringify(await run((tx) => Promise.all(${JSON.stringify(names)}.map(async (n) =>
        (await tx.entry(n))?.name)))));
    }
    await s.close();`;
  const r = await run(process.execPath, ["--input-type=module", "-e", code], { cwd: ROOT });
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr, "");
  t.deepEqual(r.out.trim().split("\n").map((l) => JSON.parse(l)), [names, names]);
});
