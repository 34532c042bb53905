// pki doctor, backup and restore on a depot held in depot.db, and pki crl with 10,000 revoked certificates:
// a backup taken while 4 processes issue restores into a depot that doctor finds consistent; doctor names a row
// edited with the sqlite3 shell; openssl verifies the big CRL and finds a serial in it.
import test from "ava";
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PASS, ROOT, openssl, pki, pkiOk, run, snapshot } from "./_helpers.js";
import { put } from "./_depot.js";
import { layout1Depot } from "./_state.js";
import { dbDepot } from "./_life.js";

const env = { PKI_PASSPHRASE: PASS };
const DEPOT_API = join(ROOT, "dist", "store", "depot", "index.js");

/** A child process issuing `n` certificates through the depot API, one after another. */
function issuer(depot, prefix, n) {
  const code = `const { openDepot } = await import(${JSON.stringify(DEPOT_API)});
    const d = await openDepot({ depot: ${JSON.stringify(depot)}, passphrase: ${JSON.stringify(PASS)} });
    for (let i = 0; i < ${n}; i++) await d.issue("${prefix}-" + i, { domains: ["${prefix}-" + i + ".example"] });
    await d.close();`;
  return run(process.execPath, ["--input-type=module", "-e", code], { env: { ...process.env } });
}

