// The lock no PID trick breaks, and reads that never mix a renewal's new key with its old certificate.
import test from "ava";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { ROOT, pki, pkiOk, run } from "./_helpers.js";
import { cheapDepot, deadPid, env } from "./_stress.js";
import { at, LONG, refused } from "./_tamper.js";
import { LAYOUT1_PASS, layout1Depot } from "./_state.js";

// The lock file is layout 1's (a depot.db depot is locked by SQLite: test/depot-concurrency.test.js): these run on a
// copy of test/fixtures/layout1, not `pki init` (which makes depot.db once layout 1 retires); a command that writes
// then upgrades it, under this lock.
const fast = { env: { PKI_PASSPHRASE: LAYOUT1_PASS, PKI_LOCK_TIMEOUT_MS: "300" } };

test("layout 1: a lock held by a live process in another PID namespace is held, even when its pid is free here", async (t) => {
  t.timeout(LONG);
  if (process.getuid() !== 0) return t.pass("unshare --pid needs root");
  const dir = layout1Depot(t);
  // The holder, in a new PID namespace, gets a pid that is dead in ours: the pid an exited process just had.
  const pid = await deadPid();
  const holderJs = `import(${JSON.stringify(join(ROOT, "dist/store/lock.js"))}).then(async (m) => { await m.acquireLock(${JSON.stringify(at(dir, ""))}); process.stdout.write("HELD\\n"); setInterval(() => {}, 1e6); })`;
  const holder = spawn("unshare", ["--pid", "--fork", "--mount-proc", "sh", "-c", `echo ${pid - 1} > /proc/sys/kernel/ns_last_pid; "${process.execPath}" -e '${holderJs}' & wait`],
    { stdio: ["ignore", "pipe", "pipe"], detached: true });
  t.teardown(() => { try { process.kill(-holder.pid, "SIGKILL"); } catch { /* gone */ } });
  await new Promise((resolve, reject) => {
    let out = "";
    holder.stdout.on("data", (d) => { out += d; if (out.includes("HELD")) resolve(); });
    holder.on("exit", (c) => reject(new Error(`holder exited ${c}`)));
  });
  const lock = JSON.parse(readFileSync(at(dir, "lock"), "utf8"));
  t.is(lock.pid, pid, "the holder has the chosen pid inside its namespace");
  t.not(lock.pidNs, readlinkSync("/proc/self/ns/pid"));
  t.throws(() => process.kill(pid, 0), { code: "ESRCH" }, "that pid is free in this namespace");
  const held = new RegExp(`^pki: depot is locked by pid ${pid} on .* in PID namespace pid:\\[\\d+\\] since .*'pki doctor --break-lock'`);
  await refused(t, dir, ["new-cert", "x"], held, { opts: fast });
  await refused(t, dir, ["doctor", "--fix"], held, { opts: fast });
  // Dead or alive, a holder in another namespace cannot be proven dead: the lock stays until broken explicitly.
  process.kill(-holder.pid, "SIGKILL");
  await refused(t, dir, ["new-cert", "x"], held, { opts: fast });
  const b = await pki(dir, ["doctor", "--break-lock"], fast);
  t.is(b.code, 0, b.stderr);
  t.regex(b.stderr, new RegExp(`^Removed the lock held by pid ${pid} on .* in PID namespace pid:\\[\\d+\\] since .*\\(boot [0-9a-f-]+, started at tick \\d+\\)\\n$`));
  t.false(existsSync(at(dir, "lock")));
  await pkiOk(t, dir, ["new-cert", "x"], fast);
});

test("layout 1: an older pki's lock (no boot id, namespace or start time) is held even when its pid is gone", async (t) => {
  t.timeout(LONG);
  const dir = layout1Depot(t);
  const { hostname } = await import("node:os");
  const { writeFileSync } = await import("node:fs");
  writeFileSync(at(dir, "lock"), JSON.stringify({ pid: await deadPid(), host: hostname(), time: "2020-01-01T00:00:00Z", nonce: "x" }));
  await refused(t, dir, ["new-cert", "x"], /^pki: depot is locked by pid \d+ on .* since 2020-01-01T00:00:00Z; /, { opts: fast });
  const b = await pki(dir, ["doctor", "--break-lock"], fast);
  t.regex(b.stderr, /^Removed the lock held by pid \d+ on .* since 2020-01-01T00:00:00Z\n$/);
  await pkiOk(t, dir, ["new-cert", "x"], fast);
});

test("export racing renew --rekey: every export is one certificate with its own key", async (t) => {
  t.timeout(LONG);
  const dir = await cheapDepot(t);
  await pkiOk(t, dir, ["new-cert", "web"], { env });
  await pkiOk(t, dir, ["sign", "web"], { env });
  let n = 0;
  const exportOnce = async () => {
    const out = join(dir, `x${n++}`);
    mkdirSync(out);
    const r = await pki(dir, ["export", "--insecure", "web"], { env });
    t.is(r.code, 0, r.stderr);
    const x = await run("tar", ["xf", "-", "-C", out], { input: r.stdout });
    t.is(x.code, 0, x.stderr);
    const certKey = await run("openssl", ["x509", "-in", join(out, "web.crt"), "-noout", "-pubkey"]);
    const key = await run("openssl", ["pkey", "-in", join(out, "web.key.insecure"), "-pubout"]);
    t.is(certKey.code + key.code, 0);
    t.is(key.out, certKey.out, "the exported key is the exported certificate's");
  };
  for (let round = 0; round < 3; round++) {
    let done = false;
    const renew = pkiOk(t, dir, ["renew", "--rekey", "web"], { env }).finally(() => { done = true; });
    const racers = Array.from({ length: 2 }, async () => { do await exportOnce(); while (!done); });
    await Promise.all([renew, ...racers]);
  }
  t.true(n >= 6);
});

test("serve caps connections: a burst beyond the cap is dropped on accept, curl gets through once it ends", async (t) => {
  t.timeout(LONG);
  const { makeOpensslPki } = await import("./_peers.js");
  const { startServer } = await import("../dist/lib/tls/server.js");
  const net = await import("node:net");
  const p = makeOpensslPki(t, "ec");
  const s = await startServer({ host: "127.0.0.1", port: 0, certPem: readFileSync(p.f("leaf.crt"), "utf8"), keyPem: readFileSync(p.f("leaf.key"), "utf8"), maxConnections: 20 });
  t.teardown(() => s.close());
  // 60 idle clients: the server drops the 40 over its cap on accept (without a cap, all 60 would stay open until
  // the handshake timeout; this waits for the 40 closes, so a missing cap fails by the test's timeout).
  let closed = 0;
  let enough;
  const forty = new Promise((r) => { enough = r; });
  const sockets = Array.from({ length: 60 }, () => {
    const c = net.connect(s.port, "127.0.0.1");
    c.on("error", () => {});
    c.on("close", () => { if (++closed === 40) enough(); });
    return c;
  });
  t.timeout(60_000, "40 sockets over the cap closed by the server");
  await forty;
  await new Promise((r) => s.server.getConnections((e, n) => { t.true(n <= 20, `${n} held`); r(); }));
  for (const c of sockets) c.destroy();
  // The burst has ended once the server has seen its closes (under load that is after curl's connect could be).
  const held = () => new Promise((r) => s.server.getConnections((e, n) => r(n)));
  while ((await held()) > 0) await new Promise((r) => setTimeout(r, 20));
  const r = await run("curl", ["-sS", "--max-time", "20", "--cacert", p.f("ca.crt"), s.url]);
  t.is(r.code, 0, r.stderr);
});
