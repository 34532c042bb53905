// Many processes issuing into one depot on the record store at once: the database serialises them (SQLite's
// write lock with a busy wait; PostgreSQL's SERIALIZABLE transactions, retried), serials stay unique by its
// constraint, and nothing a process was handed is missing from the depot.
import test from "ava";
import { join } from "node:path";
import { PASS, pkiOk, ROOT } from "./_helpers.js";
import { initDepot, openDepot } from "./_depot.js";
import { checkStore, orphanRows, sideLines, verifyAll, worker } from "./_depot-check.js";
import { useCluster } from "./_postgres.js";
import { progress } from "./_stress.js";

const RECORDS = join(ROOT, "dist", "store", "records");
const { SqliteStore } = await import(join(RECORDS, "sqlite.js"));
const { PgStore } = await import(join(RECORDS, "postgres.js"));
const pg = useCluster(test);
const W = 8, N = 25;

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
});
