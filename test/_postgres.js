// A throwaway PostgreSQL cluster for one test file: initdb into a temp dir (as the `postgres` user when run as
// root: the server refuses to run as root), scram-sha-256 auth, a free port on 127.0.0.1, `pg_ctl start -w`;
// stopped and removed in test.after.always. Tests make a database each (`db()`), so one cluster serves a file.
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, run, useDepotMaker } from "./_helpers.js";

export const BIN = ["/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin"]
  .find((d) => existsSync(join(d, "initdb")));
export const SUPER_PASS = "super-secret-pw";
export const ROLE = "pki";
export const ROLE_PASS = "pki-pw-Zq7";

/** A PostgreSQL program run as the user the cluster belongs to (the server refuses root). */
const owner = (cmd, args) =>
  process.getuid?.() === 0 ? ["runuser", ["-u", "postgres", "--", join(BIN, cmd), ...args]] : [join(BIN, cmd), args];
const asOwner = (cmd, args, opts) => run(...owner(cmd, args), opts);

/**
 * Declares the file's cluster: started in test.before, stopped and removed in test.after.always (and, should the
 * worker die, at its exit). Returns a handle whose { port, url(db, o), psql(sql, db), db(), restart() } work once
 * the before hook ran (and pause(), start()). The role `pki` (password ROLE_PASS) owns each database `db()` makes.
 */
export function useCluster(test) {
  const handle = {};
  let stop;
  test.before(async () => Object.assign(handle, await startCluster((fn) => (stop = fn))));
  test.after.always(() => stop?.());
  return handle;
}

/**
 * From now on this file's newDepot (test/_helpers.js) makes each depot in a new database of cluster `c`, as
 * `pki --depot postgresql://...`: how a *-pg.test.js runs a suite's tests, unchanged, on PostgreSQL.
 */
export const postgresDepots = (c) => useDepotMaker(async () => c.url(await c.db()));

async function startCluster(onStop) {
  if (!BIN) throw new Error("PostgreSQL is not installed (.ci/run installs Debian's postgresql)");
  const dir = mkdtempSync(join(tmpdir(), "pki-pg-"));
  const data = join(dir, "data");
  const pwfile = join(dir, "pw");
  writeFileSync(pwfile, SUPER_PASS);
  if (process.getuid?.() === 0) { chownSync(dir, ...ids()); chownSync(pwfile, ...ids()); }
  const stop = async () => {
    if (existsSync(join(data, "postmaster.pid")))
      await asOwner("pg_ctl", ["stop", "-D", data, "-m", "immediate", "-w"]);
    rmSync(dir, { recursive: true, force: true });
  };
  onStop(stop);
  process.on("exit", () => {
    if (!existsSync(join(data, "postmaster.pid"))) return;
    const args = ["stop", "-D", data, "-m", "immediate"];
    try { execFileSync(...owner("pg_ctl", args), { stdio: "ignore" }); } catch { /* best effort */ }
    rmSync(dir, { recursive: true, force: true });
  });
  const init = await asOwner("initdb", ["-D", data, "-U", "postgres", "--pwfile", pwfile, "--auth=scram-sha-256",
    "-E", "UTF8", "--no-sync", "--locale=C"]);
  if (init.code !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const port = await freePort();
  const tls = await serverTls(dir);
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=500 ` +
    `-c ssl=on -c ssl_cert_file=${tls.cert} -c ssl_key_file=${tls.key}`;
  const start = async () => {
    const r = await asOwner("pg_ctl", ["start", "-w", "-D", data, "-l", join(dir, "log"), "-o", opts]);
    if (r.code !== 0) throw new Error(`pg_ctl start failed: ${r.stderr}${r.out}`);
  };
  await start();
  const psql = async (sql, db = "postgres", user = "postgres", pass = SUPER_PASS) => {
    const r = await run(join(BIN, "psql"), ["-h", "127.0.0.1", "-p", String(port), "-U", user, "-d", db,
      "-v", "ON_ERROR_STOP=1", "-XAtq", "-c", sql], { env: { ...process.env, PGPASSWORD: pass } });
    if (r.code !== 0) throw new Error(`psql failed: ${r.stderr}`);
    return r.out.trim();
  };
  await psql(`CREATE ROLE ${ROLE} LOGIN PASSWORD '${ROLE_PASS}'`);
  let n = 0;
  const url = (db, { user = ROLE, pass = ROLE_PASS, query = "" } = {}) =>
    `postgresql://${user}${pass === null ? "" : `:${encodeURIComponent(pass)}`}@127.0.0.1:${port}/${db}${query}`;
  return {
    port, dir, url, psql, caFile: tls.ca,
    /** A new database owned by the pki role. */
    async db() {
      const name = `t${++n}_${process.pid}`;
      await psql(`CREATE DATABASE ${name} OWNER ${ROLE}`);
      await psql(`ALTER SCHEMA public OWNER TO ${ROLE}`, name);
      return name;
    },
    /** The server stopped (`pg_ctl stop -m fast`), its data kept; `start()` brings it back on the same port. */
    async pause() {
      const r = await asOwner("pg_ctl", ["stop", "-w", "-m", "fast", "-D", data]);
      if (r.code !== 0) throw new Error(`pg_ctl stop failed: ${r.stderr}`);
    },
    start,
    async restart() {
      const args = ["restart", "-w", "-m", "fast", "-D", data, "-l", join(dir, "log"), "-o", opts];
      const r = await asOwner("pg_ctl", args);
      if (r.code !== 0) throw new Error(`pg_ctl restart failed: ${r.stderr}`);
    },
    stop,
  };
}

/** The postgres user's uid and gid (Debian's package makes it), from /etc/passwd. */
function ids() {
  const line = readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith("postgres:"));
  if (!line) throw new Error("no postgres user: install Debian's postgresql (.ci/run does)");
  const [, , uid, gid] = line.split(":");
  return [Number(uid), Number(gid)];
}

/** A CA (DIR/ca.crt, what a client's sslrootcert names) and the server's certificate for IP 127.0.0.1, by openssl. */
async function serverTls(dir) {
  const f = (n) => join(dir, n);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"];
  for (const args of [
    ["req", "-x509", ...ec, "-keyout", f("ca.key"), "-out", f("ca.crt"), "-subj", "/CN=pki test PostgreSQL CA"],
    ["req", "-x509", ...ec, "-CA", f("ca.crt"), "-CAkey", f("ca.key"), "-keyout", f("server.key"),
      "-out", f("server.crt"), "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
  ]) {
    const r = await run("openssl", args);
    if (r.code !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  }
  chmodSync(f("server.key"), 0o600);
  if (process.getuid?.() === 0) for (const n of ["server.key", "server.crt"]) chownSync(f(n), ...ids());
  return { ca: f("ca.crt"), cert: f("server.crt"), key: f("server.key") };
}
