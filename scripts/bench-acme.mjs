// scripts/bench's ACME rows: certificates a second through `pki acme serve` nodes, acme-client clients at once.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const CLIENTS = Math.max(1, Number(process.env.BENCH_ACME_CLIENTS ?? 50)); // concurrent acme-client clients, row 17

/**
 * 17. certificates a second through 1 and through 3 `pki acme serve` nodes on one PostgreSQL depot: CLIENTS
 * acme-client clients at once (an account and an order each, http-01 answered by the bench's challenge server),
 * spread round-robin over the nodes, each client on one node. The three nodes run throughout; the 1-node round uses
 * the first. Rounds alternate; the nodes, the test helpers' (test/_acme.js), are stopped at the end. The note says
 * where the CPU went (cpuMeter): with every process on the bench's 2 cores, a 3-node round can only beat a 1-node
 * round that left a core idle, so "cores busy" tells a machine that is full from a lock that keeps it idle.
 */
export async function acmeRow(ctx, cluster, label) {
  const { row, median, RUNS } = ctx;
  const A = await import("../test/_acme.js");
  const { default: acme } = await import("acme-client");
  const https = await import("node:https");
  const downs = [];
  const t = { teardown: (f) => downs.push(f), fail: (m) => { throw new Error(m); } };
  try {
    A.postgresDepots(cluster);
    const dir = await A.newDepot(t);
    const ch = await A.challengeServer(t);
    const names = Array.from({ length: CLIENTS }, (_, i) => `c${i}.bench.test`);
    const args = ["--allow", "*.bench.test", "--http-01-port", String(ch.port),
      "--resolve", names.map((n) => `${n}=127.0.0.1`).join(",")];
    const nodes = await Promise.all([0, 1, 2].map(() => A.startAcme(t, dir, args)));
    const db = new URL(readFileSync(join(dir, "depot-url"), "utf8")).pathname.slice(1);
    const meter = cpuMeter(cluster, db, nodes.map((s) => s.child.pid));
    const used = { 1: [], 3: [] };
    const { PgStore } = await import(join(ctx.PKI, "..", "..", "store", "records", "postgres.js"));
    const store = await PgStore.open(readFileSync(join(dir, "depot-url"), "utf8"));
    const ca = Buffer.from(await store.read((tx) => tx.blob({ name: "ca", kind: "cert" })));
    await store.close();
    const pem = `-----BEGIN CERTIFICATE-----\n${ca.toString("base64")}\n-----END CERTIFICATE-----\n`;
    acme.axios.defaults.httpsAgent = new https.Agent({ ca: pem, keepAlive: true });
    const keys = await Promise.all(names.map(() => acme.crypto.createPrivateEcdsaKey()));
    const csrs = await Promise.all(names.map(async (n) =>
      (await acme.crypto.createCsr({ commonName: n, altNames: [n] }, await acme.crypto.createPrivateEcdsaKey()))[1]));
    let failed = 0;
    const round = async (n, count = CLIENTS, measure = true) => {
      const at = measure && (await meter.now());
      const t0 = process.hrtime.bigint();
      await Promise.all(names.slice(0, count).map(async (_, i) => {
        const c = new acme.Client({ directoryUrl: nodes[i % n].url, accountKey: keys[i], backoffAttempts: 150,
          backoffMin: 100, backoffMax: 1000 });
        try {
          await c.auto({ csr: csrs[i], termsOfServiceAgreed: true, challengePriority: ["http-01"],
            skipChallengeVerification: true, challengeCreateFn: async (_a, x, ka) => void ch.tokens.set(x.token, ka),
            challengeRemoveFn: async () => {} });
        } catch (e) {
          if (!failed++) process.stderr.write(`  17: an order failed: ${e.message}\n`);
        }
      }));
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      if (at) used[n].push(meter.since(at, s, count, await meter.now()));
      return s / count;
    };
    await round(3, Math.min(CLIENTS, 6), false); // warm-up: the nodes' first orders, the accounts of the first clients
    const one = [], three = [];
    for (let r = 0; r < Math.max(1, Math.ceil(RUNS / 2)); r++) { one.push(await round(1)); three.push(await round(3)); }
    const [s3, s1] = [median(three), median(one)];
    const perS = (s) => `${(1 / s).toFixed(1)}/s`;
    row(label, s3, s1, "1 node", failed ? -Infinity : 1 / 1.5, "≥ 1.5× faster, no failed order",
      `ms a certificate: 3 nodes ${perS(s3)}, 1 node ${perS(s1)} (${(s1 / s3).toFixed(2)}×); ${CLIENTS} clients ` +
      `at once, each on one node; ${failed} failed orders; ${meter.say(used[3], "3 nodes")}; ` +
      `${meter.say(used[1], "1 node")}`);
  } finally {
    for (const f of downs.reverse()) await f();
  }
}

/**
 * CPU seconds (Linux /proc) of the bench process (the clients and the challenge server), the nodes and the
 * cluster (the postmaster, its live backends, and those gone, in its children's time), and the transactions
 * PostgreSQL rolled back (serialization failures, retried by the nodes) in database `db`.
 */
function cpuMeter(cluster, db, pids) {
  const ticks = 100; // USER_HZ
  const cpu = (pid, kids = false) => {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      return (Number(f[11]) + Number(f[12]) + (kids ? Number(f[13]) + Number(f[14]) : 0)) / ticks;
    } catch { return 0; } // gone meanwhile: its time is in its parent's children's time
  };
  const postmaster = Number(readFileSync(join(cluster.dir, "data", "postmaster.pid"), "utf8").split("\n")[0]);
  const backends = () => (spawnSync("ps", ["-o", "pid=", "--ppid", String(postmaster)], { encoding: "utf8" }).stdout
    .trim().split(/\s+/).filter(Boolean).map(Number));
  const sql = `SELECT xact_rollback FROM pg_stat_database WHERE datname = '${db}'`;
  return {
    async now() {
      const u = process.cpuUsage();
      const pg = cpu(postmaster, true) + backends().reduce((a, p) => a + cpu(p), 0);
      const nodes = pids.reduce((a, p) => a + cpu(p), 0);
      return { bench: (u.user + u.system) / 1e6, nodes, pg, rollbacks: Number(await cluster.psql(sql)) };
    },
    /** One round's use: `s` seconds, `certs` certificates. */
    since: (a, s, certs, b) =>
      ({ s, certs, ...Object.fromEntries(["bench", "nodes", "pg", "rollbacks"].map((k) => [k, b[k] - a[k]])) }),
    /** "3 nodes: CPU a certificate: clients 25 ms, nodes 40 ms, PostgreSQL 17 ms, 1.9 cores busy, 2.1 rollbacks". */
    say(rounds, label) {
      const sum = (k) => rounds.reduce((a, r) => a + r[k], 0);
      const certs = sum("certs"), ms = (k) => `${Math.round((1000 * sum(k)) / certs)} ms`;
      const busy = (sum("bench") + sum("nodes") + sum("pg")) / sum("s");
      return `${label}: CPU a certificate: clients ${ms("bench")}, nodes ${ms("nodes")}, PostgreSQL ${ms("pg")}, ` +
        `${busy.toFixed(1)} cores busy, ${(sum("rollbacks") / certs).toFixed(1)} rollbacks a certificate`;
    },
  };
}
