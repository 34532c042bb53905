// Helpers shared by serve.test.js and check.test.js: a seed-flow cert set, `pki serve` as a child.
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PKI, pkiOk, newDepot, issue, untar, openssl } from "./_helpers.js";

/** A depot with server1 (IP 127.0.0.1, DNS localhost) and `clients`, exported as the guide's flow does (+ `extra` names). */
export async function seedSet(t, { clients = ["client1"], extra = {} } = {}) {
  const dir = await newDepot(t);
  const certs = { server1: ["--ip", "127.0.0.1", "--domain", "localhost"], ...Object.fromEntries(clients.map((c) => [c, []])), ...extra };
  await Promise.all(Object.entries(certs).map(([n, args]) => issue(t, dir, n, args)));
  const tars = await Promise.all([["export"], ...Object.keys(certs).map((n) => ["export", "--insecure", "--passphrase-file", "pass", n])].map((a) => pkiOk(t, dir, a)));
  for (const r of tars) await untar(t, dir, r.stdout);
  return dir;
}

/**
 * One set per test worker, built once and only read by the tests (key derivation is slow on a busy machine):
 *   dir:   server1 (127.0.0.1, localhost), server2 (DNS etcd.example only), client1, client2 (revoked: ca.crl from
 *          `pki revoke` + `pki crl`), enc/server1.{crt,key} (the encrypted export), client.p12 (the guide's openssl command,
 *          password "pass")
 *   other: another CA with its own server1 (usage peer: it serves as a foreign client too)
 */
let shared;
export function sharedSet(test) {
  // Building it runs ~20 pki processes: on a loaded machine that outlasts ava's 3-minute inactivity timeout,
  // which t.timeout() suspends for this test (ava's documented way to give one test longer).
  test.timeout(10 * 60_000, "the shared cert set and this test");
  shared ??= (async () => {
    const cleanups = [];
    process.once("exit", () => cleanups.forEach((f) => f()));
    const t = { fail: (m) => { throw new Error(m); }, is: (a, b, m) => { if (a !== b) throw new Error(m); }, teardown: (f) => cleanups.push(f) };
    const [dir, other] = await Promise.all([seedSet(t, { clients: ["client1", "client2"], extra: { server2: ["--domain", "etcd.example"] } }), seedSet(t, { clients: [] })]);
    const enc = await pkiOk(t, dir, ["export", "server1"]);
    mkdirSync(join(dir, "enc"));
    await untar(t, join(dir, "enc"), enc.stdout);
    await pkiOk(t, dir, ["revoke", "client2"]);
    writeFileSync(join(dir, "ca.crl"), (await pkiOk(t, dir, ["crl", "--passphrase-file", "pass"])).stdout);
    const p12 = await openssl(["pkcs12", "-export", "-in", "client1.crt", "-inkey", "client1.key.insecure", "-out", "client.p12", "-password", "pass:pass"], { cwd: dir });
    if (p12.code) throw new Error(p12.stderr);
    return { dir, other };
  })();
  return shared;
}

/** Starts `pki serve --port 0 ARGS` in `dir`; resolves with its port once the ready line is printed. */
export function serve(t, dir, args, env = {}) {
  const child = spawn(process.execPath, [PKI, "serve", "--port", "0", ...args], { cwd: dir, env: { ...process.env, PKI_DEPOT: join(dir, ".pki"), ...env } });
  const s = { child, stdout: "", stderr: "", exited: new Promise((r) => child.on("exit", (code, signal) => r({ code, signal }))) };
  const waiters = [];
  child.stderr.on("data", (d) => { s.stderr += d; for (const w of waiters) if (w.re.test(s.stderr)) w.resolve(s.stderr); });
  /** Resolves once the server's log (stderr) matches `re`; the log line may arrive after curl has its answer. */
  s.exited.then(() => { for (const w of waiters) w.resolve(s.stderr); }); // exited without the line: the assertion fails now
  s.log = (re) => re.test(s.stderr) ? Promise.resolve(s.stderr) : new Promise((resolve) => waiters.push({ re, resolve }));
  t.teardown(async () => { if (child.exitCode === null && child.signalCode === null) { child.kill("SIGTERM"); await s.exited; } });
  s.ready = new Promise((resolve, reject) => {
    child.stdout.on("data", (d) => {
      s.stdout += d;
      const m = /^serving https:\/\/127\.0\.0\.1:(\d+)\/v1\/versions/m.exec(s.stdout);
      if (m) resolve(Number(m[1]));
    });
    s.exited.then(({ code }) => reject(new Error(`pki serve exited ${code}: ${s.stderr}`)));
  });
  return s;
}

/** Asserts that the server logs a line matching `re` (waits for it: the line may come after curl's answer). */
export async function logged(t, s, re) {
  t.regex(await s.log(re), re);
}
