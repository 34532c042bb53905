// scripts/bench's rows 14-15 (issue 25: the CA key in a SoftHSM2 token) and 16-17 (issue 24: the depot in
// PostgreSQL), each against its file/directory twin in the same run. The token is a private one (its own
// SOFTHSM2_CONF and token directory, as test/_softhsm.js makes them); the PostgreSQL cluster is the tests'
// throwaway one (test/_postgres.js: initdb in a temp dir, a free port), stopped at the end. A missing softhsm2 or
// PostgreSQL skips its rows and says so.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { acmeClients, acmeRace, acmeRow, cpu } from "./bench-acme.mjs";

const MODULE = "/usr/lib/softhsm/libsofthsm2.so";
const PIN = "123456";
const SIGS = 500; // signatures a round of row 15's token ceiling

/** `ctx`: bench.mjs's helpers and settings (row, report, skip, timed, interleave, median, work, NODE, PKI, ...). */
export async function hsmRows(ctx) {
  const { report, skip, timed, interleave, work, NODE, PKI, RUNS, PASS } = ctx;
  const acme = "15. ACME certs/s, one pki acme serve on a SoftHSM2 CA";
  const missing = ["softhsm2-util", "pkcs11-tool"].filter((c) => spawnSync("which", [c]).status !== 0);
  if (missing.length || !existsSync(MODULE)) {
    const why = "needs softhsm2 and opensc (Debian: apt-get install softhsm2 opensc)";
    for (const r of ["14. pki issue, SoftHSM2 CA", acme]) skip(r, why);
    return;
  }
  const dir = join(work, "hsm");
  mkdirSync(join(dir, "tokens"), { recursive: true, mode: 0o700 });
  const conf = join(dir, "softhsm2.conf");
  writeFileSync(conf, `directories.tokendir = ${join(dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  writeFileSync(join(dir, "pin"), `${PIN}\n`);
  const env = { SOFTHSM2_CONF: conf };
  timed("softhsm2-util", ["--init-token", "--free", "--label", "bench-ca", "--pin", PIN, "--so-pin", "654321"],
    dir, env);
  const uri = `pkcs11:token=bench-ca;object=root-ca?module-path=${MODULE}&pin-source=file:${join(dir, "pin")}`;
  // each depot at DIR/.pki beside DIR/pass, as test/_acme.js's startAcme serves one (row 15)
  const depots = { hsm: join(dir, "hsm"), file: join(dir, "file") };
  for (const d of Object.values(depots)) {
    mkdirSync(d);
    writeFileSync(join(d, "pass"), `${PASS}\n`);
  }
  const pki = (d, args) => timed(NODE, [PKI, ...args], d, { ...env, PKI_DEPOT: join(d, ".pki") });
  const pass = ["--passphrase-file", "pass"];
  pki(depots.hsm, ["init", "--ca-key", uri, ...pass]);
  pki(depots.file, ["init", ...pass]);

  // 14. one pki issue (ECDSA leaf, encrypted key) signed by the token's P-256 key against a file-key P-256 CA
  const [h, f] = interleave(RUNS, (i) => pki(depots.hsm, ["issue", ...pass, `h${i}`, "localhost", "127.0.0.1"]),
    (i) => pki(depots.file, ["issue", ...pass, `f${i}`, "localhost", "127.0.0.1"]));
  report("14. pki issue, SoftHSM2 CA (P-256)", h, f, "file-key CA, passphrase-encrypted",
    "one process each, leaf keys passphrase-encrypted on both sides; the token CA opens the module and logs in");
  await tokenAcmeRow(ctx, acme, depots, env, tokenCeiling(ctx, uri, env));
}

/**
 * 15. certificates a second from one `pki acme serve` on the token CA against one on the file-key CA (acmeRace):
 * BENCH_ACME_CLIENTS (20) clients at once on each, a round on one then a round on the other, RUNS rounds each after
 * a warm-up round on each (every client's account). Each certificate costs the server one signature by the CA key;
 * the note says how many the depots recorded (serials and CRLs made during the rounds, per certificate), each
 * server's CPU a certificate, and the token's ceiling (tokenCeiling).
 */
async function tokenAcmeRow(ctx, label, depots, env, ceiling) {
  const { report, median, RUNS } = ctx;
  const clients = acmeClients(20);
  const { readDepot } = await import("../test/_depot-read.js");
  // what the CA key signed so far: certificates (every serial recorded) and CRLs (the root's CRL number)
  const signed = (d) =>
    readDepot(join(d, ".pki"), async (tx) => (await tx.serialCount()) + ((await tx.crl("ca"))?.number ?? 0));
  const setup = async () => [depots.hsm, depots.file].map((d) => ({ dir: d, nodes: 1, env }));
  await acmeRace({ setup, clients, tag: "15" }, async ({ servers, nodes, round, failed }) => {
    for (const on of nodes) await round(on); // warm-up: each server's first orders, every client's account
    const before = await Promise.all(servers.map((s) => signed(s.dir)));
    const secs = [[], []], ok = [0, 0], used = [0, 0];
    for (let r = 0; r < RUNS; r++) {
      for (const k of [0, 1]) {
        const at = cpu(nodes[k][0].child.pid);
        const x = await round(nodes[k]);
        used[k] += cpu(nodes[k][0].child.pid) - at;
        secs[k].push(x.s / clients);
        ok[k] += x.ok;
      }
    }
    const after = await Promise.all(servers.map((s) => signed(s.dir)));
    const [sh, sf] = [median(secs[0]), median(secs[1])];
    const each = (k) => ((after[k] - before[k]) / ok[k]).toFixed(2);
    const ms = (k) => `${Math.round((1000 * used[k]) / ok[k])} ms`;
    const perS = (s, d = 1) =>
      `${(1 / s).toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d })}/s`;
    report(label, perS(sh), perS(sf), "file-key CA, one pki acme serve", `${clients} clients at once on each ` +
      `server (an account and an order each, http-01), ${RUNS} rounds each, interleaved; ${failed()} failed ` +
      `orders; CA signatures a certificate: token ${each(0)}, file ${each(1)} (serials + CRLs the depots ` +
      `recorded); server CPU a certificate: token CA ${ms(0)}, file CA ${ms(1)}; the token's ceiling, one ` +
      `process through store/keys' signer: ${perS(ceiling.token, 0)} P-256 signatures (node crypto.sign ` +
      `${perS(ceiling.node, 0)})`, sf / sh);
  });
}

