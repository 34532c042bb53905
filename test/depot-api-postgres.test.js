// The depot API (openDepot, "pki-depot/depot") on a postgresql:// depot made by `pki init`, one throwaway cluster
// for this file (test/_postgres.js), a database per test: the same flow as on a directory (_depot.js's issueToCrl,
// judged by openssl), the CLI seeing what the API wrote, close() ending the pool, and bad URLs or passwords refused
// in one line that neither quotes the driver nor echoes the password.
import test from "ava";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { PASS, pki, pkiOk, tempDir } from "./_helpers.js";
import { DepotError, InputError, issueToCrl, openDepot } from "./_depot.js";
import { ROLE_PASS, useCluster } from "./_postgres.js";

const pg = useCluster(test);

/** `pki init` into a new database: a scratch dir (with the passphrase file), the database and its URL. */
async function pgDepot(t) {
  const dir = tempDir(t, "pki-api-pg-");
  writeFileSync(join(dir, "pass"), PASS + "\n");
  const db = await pg.db();
  const url = pg.url(db);
  await pkiOk(t, dir, ["--depot", url, "init", "--passphrase-file", "pass"]);
  return { dir, db, url };
}

const sessions = (db) => pg.psql(`SELECT count(*) FROM pg_stat_activity WHERE datname = '${db}'`);

test("issue → get → list → revoke → crl through openDepot on PostgreSQL, as on a directory", async (t) => {
  const { dir, url } = await pgDepot(t);
  const d = await openDepot({ depot: url, passphrase: PASS });
  t.teardown(() => d.close());
  t.regex(d.dir, /^postgresql:\/\/pki@127\.0\.0\.1:\d+\/\w+$/, "the URL without its password");
  await issueToCrl(t, d, dir);
  // The CLI reads what the API wrote, from the same database.
  const listed = JSON.parse((await pkiOk(t, dir, ["--depot", url, "list", "--json"])).out);
  t.deepEqual(listed.map((e) => [e.name, e.status]), [["ca", "valid"], ["api", "valid"], ["web", "revoked"]]);
});

test("close() ends the pool: the database has no session of ours left, the depot refuses further use", async (t) => {
  const { db, url } = await pgDepot(t);
  const d = await openDepot({ depot: url, passphrase: PASS });
  await d.issue("web", { domains: ["web.example"] });
  t.not(await sessions(db), "0", "the pool holds its connections while open");
  await d.close();
  // A backend leaves pg_stat_activity a moment after its client said goodbye: wait for it (no time asserted).
  for (let i = 0; i < 100 && (await sessions(db)) !== "0"; i++) await new Promise((r) => setTimeout(r, 50));
  t.is(await sessions(db), "0");
  await t.throwsAsync(d.issue("two"), { instanceOf: InputError, message: "the depot is closed" });
});

test("bad input: unreachable, wrong password, no depot, wrong passphrase: one line each", async (t) => {
  const { db } = await pgDepot(t);
  const oneLine = async (depot, passphrase, re, instanceOf = DepotError) => {
    const e = await t.throwsAsync(openDepot({ depot, passphrase }), { instanceOf });
    t.regex(e.message, re);
    t.notRegex(e.message, /\n|ECONN|password authentication|SASL|at .*\.js/, "pki's words, not the driver's");
    t.false(e.message.includes(ROLE_PASS) || e.message.includes("wrong-pw"), "no password echoed");
  };
  const srv = createServer();
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  const closed = srv.address().port;
  await new Promise((r) => srv.close(r));
  await oneLine(`postgresql://pki:${ROLE_PASS}@127.0.0.1:${closed}/${db}`, PASS,
    /^cannot reach PostgreSQL at postgresql:\/\/pki@127\.0\.0\.1:\d+\/\w+: connection refused$/);
  await oneLine(pg.url(db, { pass: "wrong-pw" }), PASS, /^cannot log in to PostgreSQL at \S+: wrong password/);
  await oneLine(pg.url(await pg.db()), PASS, /^no depot at postgresql:\/\/pki@\S+: run 'pki init' first$/);
  await oneLine(pg.url(db), "wrong", /^wrong passphrase for the CA key$/, InputError);
  await oneLine("postgresql://pki@[bad", PASS, /^the depot URL is not a valid postgresql:\/\/ URL$/);
  const r = await pki(tempDir(t), ["--depot", pg.url(db), "list", "--json"]);
  t.deepEqual(JSON.parse(r.out).map((e) => e.name), ["ca"], "nothing was written");
});
