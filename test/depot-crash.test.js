// Machines die mid-write, on the record store too: SIGKILL at random moments of issue, renew and revoke through
// openDepot in a child process, and of the upgrade from layout 1. Each command's changes are one transaction, so
// the depot must hold all of a call's work or none: every certificate parses and carries its recorded serial, no
// serial twice or reserved by a write that did not commit, and every certificate a call handed out is recorded
// (the child writes it to a side file only once the call returned).
import test from "ava";
import { chmodSync, cpSync, existsSync, readdirSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { ROOT, snapshot, tempDir } from "./_helpers.js";
import { openDepot } from "./_depot.js";

const RECORDS = join(ROOT, "dist", "store", "records");
const { LAYOUT1_BACKUP } = await import(join(RECORDS, "layout1-files.js"));
const { locateDepot, openRecords } = await import(join(ROOT, "dist", "store", "depot", "locate.js"));
const FIXTURE = join(ROOT, "test", "fixtures", "layout1");
const FIXTURE_PASS = readFileSync(join(ROOT, "test", "fixtures", "layout1.pass"), "utf8").trim();

/** A copy of the layout-1 fixture (made by this release's pki), 0700 as pki makes a depot. */
function fixtureCopy(t) {
  const dir = join(tempDir(t, "pki-crash-up-"), "depot");
  cpSync(FIXTURE, dir, { recursive: true });
  chmodSync(dir, 0o700);
  return dir;
}

const visible = (dir) => readdirSync(dir).filter((f) => !/^\.|-(wal|shm)$/.test(f)).sort();
const layout1Files = (d) => Object.fromEntries(Object.entries(snapshot(d)).filter(([f]) => !/^\.|^lock/.test(f)));

test("an upgrade cut short between two renames is finished by openDepot and by openRecords", async (t) => {
  for (const via of ["openDepot", "openRecords"]) {
    const dir = fixtureCopy(t);
    await (await openDepot({ depot: dir, passphrase: FIXTURE_PASS, upgrade: true })).close();
    // As a kill after the first two renames leaves it: index.json and depot.json aside, the rest still in place.
    for (const f of readdirSync(join(dir, LAYOUT1_BACKUP)))
      if (f !== "index.json" && f !== "depot.json") renameSync(join(dir, LAYOUT1_BACKUP, f), join(dir, f));
    t.true(existsSync(join(dir, "ca.key")) && existsSync(join(dir, "certs")));
    if (via === "openDepot") await (await openDepot({ depot: dir, passphrase: FIXTURE_PASS })).close();
    else await (await openRecords(locateDepot(dir), { write: true })).close();
    t.deepEqual(visible(dir), ["depot.db", LAYOUT1_BACKUP], `${via}: the CA key and certs/ moved aside too`);
    t.deepEqual(layout1Files(join(dir, LAYOUT1_BACKUP)), layout1Files(FIXTURE), via);
  }
});
