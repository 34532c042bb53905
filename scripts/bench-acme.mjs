// scripts/bench's ACME rows, 15 (one `pki acme serve` on a token CA against one on a file-key CA) and 17 (3 nodes
// against 1 on one PostgreSQL): certificates a second through `pki acme serve` processes, acme-client clients at
// once, http-01 answered by the bench's challenge server; the servers are the test helpers' (test/_acme.js).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** Concurrent acme-client clients a round: BENCH_ACME_CLIENTS, else the row's default. */
export const acmeClients = (fallback) => Math.max(1, Number(process.env.BENCH_ACME_CLIENTS ?? fallback));

/**
 * Starts `pki acme serve` nodes and `clients` acme-client clients (an account key and a CSR each, their names
 * cN.bench.test resolved to 127.0.0.1 by every node), runs `measure`, then stops the nodes and the challenge server.
 * `setup(A, t)` (A: test/_acme.js, t: the teardowns) resolves to the servers: [{ dir, nodes, env }], `nodes` nodes
 * on the depot of `dir` (as A.newDepot makes it: DIR/pass, the depot DIR/.pki or DIR/depot-url), `env` added to
 * theirs. `measure({ servers, nodes, round, failed })`: nodes[k] are servers[k]'s; `round(on, count = clients)` has
 * the first `count` clients get a certificate each at once, client i from on[i % on.length], and resolves to
 * { s, ok }: the round's seconds and the certificates obtained; `failed()` counts failed orders (the first printed).
 */
export async function acmeRace({ setup, clients, tag }, measure) {
  const A = await import("../test/_acme.js");
  const { default: acme } = await import("acme-client");
  const https = await import("node:https");
  const downs = [];
  const t = { teardown: (f) => downs.push(f), fail: (m) => { throw new Error(m); } };
  try {
    const servers = await setup(A, t);
    const ch = await A.challengeServer(t);
    const names = Array.from({ length: clients }, (_, i) => `c${i}.bench.test`);
    const args = ["--allow", "*.bench.test", "--http-01-port", String(ch.port),
      "--resolve", names.map((n) => `${n}=127.0.0.1`).join(",")];
    const nodes = await Promise.all(servers.map((s) =>
      Promise.all(Array.from({ length: s.nodes }, () => A.startAcme(t, s.dir, args, undefined, s.env)))));
    const cas = await Promise.all(servers.map(async (s) => readFileSync(await A.depotCert(s.dir))));
    acme.axios.defaults.httpsAgent = new https.Agent({ ca: cas, keepAlive: true });
    const keys = await Promise.all(names.map(() => acme.crypto.createPrivateEcdsaKey()));
    const csrs = await Promise.all(names.map(async (n) =>
      (await acme.crypto.createCsr({ commonName: n, altNames: [n] }, await acme.crypto.createPrivateEcdsaKey()))[1]));
    let failed = 0;
    const round = async (on, count = clients) => {
      let ok = 0;
      const t0 = process.hrtime.bigint();
      await Promise.all(names.slice(0, count).map(async (_, i) => {
        const c = new acme.Client({ directoryUrl: on[i % on.length].url, accountKey: keys[i], backoffAttempts: 150,
          backoffMin: 100, backoffMax: 1000 });
        try {
          await c.auto({ csr: csrs[i], termsOfServiceAgreed: true, challengePriority: ["http-01"],
            skipChallengeVerification: true, challengeCreateFn: async (_a, x, ka) => void ch.tokens.set(x.token, ka),
            challengeRemoveFn: async () => {} });
          ok++;
        } catch (e) {
          if (!failed++) process.stderr.write(`  ${tag}: an order failed: ${e.message}\n`);
        }
      }));
      return { s: Number(process.hrtime.bigint() - t0) / 1e9, ok };
    };
    return await measure({ servers, nodes, round, failed: () => failed });
  } finally {
    for (const f of downs.reverse()) await f();
  }
}

/**
 * 17. certificates a second through 1 and through 3 `pki acme serve` nodes on one PostgreSQL depot (acmeRace):
 * BENCH_ACME_CLIENTS (50) clients at once, spread round-robin over the nodes, each client on one node. The three
 * nodes run throughout; the 1-node round uses the first. Rounds alternate. The note says where the CPU went
 * (cpuMeter): with every process on the bench's 2 cores, a 3-node round can only beat a 1-node round that left a
 * core idle, so "cores busy" tells a machine that is full from a lock that keeps it idle.
 */
export async function acmeRow(ctx, cluster, label) {
  const { row, median, RUNS } = ctx;
  const CLIENTS = acmeClients(50);
  const setup = async (A, t) => {
    A.postgresDepots(cluster);
    return [{ dir: await A.newDepot(t), nodes: 3 }];
  };
  await acmeRace({ setup, clients: CLIENTS, tag: "17" }, async ({ servers: [{ dir }], nodes: [nodes], ...o }) => {
    const { round, failed } = o;
    const db = new URL(readFileSync(join(dir, "depot-url"), "utf8")).pathname.slice(1);
    const meter = cpuMeter(cluster, db, nodes.map((s) => s.child.pid));
    const used = { 1: [], 3: [] };
    const metered = async (n) => {
      const at = await meter.now();
      const { s } = await round(nodes.slice(0, n));
      used[n].push(meter.since(at, s, CLIENTS, await meter.now()));
      return s / CLIENTS;
    };
    await round(nodes, Math.min(CLIENTS, 6)); // warm-up: the nodes' first orders, the accounts of the first clients
    const one = [], three = [];
    for (let r = 0; r < Math.max(1, Math.ceil(RUNS / 2)); r++) {
      one.push(await metered(1));
      three.push(await metered(3));
    }
    const [s3, s1] = [median(three), median(one)];
    const perS = (s) => `${(1 / s).toFixed(1)}/s`;
    row(label, s3, s1, "1 node", failed() ? -Infinity : 1 / 1.5, "≥ 1.5× faster, no failed order",
      `ms a certificate: 3 nodes ${perS(s3)}, 1 node ${perS(s1)} (${(s1 / s3).toFixed(2)}×); ${CLIENTS} clients ` +
      `at once, each on one node; ${failed()} failed orders; ${meter.say(used[3], "3 nodes")}; ` +
      `${meter.say(used[1], "1 node")}`);
  });
}

/** CPU seconds (Linux /proc) of process `pid`, with its waited-for children's when `kids`. */
export function cpu(pid, kids = false) {
  const ticks = 100; // USER_HZ
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12]) + (kids ? Number(f[13]) + Number(f[14]) : 0)) / ticks;
  } catch { return 0; } // gone meanwhile: its time is in its parent's children's time
}

/**
 * CPU seconds (Linux /proc) of the bench process (the clients and the challenge server), the nodes and the
 * cluster (the postmaster, its live backends, and those gone, in its children's time), and the transactions
 * PostgreSQL rolled back (serialization failures, retried by the nodes) in database `db`.
 */
function cpuMeter(cluster, db, pids) {
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
