// The benchmark behind scripts/bench: each workload with pki and with the equivalent openssl
// commands, interleaved in the same invocation, median wall-clock times and their ratio.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PKI = join(ROOT, "dist", "bin", "pki.js");
const NODE = process.execPath;
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 7));
const PASS = "bench passphrase";
const work = mkdtempSync(join(tmpdir(), "pki-bench-"));
process.on("exit", () => rmSync(work, { recursive: true, force: true }));

/** Runs `cmd args` (or a bash script) in `cwd`; returns seconds; throws on failure. */
function timed(cmd, args, cwd, env = {}) {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"], maxBuffer: 64 << 20 });
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ").slice(0, 200)} failed (${r.status}): ${r.stderr}`);
  return s;
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const bash = (script) => ["bash", ["-euc", script]];

/** Runs `a` and `b` alternately `n` times (after `prep(i)`), so both see the same machine load. */
function pair(n, a, b, prep = () => {}) {
  const ta = [], tb = [];
  for (let i = 0; i < n; i++) {
    prep(i);
    ta.push(a(i));
    tb.push(b(i));
  }
  return [median(ta), median(tb)];
}

const rows = [];
const fmt = (s) => (s >= 1 ? `${s.toFixed(2)} s` : `${(s * 1000).toFixed(0)} ms`);
function row(workload, pki, other, otherName, target, ok, note = "") {
  rows.push([workload, fmt(pki), `${fmt(other)} (${otherName})`, `${(pki / other).toFixed(2)}×`, target, !ok ? "" : ok(pki / other) ? "met" : "MISSED", note]);
  process.stderr.write(`  ${workload}: pki ${fmt(pki)}, ${otherName} ${fmt(other)}\n`);
}

process.stderr.write(`bench: ${RUNS} runs per workload in ${work}\n`);
const started = Date.now();

// ---- 1. start-up ----------------------------------------------------------
{
  const [p, n] = pair(RUNS * 3, () => timed(NODE, [PKI, "--version"], work), () => timed(NODE, ["-e", "0"], work));
  row("1. pki --version vs node -e 0", p, n, "node -e 0", "≤ 1.3×", (r) => r <= 1.3);
}

// ---- 2. one key + CSR + signed cert ------------------------------------------
// openssl: genpkey, req -new, x509 -req under an existing CA (keys unencrypted, as is usual for this).
// pki: the same in one command, `pki fixtures` with a CA and one leaf (unencrypted outputs).
const osslCa = join(work, "ossl-ca");
mkdirSync(osslCa);
execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "3650", "-subj", "/CN=Bench CA"], { cwd: osslCa, stdio: "ignore" });
const GEN = { ecdsa: "-algorithm EC -pkeyopt ec_paramgen_curve:P-256", rsa: "-algorithm RSA -pkeyopt rsa_keygen_bits:2048" };
const opensslLeaf = (alg, dir) => bash(`
  openssl genpkey ${GEN[alg]} -out ${dir}/leaf.key
  openssl req -new -key ${dir}/leaf.key -subj /CN=leaf -addext subjectAltName=IP:127.0.0.1 -out ${dir}/leaf.csr
  openssl x509 -req -in ${dir}/leaf.csr -CA ca.crt -CAkey ca.key -days 365 -copy_extensions copy -out ${dir}/leaf.crt 2>/dev/null`);
for (const [alg, key, label] of [["ecdsa", "ecdsa", "ECDSA P-256"], ["rsa", "rsa-2048", "RSA-2048"]]) {
  const spec = join(work, `one-${alg}.json`);
  writeFileSync(spec, JSON.stringify({ cas: [{ name: "ca", outputs: ["insecure"] }], certs: [{ name: "leaf", ip: "127.0.0.1", key, outputs: ["insecure"] }] }));
  const [p, o] = pair(RUNS, (i) => timed(NODE, [PKI, "fixtures", spec, "--out", join(work, `one-${alg}-${i}`)], work),
    (i) => { const d = join(work, `ossl-${alg}-${i}`); mkdirSync(d); return timed(...opensslLeaf(alg, d), osslCa); });
  row(`2. ${label} key + CSR + cert`, p, o, "openssl ×3", "≤ 1.5×", (r) => r <= 1.5, "pki: one `pki fixtures` (also makes its CA)");
}
// The depot path for comparison: `pki new-cert` + `pki sign` (keys encrypted, PBKDF2 600k twice).
{
  const dir = join(work, "depot");
  mkdirSync(dir);
  writeFileSync(join(dir, "pass"), PASS + "\n");
  const env = { PKI_DEPOT: join(dir, ".pki") };
  timed(NODE, [PKI, "init", "--passphrase-file", "pass"], dir, env);
  const encCa = join(work, "ossl-enc-ca");
  mkdirSync(encCa);
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-passout", `pass:${PASS}`, "-keyout", "ca.key", "-out", "ca.crt", "-days", "3650", "-subj", "/CN=Bench CA"], { cwd: encCa, stdio: "ignore" });
  const [p, o] = pair(RUNS,
    (i) => timed(NODE, [PKI, "new-cert", "--passphrase-file", "pass", `leaf${i}`], dir, env) + timed(NODE, [PKI, "sign", "--passphrase-file", "pass", `leaf${i}`], dir, env),
    (i) => timed(...bash(`
      openssl genpkey ${GEN.ecdsa} -aes-256-cbc -pass pass:'${PASS}' -out e${i}.key
      openssl req -new -key e${i}.key -passin pass:'${PASS}' -subj /CN=leaf -out e${i}.csr
      openssl x509 -req -in e${i}.csr -CA ca.crt -CAkey ca.key -passin pass:'${PASS}' -days 365 -out e${i}.crt 2>/dev/null`), encCa));
  row("2b. ECDSA, encrypted keys, depot", p, o, "openssl ×3 -aes256", "(no target)", null, "pki new-cert + sign: 2 processes, PBKDF2 600k each");
}