/**
 * Seconds a P-256 signature through the token in one plain node process through store/keys' token signer (the
 * one `pki acme serve` uses), and through node's crypto.sign: SIGS a round, RUNS rounds interleaved, medians.
 */
function tokenCeiling({ NODE, PKI, RUNS }, uri, env) {
  const child = `
    const { openTokenCaKey, closeTokens } = await import(${JSON.stringify(join(PKI, "..", "..", "store", "keys",
      "index.js"))});
    const { generateKeyPairSync, sign, randomBytes } = await import("node:crypto");
    const key = await openTokenCaKey(${JSON.stringify(uri)});
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const digest = randomBytes(32), data = randomBytes(200);
    const round = (f) => { const t = process.hrtime.bigint(); for (let i = 0; i < ${SIGS}; i++) f();
      return Number(process.hrtime.bigint() - t) / 1e9 / ${SIGS}; };
    const token = [], node = [];
    for (let r = 0; r < ${RUNS}; r++) {
      token.push(round(() => key.signDigest(digest, "sha256")));
      node.push(round(() => sign("sha256", data, privateKey)));
    }
    key.close(); await closeTokens();
    const med = (xs) => { const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
      return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
    console.log(JSON.stringify({ token: med(token), node: med(node) }));`;
  const r = spawnSync(NODE, ["--input-type=module", "-e", child],
    { env: { ...process.env, ...env }, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`row 15's token ceiling failed: ${r.stderr.slice(0, 500)}`);
  return JSON.parse(r.stdout);
}

/** Rows 16-17: issue 24, the depot in PostgreSQL. */
export async function pgRows(ctx) {
  const { report, skip, timed, interleave, work, NODE, PKI, RUNS, PASS } = ctx;
  const { BIN, useCluster } = await import("../test/_postgres.js");
  const acme = "17. ACME certs/s, 3 nodes vs 1 on PostgreSQL";
  if (!BIN) {
    const why = "needs PostgreSQL (Debian: apt-get install postgresql)";
    for (const r of ["16. pki issue, PostgreSQL depot", acme]) skip(r, why);
    return;
  }
  // test/_postgres.js declares its cluster through ava's hooks: the same two hooks, called here
  const hooks = {};
  const cluster = useCluster({ before: (f) => (hooks.before = f), after: { always: (f) => (hooks.after = f) } });
  await hooks.before();
  try {
    const dir = join(work, "pg");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "pass"), `${PASS}\n`);
    const url = cluster.url(await cluster.db());
    const depots = { pg: url, dir: join(dir, "dir-depot") };
    const pki = (depot, args) => timed(NODE, [PKI, ...args], dir, { PKI_DEPOT: depot });
    const pass = ["--passphrase-file", "pass"];
    pki(depots.pg, ["init", ...pass]);
    pki(depots.dir, ["init", ...pass]);

    // 16. one pki issue (ECDSA leaf, encrypted key) into the PostgreSQL depot against a directory depot
    const [p, d] = interleave(RUNS, (i) => pki(depots.pg, ["issue", ...pass, `p${i}`, "localhost", "127.0.0.1"]),
      (i) => pki(depots.dir, ["issue", ...pass, `d${i}`, "localhost", "127.0.0.1"]));
    report("16. pki issue, PostgreSQL depot", p, d, "directory depot",
      "one process each, both pay one PBKDF2-600k; PostgreSQL on 127.0.0.1 (fsync off, a throwaway cluster)");
    await acmeRow(ctx, cluster, acme);
  } finally {
    await hooks.after();
  }
}
