// `pki list` shows which ACME certificate replaced which (RFC 9773 `replaces`) from the entries it prints, reading
// no ACME order (schema version 4 records the replaced name with the certificate's entry): a version-3 depot.db and
// a version-3 PostgreSQL schema (made with version 3's own DDL, their rows as pki 3 wrote them) are migrated and
// list shows the pairs; with every order's body damaged list still works; a hostile recorded name is one `pki: `
// line; `pki doctor` reports a recorded name its order contradicts. The ACME server's own path, on both backends:
// test/acme-ari.test.js and test/acme-ari-pg.test.js.
import test from "ava";
import { chmodSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pki, pkiOk, ROOT, snapshot, tempDir } from "./_helpers.js";
import { order } from "./_records-cases.js";
import { depotRecord, entry, RECORDS, rootEntry } from "./_records.js";
import { ROLE, ROLE_PASS, useCluster } from "./_postgres.js";
import { sqlite } from "./_state.js";

const Database = createRequire(join(ROOT, "package.json"))("better-sqlite3");
const pg = useCluster(test);

const CERT_ID = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE";
const acmeEntry = (name, ord) => ({ ...entry(name, { issuer: "ca" }), external: 1, acme_account: "acct1",
  acme_order: ord });
const leaf = (e) => ({ ...e, sans: JSON.stringify(e.sans) });
/** Version 3's rows: the root, web (no ACME), acme-old and acme-new (whose order replaced acme-old), their orders. */
const V3 = {
  entries: [
    { ...rootEntry(), sans: JSON.stringify(rootEntry().sans), usage: undefined },
    leaf(entry("web", { issuer: "ca" })),
    leaf(acmeEntry("acme-old", "ord1")),
    leaf(acmeEntry("acme-new", "ord2")),
  ],
  orders: [
    { ...order, id: "ord1", cert: "acme-old" },
    { ...order, id: "ord2", cert: "acme-new", replaces: CERT_ID, replacesCert: "acme-old" },
    { ...order, id: "ord3", status: "invalid", cert: undefined },
  ],
};
const COLUMNS = { name: "name", kind: "kind", issuer: "issuer", subject: "subject", key_type: "keyType", sans: "sans",
  status: "status", created: "created", serial: "serial", not_before: "notBefore", not_after: "notAfter",
  usage: "usage", external: "external", acme_account: "acme_account", acme_order: "acme_order" };
const lit = (v) => (v === undefined || v === null ? "NULL" : typeof v === "number" ? String(v)
  : `'${String(v).replace(/'/g, "''")}'`);

/** The INSERTs of V3's rows, as SQL both backends take. */
function v3Rows() {
  const kdf = depotRecord().kdf;
  return [
    `INSERT INTO depot VALUES (1, '${kdf.salt}', ${kdf.iterations}, '2026-01-01T00:00:00.000Z', NULL)`,
    ...V3.entries.map(entryRow),
    ...V3.orders.map((o) => acmeRow(o.id, JSON.stringify(o))),
  ];
}
const entryRow = (e) => `INSERT INTO entries (name_fold, ${Object.keys(COLUMNS).join(", ")}) VALUES ` +
  `(${[e.name.toLowerCase(), ...Object.values(COLUMNS).map((k) => e[k])].map(lit).join(", ")})`;
const acmeRow = (id, body) => `INSERT INTO acme (kind, id, account, body) VALUES ('orders', '${id}', 'acct1', ` +
  `${lit(body)})`;

/**
 * An entry whose order's body is not JSON (damage `pki doctor` reports; the list of version 3 failed on it): the
 * migration gives it no replaced name rather than failing.
 */
const JUNK = [acmeRow("ord5", "{"), entryRow(leaf(acmeEntry("acme-junk", "ord5")))];

/** DIR/.pki/depot.db of schema version 3 holding V3's rows and `more`. */
async function v3Depot(t, more = []) {
  const { MIGRATIONS } = await import(join(RECORDS, "sqlite-ddl.js"));
  const dir = tempDir(t);
  mkdirSync(join(dir, ".pki"), { mode: 0o700 });
  chmodSync(join(dir, ".pki"), 0o700);
  const db = new Database(join(dir, ".pki", "depot.db"));
  db.pragma("application_id = 1886087492");
  db.pragma("journal_mode = WAL");
  for (const sql of [...MIGRATIONS[0], ...MIGRATIONS[1], ...MIGRATIONS[2], ...v3Rows(), ...more]) db.exec(sql);
  db.pragma("user_version = 3");
  db.close();
  return dir;
}

