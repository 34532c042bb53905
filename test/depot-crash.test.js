// Machines die mid-write, on the record store too: SIGKILL at random moments of issue, renew and revoke through
// openDepot in a child process, and of the upgrade from layout 1. Each command's changes are one transaction, so
// the depot must hold all of a call's work or none: every certificate parses and carries its recorded serial, no
// serial twice or reserved by a write that did not commit, every certificate a call handed out is recorded (the
// child writes it to a side file only once the call returned), and `pki doctor` finds the depot consistent.
import test from "ava";
import { chmodSync, cpSync, existsSync, readdirSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { PASS, ROOT, snapshot, tempDir } from "./_helpers.js";
import { initDepot, openDepot } from "./_depot.js";
import { checkStore, doctorOk, orphanRows, sideLines, verifyAll, worker } from "./_depot-check.js";
import { progress } from "./_stress.js";

const RECORDS = join(ROOT, "dist", "store", "records");
const { SqliteStore } = await import(join(RECORDS, "sqlite.js"));
const { LAYOUT1_BACKUP } = await import(join(RECORDS, "layout1-files.js"));
const { locateDepot, openRecords } = await import(join(ROOT, "dist", "store", "depot", "locate.js"));
const FIXTURE = join(ROOT, "test", "fixtures", "layout1");
const FIXTURE_PASS = readFileSync(join(ROOT, "test", "fixtures", "layout1.pass"), "utf8").trim();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test("SIGKILL at 24 random moments of openDepot issue, renew and revoke: each call all or nothing", async (t) => {
  t.timeout(10 * 60_000);
  const { dir, depot } = await initDepot(t);
  await (await openDepot({ depot, passphrase: PASS, upgrade: true })).close();
  const side = join(dir, "side.jsonl");
  const TRIALS = 24;
  const inFlight = { committed: 0, none: 0 };
  let calls = 0;
  for (let i = 0; i < TRIALS; i++) {
    const before = sideLines(side).length;
    const w = worker(["ops", depot, side, `k${i}`]);
    t.true(await w.ready, (await Promise.race([w.exited, sleep(0)]))?.stderr);
    await sleep(Math.random() * 400);
    w.child.kill("SIGKILL");
    const r = await w.exited;
    t.is(r.signal, "SIGKILL", r.stderr);
    const lines = sideLines(side);
    calls += lines.slice(before).filter((l) => !l.begin).length;
    const store = await SqliteStore.open(depot); // pki's own checks of depot.db: it opens after the crash
    try {
      await checkStore(t, store, lines, `trial ${i + 1}`);
      const last = lines.at(-1);
      if (last?.begin) inFlight[(await committed(store, last, lines)) ? "committed" : "none"]++;
    } finally {
      await store.close();
    }
    t.is(await orphanRows(t, join(depot, "depot.db")), "0 0", "no key, CSR, certificate or history row left unowned");
    await doctorOk(t, dir, depot, `trial ${i + 1}`);
    if (i % 6 === 5) progress(t, `trial ${i + 1}/${TRIALS}: ${calls} calls returned so far`);
  }
  t.log(`${TRIALS} kills, ${calls} calls returned; the call in flight at the kill: ${inFlight.committed} committed, ` +
    `${inFlight.none} left no trace`);
  t.true(calls > 0, "the children did work between kills");
  t.true(inFlight.committed + inFlight.none >= TRIALS / 2, "most kills landed inside a call");

  const d = await openDepot({ depot, passphrase: PASS });
  try {
    const ca = Buffer.from((await d.get("ca")).certificate.replace(/-----[^-]+-----|\s/g, ""), "base64");
    const store = await SqliteStore.open(depot);
    const current = await checkStore(t, store, sideLines(side), "after all trials").finally(() => store.close());
    t.true(current.length > 0);
    await verifyAll(t, dir, ca, current);
    await d.issue("after-the-crashes", { domains: ["after.example"] }); // and it keeps working
    await doctorOk(t, dir, depot, "after all trials", { keys: true });
  } finally {
    await d.close();
  }
});

/** Whether the call a `begin` line names reached the depot (it may: the kill came after the commit). */
async function committed(store, begin, lines) {
  const e = await store.read((tx) => tx.entry(begin.name));
  if (begin.begin === "issue") return e !== undefined;
  if (begin.begin === "revoke") return e?.status === "revoked";
  const known = lines.filter((l) => !l.begin && l.name === begin.name).at(-1);
  return e?.serial !== known?.serial;
}

/** A copy of the layout-1 fixture (made by this release's pki), 0700 as pki makes a depot. */
function fixtureCopy(t) {
  const dir = join(tempDir(t, "pki-crash-up-"), "depot");
  cpSync(FIXTURE, dir, { recursive: true });
  chmodSync(dir, 0o700);
  return dir;
}

/** Everything a depot's store holds, blobs as bytes: two upgrades of one fixture must give the same. */
async function contents(store) {
  return store.read(async (tx) => {
    const out = { serials: await tx.serialCount(), entries: [], crls: [], acme: {} };
    for await (const e of tx.list()) {
      const history = await tx.history(e.name);
      const blobs = {};
      for (const serial of [undefined, ...history.map((h) => h.serial)])
        for (const kind of ["cert", "key", "csr"]) {
          const b = await tx.blob({ name: e.name, kind, ...(serial ? { serial } : {}) });
          if (b) blobs[`${kind}@${serial ?? "current"}`] = Buffer.from(b).toString("base64");
        }
      out.entries.push({ e, history, blobs });
      if (e.kind === "ca") out.crls.push(await tx.crl(e.name));
    }
    for await (const r of tx.removed()) out.entries.push({ removed: r });
    for (const kind of ["accounts", "orders", "authz"]) {
      out.acme[kind] = [];
      for await (const o of tx.acmeList(kind)) out.acme[kind].push(o);
    }
    const b64 = (k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString("base64") : v);
    return JSON.parse(JSON.stringify(out, b64));
  });
}

const visible = (dir) => readdirSync(dir).filter((f) => !/^\.|-(wal|shm)$/.test(f)).sort();
/** As visible(), but a lock the upgrade's killed process held (stale: its pid is dead; the next taker breaks it). */
const settled = (dir) => visible(dir).filter((f) => f !== "lock");
const layout1Files = (d) => Object.fromEntries(Object.entries(snapshot(d)).filter(([f]) => !/^\.|^lock/.test(f)));

test("SIGKILL at 12 random moments of the upgrade from layout 1: layout 1 untouched or the whole depot", async (t) => {
  t.timeout(8 * 60_000);
  const env = { WORKER_PASSPHRASE: FIXTURE_PASS };
  // One uninterrupted upgrade: what every interrupted one must end as, and how long one takes here.
  const ref = fixtureCopy(t);
  const t0 = Date.now();
  const w = worker(["upgrade", ref], env);
  await w.ready;
  const span = Date.now() - t0 + 1;
  const done = await w.exited;
  t.is(done.code, 0, done.stderr);
  const refStore = await SqliteStore.open(ref);
  const expected = await contents(refStore).finally(() => refStore.close());
  const outcomes = { "layout 1": 0, "depot.db": 0 };
  for (let i = 0; i < 12; i++) {
    const dir = fixtureCopy(t);
    const started = Date.now();
    const c = worker(["upgrade", dir], env);
    await sleep(Math.random() * span * 1.3); // from the spawn: the KDF check, reading layout 1, building, moving
    c.child.kill("SIGKILL");
    await c.exited;
    const label = `killed after ${Date.now() - started} ms`;
    if (!existsSync(join(dir, "depot.db"))) {
      outcomes["layout 1"]++;
      t.deepEqual(layout1Files(dir), layout1Files(FIXTURE), `${label}: layout 1 exactly as it was`);
    } else outcomes["depot.db"]++;
    const d = await openDepot({ depot: dir, passphrase: FIXTURE_PASS, upgrade: true }); // the next call finishes
    await d.close();
    t.deepEqual(settled(dir), ["depot.db", "kdf.json", LAYOUT1_BACKUP], label);
    if (existsSync(join(dir, "lock"))) {
      const { pid } = JSON.parse(readFileSync(join(dir, "lock"), "utf8"));
      t.is(pid, c.child.pid, `${label}: the lock left is the killed upgrade's`);
    }
    t.deepEqual(layout1Files(join(dir, LAYOUT1_BACKUP)), layout1Files(FIXTURE), `${label}: layout 1 kept aside`);
    const store = await SqliteStore.open(dir);
    try {
      t.deepEqual(await contents(store), expected, `${label}: everything the fixture holds, as an upgrade makes it`);
      await checkStore(t, store, [], label);
    } finally {
      await store.close();
    }
    await doctorOk(t, dir, dir, label);
  }
  t.log(`uninterrupted upgrade ${span} ms from spawn; after the kill: ${JSON.stringify(outcomes)}`);
});

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
    t.deepEqual(visible(dir), ["depot.db", "kdf.json", LAYOUT1_BACKUP], `${via}: the CA key and certs/ moved aside too`);
    t.deepEqual(layout1Files(join(dir, LAYOUT1_BACKUP)), layout1Files(FIXTURE), via);
  }
});
