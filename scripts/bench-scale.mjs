// scripts/bench's rows 7-13 (issue 23): the depot at scale, on the record store (depot.db). The big depots are
// filled fast (scripts/depot-fill.mjs: real certificates the CA signs, written in batches) and then measured doing
// real work: issuance through the package's API (openDepot) and the CLI. BENCH_SCALE=0.01 shrinks every size (a
// smoke test of the rows; the targets are for the full sizes). A CLI row whose command cannot run on a depot.db
// yet is skipped with "not yet", never measured on the old layout.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fillDepot, initDbDepot } from "./depot-fill.mjs";

const SCALE = Math.min(1, Math.max(0.0001, Number(process.env.BENCH_SCALE ?? 1)));
const size = (n) => Math.max(10, Math.round(n * SCALE));
const K = 20; // issuances per depot per round of row 7
const count = (n) => n.toLocaleString("en-US");

/** `ctx`: bench.mjs's helpers and settings (row, report, skip, timed, interleave, median, work, NODE, PKI, ...). */
export async function scaleRows(ctx) {
  const { row, report, skip, timed, interleave, median, work, NODE, PKI, RUNS, PASS } = ctx;
  const { openDepot } = await import(join(PKI, "..", "..", "store", "depot", "index.js"));
  const say = (s) => process.stderr.write(`  ${s}\n`);
  const BIG = size(100_000), MID = size(10_000), CLI = size(20_000), REVOKED = size(10_000);
  const made = async (name, n, o = {}) => {
    const t = Date.now();
    const depot = await initDbDepot(join(work, name), PASS);
    if (n) await fillDepot(depot, PASS, { count: n, ...o });
    say(`${name}: depot.db with ${count(n)} certificates${o.revoked ? ` (${count(o.revoked)} revoked)` : ""} ` +
      `made in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    return depot;
  };
  const empty = await made("api-0", 0), mid = await made("api-mid", MID);
  const big = await made("api-big", BIG, { revoked: REVOKED });

  // 8. (reported after 7) the depot's size on disk at BIG against the DER it holds (certificates, keys, CSRs)
  const sizeRow = depotSize(big, `8. depot size at ${count(BIG)}`, BIG, { report, skip });

  // 7. issuance through openDepot at 0, MID and BIG certificates: K each per round, the depots in turn
  {
    const depots = [];
    for (const dir of [empty, mid, big]) depots.push(await openDepot({ depot: dir, passphrase: PASS }));
    let n = 0;
    const round = (d) => async () => {
      const t = process.hrtime.bigint();
      for (let i = 0; i < K; i++) await d.issue(`api-${n++}`, { domains: ["bench.example"], lifetime: "30d" });
      return Number(process.hrtime.bigint() - t) / 1e9 / K;
    };
    const times = depots.map(() => []);
    for (let r = 0; r < RUNS; r++) for (const [j, d] of depots.entries()) times[j].push(await round(d)());
    for (const d of depots) await d.close();
    const [e, m, b] = times.map(median);
    say(`API issuance: ${ms(e)} at 0, ${ms(m)} at ${count(MID)}, ${ms(b)} at ${count(BIG)}`);
    const note = `ms a certificate (ECDSA, ${K} a round, ${RUNS} rounds)`;
    row(`7. API issue at ${count(MID)} certificates`, m, e, "the empty depot", 1.3, "≤ 1.3×", note);
    row(`7. API issue at ${count(BIG)} certificates`, b, e, "the empty depot", 1.3, "≤ 1.3×", note);
  }
  sizeRow();

  // 9, 10: the CLI reading BIG entries and making a CRL of REVOKED revocations
  const pkiIn = (depot, args) => timed(NODE, [PKI, ...args], join(depot, ".."), { PKI_DEPOT: depot });
  const works = (depot, args) => { try { pkiIn(depot, args); return true; } catch { return false; } };
  const notYet = (cmd) => `not yet: 'pki ${cmd}' has no depot.db path in this build (issue 23)`;
  if (works(empty, ["list", "--json"])) {
    const dump = ["-json", join(big, "depot.db"), "SELECT * FROM entries ORDER BY name"];
    const [p, s] = interleave(Math.max(1, Math.ceil(RUNS / 2)), () => pkiIn(big, ["list", "--json"]),
      () => timed("sqlite3", dump));
    const rss = peakRss(ctx, NODE, [PKI, "list", "--json"], big);
    report(`9. pki list --json, ${count(BIG)} entries`, p, s, "sqlite3 -json of the entries table",
      rss ? `peak RSS ${rss} MB (streamed)` : "");
  } else skip(`9. pki list --json, ${count(BIG)} entries`, notYet("list"));
  if (works(empty, ["crl", "--passphrase-file", "pass"])) {
    const ossl = opensslCa(ctx, REVOKED);
    const [p, o] = interleave(Math.max(1, Math.ceil(RUNS / 2)),
      () => pkiIn(big, ["crl", "--passphrase-file", "pass"]), ossl);
    report(`10. pki crl, ${count(REVOKED)} revoked`, p, o, "openssl ca -gencrl",
      `in the ${count(BIG)} depot; pki opens its CA key with PBKDF2-600k, openssl's key has 2,048 rounds`);
  } else skip(`10. pki crl, ${count(REVOKED)} revoked`, notYet("crl"));

  // 11-13. the CLI on a CLI-size depot against a small one (RUNS entries to revoke)
  const small = await made("cli-small", RUNS + 1, { prefix: "r-" });
  const large = await made("cli-large", CLI, { prefix: "r-" });
  const pass = ["--passphrase-file", "pass"];
  if (works(small, ["issue", ...pass, "probe", "probe.example"])) {
    const [l, s] = interleave(RUNS, (i) => pkiIn(large, ["issue", ...pass, `cli${i}`, "localhost", "127.0.0.1"]),
      (i) => pkiIn(small, ["issue", ...pass, `cli${i}`, "localhost", "127.0.0.1"]));
    row(`11. pki issue, ${count(CLI)}-entry depot`, l, s, `${RUNS + 1}-entry depot`, 1.2, "≤ 1.2×");
  } else skip(`11. pki issue, ${count(CLI)}-entry depot`, notYet("issue"));
  const victim = (i) => `r-${String(i).padStart(6, "0")}`;
  if (works(small, ["revoke", victim(RUNS)])) { // a record only: no key, no passphrase
    const [l, s] = interleave(RUNS, (i) => pkiIn(large, ["revoke", victim(i)]),
      (i) => pkiIn(small, ["revoke", victim(i)]));
    row(`12. pki revoke, ${count(CLI)}-entry depot`, l, s, `${RUNS + 1}-entry depot`, 1.2, "≤ 1.2×");
  } else skip(`12. pki revoke, ${count(CLI)}-entry depot`, notYet("revoke"));
  if (works(small, ["list"])) {
    const [l, s] = interleave(RUNS, () => pkiIn(large, ["list"]), () => pkiIn(small, ["list"]));
    report(`13. pki list, ${count(CLI)}-entry depot`, l, s, `${RUNS + 1}-entry depot`, "every entry printed");
  } else skip(`13. pki list, ${count(CLI)}-entry depot`, notYet("list"));
}

/** Measures DEPOT's size now (closed: no WAL); returns the function that reports it. */
function depotSize(depot, label, n, { report, skip }) {
  const onDisk = readdirSync(depot).filter((f) => f.startsWith("depot.db"))
    .reduce((sum, f) => sum + statSync(join(depot, f)).size, 0);
  const sql = "SELECT sum(length(data)) FROM blobs";
  const q = spawnSync("sqlite3", [join(depot, "depot.db"), sql], { encoding: "utf8" });
  const payload = Number(q.stdout?.trim());
  const mib = (b) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  if (q.status !== 0 || !(payload > 0))
    return () => skip(label, "needs the sqlite3 shell (Debian: apt-get install sqlite3)");
  return () => report(label, mib(onDisk), mib(payload), "the DER it holds",
    `${(onDisk / n / 1024).toFixed(2)} KiB a certificate (depot.db, closed)`, onDisk / payload);
}

const ms = (s) => `${(s * 1000).toFixed(2)} ms`;

/** Peak RSS in MB of one run (GNU time), or undefined without it. */
function peakRss({ work }, cmd, args, depot) {
  const out = join(work, "rss-scale");
  const r = spawnSync("/usr/bin/time", ["-f", "%M", "-o", out, cmd, ...args],
    { env: { ...process.env, PKI_DEPOT: depot }, stdio: "ignore" });
  if (r.status !== 0) return undefined;
  return (Number(readFileSync(out, "utf8").trim().split("\n").at(-1)) / 1024).toFixed(0);
}

/** `openssl ca -gencrl` over an index of N revoked certificates, with an encrypted CA key: a timed function. */
export function opensslCa({ work, bash, PASS }, n) {
  const d = join(work, "openssl-ca");
  const when = (ms) => new Date(ms).toISOString().replace(/[-:T]/g, "").slice(2, 14) + "Z";
  const lines = Array.from({ length: n }, (_, i) =>
    `R\t${when(Date.now() + 90 * 86_400_000)}\t${when(Date.now())},superseded\t${(0x4000_0000 + i).toString(16)}` +
    `\tunknown\t/CN=r${i}`);
  bash(`mkdir -p ${d} && cd ${d} && : > index.txt && echo 1000 > crlnumber && printf '%s\\n' \\
    '[ca]' 'default_ca = c' '[c]' 'database = index.txt' 'crlnumber = crlnumber' 'default_md = sha256' \\
    'default_crl_days = 30' > ca.cnf && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \\
    -passout pass:'${PASS}' -keyout ca.key -out ca.crt -days 3650 -subj "/CN=Bench CA" 2>/dev/null`);
  writeFileSync(join(d, "index.txt"), lines.join("\n") + "\n");
  return () => bash(`openssl ca -gencrl -config ca.cnf -keyfile ca.key -cert ca.crt -passin pass:'${PASS}' ` +
    "-out crl.pem 2>/dev/null", d);
}