// ---- 3. 1 CA + 200 leaves with encrypted keys -----------------------------------
const N = 200;
const spec200 = join(work, "fixtures-200.json");
writeFileSync(spec200, JSON.stringify({ passphrase: PASS, cas: [{ name: "ca" }], certs: Array.from({ length: N }, (_, i) => ({ name: `leaf${i}`, ip: "127.0.0.1" })) }));
const loop = (dir) => bash(`
  cd ${dir}
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -passout pass:'${PASS}' -keyout ca.key -out ca.crt -days 3650 -subj "/CN=Fixture CA" 2>/dev/null
  for i in $(seq 0 ${N - 1}); do
    openssl genpkey ${GEN.ecdsa} -aes-256-cbc -pass pass:'${PASS}' -out leaf$i.key
    openssl req -new -key leaf$i.key -passin pass:'${PASS}' -subj "/CN=leaf$i" -addext subjectAltName=IP:127.0.0.1 -out leaf$i.csr
    openssl x509 -req -in leaf$i.csr -CA ca.crt -CAkey ca.key -passin pass:'${PASS}' -days 365 -copy_extensions copy -out leaf$i.crt 2>/dev/null
  done`);
// ---- 4. peak memory of (3), measured in the same runs by GNU time ----------------
const runs3 = Math.min(3, Math.ceil(RUNS / 2));
{
  const peaks = [];
  const pkiRun = (i) => {
    const t = timed("/usr/bin/time", ["-f", "%M", "-o", join(work, `rss-${i}`), NODE, PKI, "fixtures", spec200, "--out", join(work, `fx-${i}`)], work);
    peaks.push(Number(readFileSync(join(work, `rss-${i}`), "utf8").trim().split("\n").at(-1)) / 1024);
    return t;
  };
  const [p, o] = pair(runs3, pkiRun, (i) => { const d = join(work, `loop-${i}`); mkdirSync(d); return timed(...loop(d), work); });
  row(`3. 1 CA + ${N} leaves, encrypted keys`, p, o, "openssl loop", "≤ 0.10× (10× faster)", (r) => r <= 0.1, `pki is ${(o / p).toFixed(1)}× faster; pki: PBKDF2 600k once, openssl: 2048 per key`);
  const mb = median(peaks);
  rows.push([`4. peak RSS of (3)`, `${mb.toFixed(0)} MB`, "—", "—", "≤ 150 MB", mb <= 150 ? "met" : "MISSED", "GNU time %M (max RSS), median"]);
}

const head = ["workload", "pki (median)", "baseline (median)", "pki/base", "target", "", "note"];
const table = [head, ...rows];
const w = head.map((_, i) => Math.max(...table.map((r) => String(r[i]).length)));
const line = (r) => `| ${r.map((c, i) => String(c).padEnd(w[i])).join(" | ")} |`;
console.log(`pki bench — ${new Date().toISOString().slice(0, 16)}Z, nproc ${cpus().length}, node ${process.version}, ${execFileSync("openssl", ["version"]).toString().trim().split(" (")[0]}, load average ${loadavg().map((x) => x.toFixed(1)).join(" ")}, runs ${RUNS} (workload 1: ${RUNS * 3}, workloads 3-4: ${runs3})`);
console.log(line(head));
console.log(`|${w.map((n) => "-".repeat(n + 2)).join("|")}|`);
for (const r of rows) console.log(line(r));
console.log(`total bench time ${((Date.now() - started) / 1000).toFixed(0)} s`);
