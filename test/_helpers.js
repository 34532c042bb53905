// Shared test helpers: run the compiled CLI and real peers (openssl, curl, tar) as a user would.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import https from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
// The shipped bin: the esbuild bundle (dist/bin/), not the tsc output the library API uses.
export const PKI = join(ROOT, "dist", "bin", "pki.js");
export const PASS = "correct horse battery staple";

/** Runs a program; never throws on a non-zero exit. stdout is a Buffer. */
export function run(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { encoding: "buffer", maxBuffer: 64 << 20, timeout: opts.timeout ?? 120_000, ...opts }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, signal: err?.signal ?? null, stdout, stderr: stderr.toString(), out: stdout.toString() });
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin?.end();
  });
}

/**
 * Where DIR's depot is: DIR/.pki, or the postgresql:// URL that newDepot kept in DIR/depot-url when the test file
 * makes its depots in PostgreSQL (useDepotMaker). pki() names it in PKI_DEPOT.
 */
export const depotOf = (dir) => (depotIsUrl(dir) ? readFileSync(join(dir, "depot-url"), "utf8") : join(dir, ".pki"));
export const depotIsUrl = (dir) => existsSync(join(dir, "depot-url"));

let depotMaker;
/**
 * The *-pg test files run a suite's tests on PostgreSQL: from then on, newDepot inits each depot at the new, empty
 * postgresql:// URL `make()` gives (test/_postgres.js postgresDepots: a database each) instead of DIR/.pki.
 */
export const useDepotMaker = (make) => void (depotMaker = make);

/** Runs `pki ARGS` with the depot of `dir` (PKI_DEPOT), no passphrase in the environment unless given. */
export function pki(dir, args, opts = {}) {
  const env = { ...process.env, PKI_DEPOT: depotOf(dir), ...(opts.env ?? {}) };
  delete env.PKI_PASSPHRASE;
  if (!opts.env?.PKI_PASSPHRASE_FILE) delete env.PKI_PASSPHRASE_FILE;
  if (opts.env?.PKI_PASSPHRASE) env.PKI_PASSPHRASE = opts.env.PKI_PASSPHRASE;
  return run(process.execPath, [PKI, ...args], { cwd: dir, ...opts, env });
}

/** Like pki(), but fails the test with the CLI's stderr when it exits non-zero. */
export async function pkiOk(t, dir, args, opts) {
  const r = await pki(dir, args, opts);
  if (r.code !== 0) t.fail(`pki ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r;
}

/**
 * A TCP port on 127.0.0.1 free now, for a server a test starts later. Drawn below the kernel's ephemeral range: a
 * port from listen(0) can be handed again as the source port of any process's outgoing connection before the test's
 * server binds it (EADDRINUSE), while one below the range is bound only by a test that draws the same number.
 */
export async function freePort() {
  const [low] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
  const top = Math.min(low || 32768, 32768) - 1;
  for (;;) {
    const port = 10000 + Math.floor(Math.random() * (top - 10000));
    const free = await new Promise((resolve) => {
      const s = createServer();
      s.once("error", () => resolve(false));
      s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

export function tempDir(t, prefix = "pki-test-") {
  const d = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Extracts a tar (Buffer) into `dir` with the real GNU tar; returns the `tar tvf` listing. */
export async function untar(t, dir, tarBuf) {
  const list = await run("tar", ["tvf", "-"], { input: tarBuf });
  t.is(list.code, 0, list.stderr);
  const x = await run("tar", ["xf", "-", "-C", dir], { input: tarBuf });
  t.is(x.code, 0, x.stderr);
  return list.out;
}

export const openssl = (args, opts) => run("openssl", args, opts);
export const curl = (args, opts) => run("curl", ["-sS", "--max-time", "20", ...args], opts);

/**
 * Every file under `dir`: relative path → sha256 and mode. For "nothing changed" assertions. SQLite's shared-memory
 * index (depot.db-shm) and an empty write-ahead log are left out: they exist while any process, a concurrent reader
 * too, has depot.db open, and hold no record (a WAL with content is compared like any file).
 */
export function snapshot(dir) {
  const out = {};
  const walk = (d) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      const st = statSync(p);
      if (/\.db-shm$/.test(n) || (/\.db-wal$/.test(n) && st.size === 0)) continue;
      if (st.isDirectory()) { out[relative(dir, p) + "/"] = (st.mode & 0o777).toString(8); walk(p); }
      else out[relative(dir, p)] = `${(st.mode & 0o777).toString(8)} ${createHash("sha256").update(readFileSync(p)).digest("hex")}`;
    }
  };
  walk(dir);
  return out;
}

/** A depot of a fresh temp dir with a CA (DIR/.pki, or in PostgreSQL: see useDepotMaker); returns the dir. */
export async function newDepot(t, initArgs = []) {
  const dir = tempDir(t);
  writeFileSync(join(dir, "pass"), PASS + "\n");
  if (depotMaker) writeFileSync(join(dir, "depot-url"), await depotMaker());
  await pkiOk(t, dir, ["init", "--passphrase-file", "pass", ...initArgs]);
  return dir;
}

/**
 * Runs an ES module in a fresh node process (cwd: the clone, so "pki-depot" resolves) and returns what it printed
 * as JSON. For process-wide counts (KDF runs): tests in one file share a process and run at the same time.
 */
export async function inOwnProcess(t, code) {
  const r = await run(process.execPath, ["--input-type=module", "-e", code], { cwd: ROOT });
  t.is(r.code, 0, r.stderr);
  return JSON.parse(r.out);
}

/** new-cert + sign NAME with the test passphrase. */
export async function issue(t, dir, name, newCertArgs = [], signArgs = []) {
  await pkiOk(t, dir, ["new-cert", "--passphrase-file", "pass", ...newCertArgs, name]);
  await pkiOk(t, dir, ["sign", "--passphrase-file", "pass", ...signArgs, name]);
}

/** An HTTPS server on 127.0.0.1:0 answering GET /v1/versions; with `ca` it requires client certs. */
export async function versionsServer(t, { cert, key, ca, passphrase }) {
  const server = https.createServer({ cert, key, passphrase, ...(ca ? { ca, requestCert: true, rejectUnauthorized: true } : {}) }, (req, res) => {
    if (req.url === "/v1/versions") { res.writeHead(200, { "content-type": "application/json" }); res.end('["v1"]'); }
    else { res.writeHead(404); res.end(); }
  });
  server.on("tlsClientError", () => {});
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }));
  return server.address().port;
}
