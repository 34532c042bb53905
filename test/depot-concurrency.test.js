// Many processes issuing into one depot on the record store at once, through the depot API and the CLI: the
// database serialises them (SQLite's write lock with a busy wait; PostgreSQL's SERIALIZABLE transactions, retried),
// serials stay unique by its constraint, nothing a process was handed is missing, and pki doctor agrees.
import test from "ava";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { PASS, pki, pkiOk, ROOT } from "./_helpers.js";
import { depotFiles, initDepot, openDepot } from "./_depot.js";
import { checkStore, doctorOk, orphanRows, sideLines, verifyAll, worker } from "./_depot-check.js";
import { useCluster } from "./_postgres.js";
import { progress } from "./_stress.js";

const RECORDS = join(ROOT, "dist", "store", "records");
const { SqliteStore } = await import(join(RECORDS, "sqlite.js"));
const { PgStore } = await import(join(RECORDS, "postgres.js"));
const pg = useCluster(test);
const W = 8, N = 25;
const env = { PKI_PASSPHRASE: PASS };

/** W workers issuing N each into DEPOT at once; their side files' lines (what each was handed). */
async function issueAtOnce(t, dir, depot) {
  const sides = Array.from({ length: W }, (_, w) => join(dir, `side-${w}.jsonl`));
  progress(t, `${W} processes issuing ${N} each`);
  const runs = await Promise.all(sides.map((side, w) => worker(["issue", depot, side, `w${w}`, String(N)]).exited));
  for (const r of runs) t.is(r.code, 0, r.stderr);
  return sides.flatMap(sideLines);
}

/** What every worker was handed: W × N distinct names and serials, each recorded; openssl verifies them all. */
async function judge(t, dir, store, handed) {
  t.is(handed.length, W * N, "every issuance returned");
  t.is(new Set(handed.map((l) => l.serial)).size, W * N, `${W * N} distinct serials`);
  const current = await checkStore(t, store, handed, store.backend);
  t.is(current.length, W * N);
  t.is(await store.read((tx) => tx.serialCount()), W * N + 1, "the root's serial and one a certificate");
  const ca = await store.read((tx) => tx.blob({ name: "ca", kind: "cert" }));
  await verifyAll(t, dir, ca, current);
}

test(`${W} processes × ${N} issuances through openDepot on depot.db: ${W * N} distinct serials, all recorded`,
  async (t) => {
    t.timeout(10 * 60_000);
    const { dir, depot } = await initDepot(t);
    await (await openDepot({ depot, passphrase: PASS, upgrade: true })).close();
    const handed = await issueAtOnce(t, dir, depot);
    const store = await SqliteStore.open(depot);
    try {
      await judge(t, dir, store, handed);
    } finally {
      await store.close();
    }
    t.is(await orphanRows(t, join(depot, "depot.db")), "0 0");
    t.regex(await doctorOk(t, dir, depot, "depot.db", { keys: true }), new RegExp(`: ${W * N + 1} entries, `));
  });

test(`${W} processes × ${N} issuances on one PostgreSQL depot: ${W * N} distinct serials, all recorded`, async (t) => {
  t.timeout(10 * 60_000);
  const { dir } = await initDepot(t); // a directory for the passphrase file and the side files
  const url = pg.url(await pg.db());
  await pkiOk(t, dir, ["--depot", url, "init", "--passphrase-file", "pass"]);
  const handed = await issueAtOnce(t, dir, url);
  const store = await PgStore.open(url);
  try {
    await judge(t, dir, store, handed);
  } finally {
    await store.close();
  }
  t.regex(await doctorOk(t, dir, url, "PostgreSQL", { keys: true }), new RegExp(`: ${W * N + 1} entries, `));
});

test(`${W} pki processes at a time × ${N} pki issue on depot.db: ${W * N} distinct serials, doctor consistent`,
  async (t) => {
    t.timeout(15 * 60_000); // 200 CLI runs: a minute on 2 idle cores, several on a busy one
    const { dir, depot } = await initDepot(t);
    await (await openDepot({ depot, passphrase: PASS, upgrade: true })).close();
    const failures = [];
    await Promise.all(Array.from({ length: W }, async (_, w) => {
      for (let i = 0; i < N; i++) {
        const r = await pki(dir, ["issue", `c${w}-${i}`, `c${w}-${i}.example`, `10.0.${w}.${i}`], { env });
        if (r.code !== 0) failures.push(`c${w}-${i}: ${r.stderr}`);
      }
      progress(t, `process line ${w + 1} of ${W} done`);
    }));
    t.deepEqual(failures, []);
    const listed = JSON.parse((await pkiOk(t, dir, ["list", "--json"])).out).filter((e) => e.name !== "ca");
    t.is(listed.length, W * N);
    t.is(new Set(listed.map((e) => e.serial)).size, W * N, `${W * N} distinct serials`);
    const store = await SqliteStore.open(depot);
    try {
      const current = await checkStore(t, store, [], "CLI");
      t.is(current.length, W * N);
      await verifyAll(t, dir, await store.read((tx) => tx.blob({ name: "ca", kind: "cert" })), current);
    } finally {
      await store.close();
    }
    t.regex(await doctorOk(t, dir, depot, "CLI", { keys: true }), new RegExp(`: ${W * N + 1} entries, `));
  });

/** The sqlite3 shell holding depot.db exclusively (as the last process to close it does while it checkpoints). */
async function holdExclusively(t, db) {
  const holder = spawn("sqlite3", [db], { stdio: ["pipe", "pipe", "ignore"] });
  t.teardown(() => holder.kill("SIGKILL"));
  holder.stdin.write("PRAGMA locking_mode=EXCLUSIVE;\nSELECT 'held', count(*) FROM depot;\n");
  await new Promise((r) => holder.stdout.on("data", (d) => String(d).includes("held") && r()));
  return { release: () => holder.stdin.end(), exited: new Promise((r) => holder.on("close", r)) };
}

test("a command opening depot.db while another process holds it waits for it, or says it is locked", async (t) => {
  const { dir, depot } = await initDepot(t);
  await (await openDepot({ depot, passphrase: PASS, upgrade: true })).close();
  const db = join(depot, "depot.db");
  let h = await holdExclusively(t, db);
  const before = depotFiles(depot);
  const r = await pki(dir, ["list"], { env: { PKI_LOCK_TIMEOUT_MS: "300" } });
  t.is(r.code, 1);
  t.regex(r.stderr, /^pki: depot is locked by (pid \d+ \(.*\)|another process); try again later\n$/);
  t.deepEqual(depotFiles(depot), before);
  h.release();
  await h.exited;
  h = await holdExclusively(t, db);
  setTimeout(h.release, 1000); // released while pki waits (up to PKI_LOCK_TIMEOUT_MS, 30 s by default)
  const list = await pkiOk(t, dir, ["list", "--json"]);
  t.deepEqual(JSON.parse(list.out).map((e) => e.name), ["ca"]);
  await h.exited;
  await pkiOk(t, dir, ["issue", "after", "after.example"], { env }); // and writes again
});