test("a backup taken while 4 processes issue restores into a depot doctor finds consistent", async (t) => {
  const { dir, depot } = await dbDepot(t);
  const writers = [0, 1, 2, 3].map((i) => issuer(depot, `w${i}`, 15));
  // Backups while they write: each one a consistent snapshot.
  const taken = [];
  for (let i = 0; i < 3; i++) {
    const file = join(dir, `backup-${i}.db`);
    await pkiOk(t, dir, ["backup", file]);
    taken.push(file);
  }
  for (const w of await Promise.all(writers)) t.is(w.code, 0, w.stderr);
  const last = join(dir, "backup-last.db");
  const r = await pkiOk(t, dir, ["backup", last]);
  t.regex(r.stderr, /^Backed up \S+ \(61 entries\) to \S+backup-last\.db; 'pki restore /);
  t.is(statSync(last).mode & 0o777, 0o600);
  for (const [i, file] of [...taken, last].entries()) {
    const to = join(dir, `restored-${i}`);
    const rr = await pkiOk(t, dir, ["restore", file, to]);
    t.regex(rr.stderr, /^Restored \d+ entries into /);
    t.deepEqual(readdirSync(to).filter((f) => !/-(wal|shm)$/.test(f)).sort(), ["depot.db", "kdf.json"]);
    const doc = await pki(dir, ["doctor", "--depot", to], { env });
    t.is(doc.code, 0, doc.stdout.toString() + doc.stderr);
    t.regex(doc.stderr, /^Depot \S+ is consistent: \d+ entries, \d+ certificates verified, \d+ keys compared\n$/);
    const names = JSON.parse((await pkiOk(t, dir, ["list", "--json", "--depot", to])).out).map((e) => e.name);
    t.true(names.includes("ca"));
    if (file === last) t.is(names.length, 61);
  }
  // The restored copy works: it revokes and publishes a CRL openssl accepts.
  const to = join(dir, `restored-3`);
  await pkiOk(t, dir, ["revoke", "--depot", to, "w0-0"]);
  const crl = await pkiOk(t, dir, ["crl", "--depot", to], { env });
  t.regex(crl.stderr, /^CRL #1 of "ca": 1 revoked/);
  t.is((await openssl(["crl", "-in", put(dir, "r.crl", crl.out), "-noout"])).code, 0);
});

test("backup and restore refuse to overwrite, and restore refuses what is not a pki backup", async (t) => {
  const { dir, depot } = await dbDepot(t);
  writeFileSync(join(dir, "taken.db"), "mine\n");
  const before = snapshot(dir);
  const cases = [
    [["backup", "taken.db"], /^pki: \S+taken\.db already exists: back up to a new file\n$/],
    [["restore", "taken.db", "new"], /^pki: taken\.db is not a pki backup \(.*\)\n$/],
    [["restore", "absent.db", "new"], /^pki: cannot read absent\.db: not found\n$/],
    [["restore", "taken.db", depot], /^pki: a depot already exists in \S+: restore into a new directory\n$/],
  ];
  for (const [args, re] of cases) {
    const r = await pki(dir, args);
    t.is(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
    t.regex(r.stderr, re);
  }
  t.deepEqual(snapshot(dir), before, "nothing made, nothing changed");
  t.false(existsSync(join(dir, "new")));
  // A layout-1 depot is copied as a directory; pki says how.
  const l1 = join(layout1Depot(t), ".pki");
  const r = await pki(dir, ["backup", "--depot", l1, "l1.db"]);
  t.is(r.code, 1);
  t.regex(r.stderr, /^pki: \S+ is a layout-1 depot: copy its directory while no command runs/);
  t.false(readdirSync(dir).includes("l1.db"));
});

test("doctor on depot.db names a certificate row swapped by the sqlite3 shell; keys compared", async (t) => {
  const { dir, depot } = await dbDepot(t, async (dir) => {
    await pkiOk(t, dir, ["issue", "web", "web.example"], { env });
    await pkiOk(t, dir, ["issue", "api", "api.example"], { env });
  });
  const ok = await pkiOk(t, dir, ["doctor"]);
  t.is(ok.stderr, `Depot ${depot} is consistent: 3 entries, 3 certificates verified\n`);
  t.regex((await pkiOk(t, dir, ["doctor"], { env })).stderr, /3 certificates verified, 3 keys compared\n$/);
  const sql = "UPDATE blobs SET data = (SELECT data FROM blobs WHERE name = 'api' AND kind = 'cert' AND serial = '') " +
    "WHERE name = 'web' AND kind = 'cert' AND serial = ''";
  const s = await run("sqlite3", [join(depot, "depot.db"), sql]);
  t.is(s.code, 0, s.stderr);
  const bad = await pki(dir, ["doctor", "--json"], { env });
  t.is(bad.code, 1);
  const report = JSON.parse(bad.out);
  t.false(report.ok);
  const swapped = /^the certificate of "web" has serial [0-9a-f]+, the record [0-9a-f]+$/;
  t.true(report.problems.some((p) => swapped.test(p.problem)),
    JSON.stringify(report.problems));
  t.true(report.problems.some((p) => p.problem === `the key of "web" is not its certificate's key`));
  const text = await pki(dir, ["doctor"]);
  t.is(text.code, 1);
  t.regex(text.stderr, /^pki: \d+ problems? in \S+\n$/); // 1 when web and api expire in the same second
});

test("crl with 10,000 revoked certificates: openssl verifies it and finds a serial", async (t) => {
  const { dir, depot } = await dbDepot(t);
  // 10,000 revoked certificates of entries since removed, recorded through the store as pki rm leaves them.
  const sqlite = JSON.stringify(join(ROOT, "dist", "store", "records", "sqlite.js"));
  const code = `const { SqliteStore } = await import(${sqlite});
    const s = await SqliteStore.open(${JSON.stringify(depot)});
    await s.write(async (tx) => {
      for (let i = 0; i < 10000; i++) {
        const serial = (0x4000000000000000n + BigInt(i) * 7919n).toString(16);
        await tx.reserveSerial(serial);
        await tx.addRemoved({ name: "gone" + i, serial, issuer: "ca", notBefore: "2026-01-01T00:00:00.000Z",
          notAfter: "2027-01-01T00:00:00.000Z", revoked: { date: "2026-06-01T00:00:00.000Z", reason: "superseded" } });
      }
    });
    await s.close();`;
  const w = await run(process.execPath, ["--input-type=module", "-e", code]);
  t.is(w.code, 0, w.stderr);
  const crl = await pkiOk(t, dir, ["crl"], { env });
  t.regex(crl.stderr, /^CRL #1 of "ca": 10000 revoked, next update /);
  const ca = await pkiOk(t, dir, ["status", "ca", "--json"]);
  t.is(JSON.parse(ca.out).name, "ca");
  const d = await import(join(ROOT, "dist", "store", "depot", "index.js"));
  const open = await d.openDepot({ depot, passphrase: PASS });
  const caPem = (await open.get("ca")).certificate;
  await open.close();
  const text = await openssl(["crl", "-in", put(dir, "big.crl", crl.out), "-CAfile", put(dir, "ca.pem", caPem),
    "-noout", "-text"]);
  t.regex(text.stderr + text.out, /verify OK/);
  const serial = (0x4000000000000000n + 1234n * 7919n).toString(16).toUpperCase();
  t.regex(text.out, new RegExp(`Serial Number: ${serial}\\n`));
  t.is(text.out.match(/Serial Number:/g).length, 10000);
  t.is((await pki(dir, ["doctor"])).code, 0, "the removed certificates' serials are reserved once each");
});