/** What list shows of the V3 rows, as the version-3 list showed it (from the orders). */
async function showsPairs(t, dir, opts, more = []) {
  const table = (await pkiOk(t, dir, ["list"], opts)).out;
  t.regex(table, /^acme-new \(replaces acme-old\)\s+expired\s/m);
  t.regex(table, /^acme-old\s+expired\s/m);
  const json = JSON.parse((await pkiOk(t, dir, ["list", "--json"], opts)).out);
  const acme = Object.fromEntries(json.map((e) => [e.name, e.acme]));
  t.deepEqual(Object.keys(acme).sort(), [...V3.entries.map((e) => e.name), ...more].sort());
  t.is(acme.ca, undefined);
  t.is(acme.web, undefined);
  t.deepEqual(acme["acme-old"], { account: "acct1", order: "ord1" });
  for (const n of more) t.deepEqual(Object.keys(acme[n]), ["account", "order"], `${n}: no replaced name`);
  t.is(JSON.stringify(acme["acme-new"]), '{"account":"acct1","order":"ord2","replaces":"acme-old"}');
  const signed = JSON.parse((await pkiOk(t, dir, ["list", "--status", "signed", "--json"], opts)).out);
  t.is(signed.find((e) => e.name === "acme-new").acme.replaces, "acme-old");
}

test("a version-3 depot.db is migrated to 4: list shows the replaced names it showed from the orders", async (t) => {
  const dir = await v3Depot(t, JUNK);
  await showsPairs(t, dir, {}, ["acme-junk"]);
  t.is((await sqlite(dir, "PRAGMA user_version")).trim(), "4");
  t.is((await sqlite(dir, "SELECT name || '=' || acme_replaces FROM entries WHERE acme_replaces IS NOT NULL")).trim(),
    "acme-new=acme-old");
});

test("list reads no ACME order: with every order's body damaged, it lists and shows the pairs", async (t) => {
  const dir = await v3Depot(t);
  await showsPairs(t, dir); // migrated
  await sqlite(dir, "UPDATE acme SET body = '{' WHERE kind = 'orders'");
  await showsPairs(t, dir);
  const doctor = await pki(dir, ["doctor"]);
  t.regex(doctor.out, /acme\.orders\["ord2"\] is not JSON/, "the damage is there (doctor reads the orders)");
});

test("a hostile replaced name recorded with sqlite3 is one pki: line on list, exit 1, nothing changed", async (t) => {
  const dir = await v3Depot(t);
  await showsPairs(t, dir);
  await sqlite(dir, "UPDATE entries SET acme_replaces = '../x' || char(10) || char(27) || '[2J' " +
    "WHERE name = 'acme-new'");
  const before = snapshot(join(dir, ".pki"));
  for (const args of [["list"], ["list", "--json"], ["list", "--status", "signed"]]) {
    const r = await pki(dir, args);
    t.is(r.code, 1, args.join(" "));
    t.is(r.out, "");
    t.is(r.stderr, "pki: depot.db is damaged: entries[\"acme-new\"].acme.replaces is not a valid name: " +
      "run 'pki doctor'\n");
  }
  t.deepEqual(snapshot(join(dir, ".pki")), before);
});

test("pki doctor reports a recorded replaced name its order contradicts", async (t) => {
  const dir = await v3Depot(t);
  const clean = await pki(dir, ["doctor"]);
  t.notRegex(clean.out, /replaces/, clean.out);
  await sqlite(dir, "UPDATE entries SET acme_replaces = 'web' WHERE name = 'acme-new'");
  await sqlite(dir, "UPDATE entries SET acme_replaces = 'web' WHERE name = 'acme-old'");
  const d = await pki(dir, ["doctor"]);
  t.is(d.code, 1);
  t.regex(d.out, /^depot\.db: "acme-new" records that it replaces "web", its ACME order "ord2" "acme-old"$/m);
  t.regex(d.out, /^depot\.db: "acme-old" records that it replaces "web", its ACME order "ord1" nothing$/m);
});

test("a version-3 PostgreSQL depot is migrated to 4: list shows the replaced names", async (t) => {
  const { SCHEMA_MARK, MIGRATIONS } = await import(join(RECORDS, "postgres-ddl.js"));
  const db = await pg.db();
  // a body PostgreSQL's jsonb refuses (a NUL in a string): no replaced name, the migration goes on
  const nul = [acmeRow("ord4", '{"replacesCert":"\\u0000"}'), entryRow(leaf(acmeEntry("acme-nul", "ord4")))];
  const v3 = [SCHEMA_MARK, "INSERT INTO pki_schema VALUES (1, 'pki', 3)", ...MIGRATIONS[0], ...MIGRATIONS[1],
    ...MIGRATIONS[2], ...v3Rows(), ...JUNK, ...nul];
  await pg.psql(v3.join("; "), db, ROLE, ROLE_PASS);
  const dir = tempDir(t);
  const opts = { env: { PKI_DEPOT: pg.url(db) } };
  await showsPairs(t, dir, opts, ["acme-junk", "acme-nul"]);
  t.is(await pg.psql("SELECT version FROM pki_schema", db, ROLE, ROLE_PASS), "4");
  t.is(await pg.psql("SELECT string_agg(name || '=' || acme_replaces, ',') FROM entries", db, ROLE, ROLE_PASS),
    "acme-new=acme-old");
});
