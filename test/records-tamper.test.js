// depot.db is untrusted input: a row edited with the real sqlite3 shell to hold a hostile value, a schema from a
// newer pki or with an added trigger, a truncated or garbage file, a link, a foreign owner or a loose mode each
// give one line (a DepotError, never SQLite's own words) and leave the depot byte-identical.
import test from "ava";
import { chmodSync, chownSync, readFileSync, renameSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { snapshot } from "./_helpers.js";
import { entry, newStore, rootEntry, SqliteStore, sqlite } from "./_records.js";

const { DepotError } = await import("../dist/store/fsutil.js");

/** A depot holding a root and "web" (with a past certificate), closed: ready to be edited by hand. */
async function depot(t) {
  const s = await newStore(t);
  const web = entry("web");
  await s.store.write(async (tx) => {
    await tx.putEntry(rootEntry());
    await tx.putEntry(web);
    await tx.reserveSerial(web.serial);
    await tx.addHistory("web", { serial: "0c", issuer: "ca", notBefore: web.notBefore, notAfter: web.notAfter });
    await tx.putBlob({ name: "web", kind: "cert" }, Buffer.from("3003020105", "hex"));
  });
  await s.store.close();
  return s;
}

/** Opening and reading everything is refused with exactly one line matching `re`; nothing changed. */
async function refused(t, dir, re) {
  const before = snapshot(dir);
  const e = await t.throwsAsync(async () => {
    const store = await SqliteStore.open(dir);
    try {
      await store.read(async (tx) => {
        await tx.depot();
        for await (const x of tx.list()) await tx.history(x.name);
        await tx.blob({ name: "web", kind: "cert" });
      });
    } finally { await store.close(); }
  });
  t.true(e instanceof DepotError, `${e.constructor.name}: ${e.message}`);
  t.regex(e.message, re);
  t.false(e.message.includes("\n"), "one line");
  t.notRegex(e.message, /SQLITE_|malformed|file is not a database/i, "no driver words");
  t.deepEqual(snapshot(dir), before, "nothing changed");
}

const edits = [
  ["an ESC in a subject", "UPDATE entries SET subject = 'CN=web' || char(27) || '[2J' WHERE name = 'web'",
    /^depot\.db is damaged: entries\["web"\]\.subject is not printable text .*: run 'pki doctor'$/],
  ["../x as a name", "UPDATE entries SET name = '../x', name_fold = '../x' WHERE name = 'web'",
    /^depot\.db is damaged: the entry name "\.\.\/x" is not a valid name: run 'pki doctor'$/],
  ["a bad serial", "UPDATE entries SET serial = 'XYZ' WHERE name = 'web'",
    /^depot\.db is damaged: entries\["web"\]\.serial is not lowercase hex/],
  ["an out-of-range date", "UPDATE entries SET not_after = '10000-01-01T00:00:00Z' WHERE name = 'web'",
    /^depot\.db is damaged: entries\["web"\]\.notAfter is not a date from 1950 to 9999: run 'pki doctor'$/],
  ["KDF iterations 2^31", "UPDATE depot SET kdf_iterations = 2147483648",
    /^depot\.db is damaged: depot\.kdf\.iterations is not an integer from 100000 to 10000000/],
  ["a status not in the list", "UPDATE entries SET status = 'valid' WHERE name = 'web'",
    /entries\["web"\]\.status is not one of unsigned, signed, revoked/],
  ["SANs that are not JSON", "UPDATE entries SET sans = '{' WHERE name = 'web'", /entries\["web"\]\.sans is not JSON/],
  ["a SAN that is not a domain", `UPDATE entries SET sans = '{"ips":[],"domains":["a b"]}' WHERE name = 'web'`,
    /entries\["web"\]\.sans\.domains\[0\] fails the rule/],
  ["an issuer that is no CA", "UPDATE entries SET issuer = 'web2' WHERE name = 'web'",
    /entries\["web"\]\.issuer names no CA entry/],
  ["a past certificate's bad date", "UPDATE history SET not_before = 'yesterday'",
    /entries\["web"\]\.history\[0\]\.notBefore/],
  ["a cut certificate", "UPDATE blobs SET data = x'30050201'", /blobs\["web"\]\.cert is not one DER SEQUENCE/],
  ["a CRL URL that is not http", "UPDATE entries SET crl_url = 'file:///etc/passwd' WHERE name = 'ca'",
    /^depot\.db is damaged: entries\["ca"\]\.crlUrl is not an http:\/\/ URL: run 'pki doctor'$/],
  ["a CRL URL on a leaf", "UPDATE entries SET crl_url = 'http://ca.test/x.crl' WHERE name = 'web'",
    /entries\["web"\]\.crlUrl is set on an entry that is not a CA/],
  ["a CRL URL of 2,000 characters",
    "UPDATE entries SET crl_url = 'http://a.test/' || printf('%.1990c', 'x') WHERE name = 'ca'",
    /entries\["ca"\]\.crlUrl is not printable text of at most 1024 characters/],
  ["a case-twin's name_fold", "UPDATE entries SET name_fold = 'other' WHERE name = 'web'",
    /entries\["web"\]\.name_fold/],
];
for (const [what, sql, re] of edits) {
  test(`a row edited with sqlite3 to hold ${what} is refused in one line`, async (t) => {
    const { dir, db } = await depot(t);
    await sqlite(t, db, sql);
    await refused(t, dir, re);
  });
}

test("a schema version newer than this pki's is refused", async (t) => {
  const { dir, db } = await depot(t);
  await sqlite(t, db, "PRAGMA user_version = 5");
  await refused(t, dir, /^depot\.db has schema version 5, newer than this pki understands \(4\): upgrade pki$/);
});

test("a trigger added with sqlite3 is refused, not run", async (t) => {
  const { dir, db } = await depot(t);
  await sqlite(t, db, "CREATE TRIGGER t AFTER INSERT ON serials BEGIN DELETE FROM entries; END");
  await refused(t, dir, /^depot\.db is damaged: its schema has a changed or foreign trigger: run 'pki doctor'$/);
});

test("a database that is not pki's is refused", async (t) => {
  const { dir, db } = await depot(t);
  await sqlite(t, db, "PRAGMA application_id = 1");
  await refused(t, dir, /^depot\.db is not a pki depot database \(application_id 1\): refusing to use it$/);
});

test("a truncated depot.db is refused", async (t) => {
  const { dir, db } = await depot(t);
  truncateSync(db, readFileSync(db).length - 4096);
  await refused(t, dir, /^depot\.db is truncated \(\d+ of \d+ bytes\): run 'pki doctor'$/);
});

test("a depot.db cut inside its header, or empty, is refused", async (t) => {
  const { dir, db } = await depot(t);
  truncateSync(db, 50);
  await refused(t, dir, /^depot\.db is not a database \(garbage or truncated\)/);
  truncateSync(db, 0);
  await refused(t, dir, /^depot\.db is empty \(truncated\?\)/);
});

test("a depot.db of garbage, and one whose pages are garbage, are refused", async (t) => {
  const { dir, db } = await depot(t);
  const good = readFileSync(db);
  writeFileSync(db, Buffer.alloc(good.length, 0x41));
  await refused(t, dir, /^depot\.db is not a database \(garbage or truncated\)/);
  const pages = Buffer.from(good);
  pages.fill(0x41, 100); // a sound header over garbage pages: the driver's "malformed" must not reach the user
  writeFileSync(db, pages);
  await refused(t, dir, /^depot\.db is damaged/);
});

test("a depot.db that is a symbolic link is refused", async (t) => {
  const { dir, db } = await depot(t);
  renameSync(db, join(dir, "elsewhere.db"));
  symlinkSync(join(dir, "elsewhere.db"), db);
  await refused(t, dir, /^depot file depot\.db is a symbolic link/);
});

test("a depot.db-wal that is a symbolic link is refused", async (t) => {
  const { dir, db } = await depot(t);
  symlinkSync("/dev/null", `${db}-wal`);
  await refused(t, dir, /^depot file depot\.db-wal is a symbolic link/);
});

test("a foreign-owned depot.db is refused", async (t) => {
  if (process.getuid() !== 0) return t.pass("needs root to chown");
  const { dir, db } = await depot(t);
  chownSync(db, 1, 1);
  await refused(t, dir, /^depot file depot\.db is owned by uid 1, not by the depot's owner \(uid 0\): chown it back/);
});

test("a group-writable depot.db is refused", async (t) => {
  const { dir, db } = await depot(t);
  chmodSync(db, 0o620);
  await refused(t, dir, /^depot file depot\.db is writable by group or others \(mode 0620\)/);
});
