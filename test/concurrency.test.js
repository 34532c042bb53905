// Many pki processes on one depot: the lock serialises them, serials stay unique, the index loses nothing.
import test from "ava";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { x509 } from "../dist/lib/x509/peculiar.js";
import { openssl, pki, pkiOk, snapshot } from "./_helpers.js";
import { cheapDepot, deadPid, env, lockRecord, progress } from "./_stress.js";
import { blobFile, depotFormat, entries, entry, LAYOUT1_PASS, layout1Depot, readDepot } from "./_state.js";

const LONG = 10 * 60_000; // per test: CLI runs take seconds on an idle machine, minutes on a loaded one

const lockOf = (dir) => join(dir, ".pki", "lock");
/** Lock and temp files left in the depot (and layout 1's certs/, absent once a write upgraded it to depot.db). */
const leftovers = (dir) => {
  const certs = join(dir, ".pki", "certs");
  return [...readdirSync(join(dir, ".pki")), ...(existsSync(certs) ? readdirSync(certs) : [])]
    .filter((n) => n.startsWith(".") || n.startsWith("lock") || /^depot\.db-/.test(n));
};

test("8 parallel processes × 25 new-cert+sign: 200 distinct serials, 200 certificates that verify, a consistent index", async (t) => {
  t.timeout(15 * 60_000); // 400 processes: 1-2 minutes on 2 idle cores, far more on a busy one
  const dir = await cheapDepot(t);
  const W = 8, N = 25;
  const failures = [];
  let done = 0;
  progress(t, `${W} processes at a time, ${2 * W * N} pki runs on one depot`);
  await Promise.all(Array.from({ length: W }, async (_, w) => {
    for (let i = 0; i < N; i++) {
      const name = `w${w}-c${i}`;
      for (const args of [["new-cert", "--ip", `10.0.${w}.${i}`, name], ["sign", name]]) {
        const r = await pki(dir, args, { env });
        if (r.code !== 0) failures.push(`${args.join(" ")}: ${r.stderr}`);
        if (++done % 50 === 0) progress(t, `${done}/${2 * W * N} runs done, ${failures.length} failed`);
      }
    }
  }));
  t.deepEqual(failures, []);

  // The depot as the commands read it, layout 1 (index.json, whose serials list the store reads) or depot.db.
  const all = await entries(dir);
  const names = Object.keys(all).filter((n) => n !== "ca");
  t.is(names.length, W * N, "every new-cert left its index entry");
  const reserved = await readDepot(dir, (tx) => tx.serialCount());
  if (depotFormat(dir) !== "db") {
    const recorded = JSON.parse(readFileSync(join(dir, ".pki", "index.json"), "utf8")).serials;
    t.is(new Set(recorded).size, recorded.length, "no serial recorded twice");
  } // depot.db: serials are its primary key
  t.is(reserved, W * N + 1);
  const serials = new Set();
  const files = [];
  for (const n of names) {
    const e = all[n];
    t.is(e.status, "signed", n);
    files.push(await blobFile(dir, n));
    const cert = new x509.X509Certificate(readFileSync(files.at(-1), "utf8"));
    t.is(cert.serialNumber.toLowerCase(), e.serial, `${n}: the index records the serial of the certificate on disk`);
    t.deepEqual(e.sans.ips, [`10.0.${n.slice(1).split("-c").join(".")}`]);
    serials.add(e.serial);
  }
  t.is(serials.size, W * N, "200 distinct serials");

  const v = await openssl(["verify", "-CAfile", await blobFile(dir, "ca"), ...files]);
  t.is(v.code, 0, v.stderr);
  t.is(v.out.split("\n").filter((l) => l.endsWith(": OK")).length, W * N);

  const doc = await pki(dir, ["doctor"], { env });
  t.is(doc.code, 0, doc.out + doc.stderr);
  t.regex(doc.stderr, /consistent: 201 entries, 201 certificates verified, 201 keys (compared|checked)/);
  t.deepEqual(leftovers(dir), [], "no lock or temp file left behind");
});

// The lock file is layout 1's (SQLite locks depot.db: test/depot-concurrency.test.js): these run on a copy of
// test/fixtures/layout1, not `pki init` (which makes depot.db once layout 1 retires); a command that writes then
// upgrades it, under this lock.
const l1 = { PKI_PASSPHRASE: LAYOUT1_PASS };

test("layout 1: a lock whose process is gone is broken; the command succeeds and leaves no lock", async (t) => {
  t.timeout(LONG);
  const dir = layout1Depot(t);
  writeFileSync(lockOf(dir), lockRecord(await deadPid()));
  await pkiOk(t, dir, ["new-cert", "a"], { env: l1 });
  t.truthy(await entry(dir, "a"));
  t.deepEqual(leftovers(dir), []);
});

test("layout 1: a live lock: bounded wait, then 'depot is locked by pid N', nothing changed", async (t) => {
  t.timeout(LONG);
  const dir = layout1Depot(t);
  const holder = spawn(process.execPath, ["-e", "setTimeout(() => {}, 3600000)"]);
  t.teardown(() => holder.kill("SIGKILL"));
  writeFileSync(lockOf(dir), lockRecord(holder.pid));
  const before = snapshot(dir);
  for (const args of [["new-cert", "a"], ["doctor"], ["doctor", "--fix"]]) {
    const r = await pki(dir, args, { env: { ...l1, PKI_LOCK_TIMEOUT_MS: "300" } });
    t.not(r.code, 0, args.join(" "));
    t.regex(r.stderr, new RegExp(`^pki: depot is locked by pid ${holder.pid} on `), args.join(" "));
    t.is(r.stderr.trim().split("\n").length, 1);
  }
  t.deepEqual(snapshot(dir), before);
  // The lock is released by its holder: the same command now goes through.
  holder.kill("SIGKILL");
  await new Promise((r) => holder.on("exit", r));
  await pkiOk(t, dir, ["new-cert", "a"], { env: l1 });
});

test("layout 1: a lock from another host is never broken; an unreadable lock is broken only once it is old", async (t) => {
  t.timeout(LONG);
  const dir = layout1Depot(t);
  const slow = { env: { ...l1, PKI_LOCK_TIMEOUT_MS: "200" } };
  writeFileSync(lockOf(dir), JSON.stringify({ pid: await deadPid(), host: "elsewhere.example", time: "2020-01-01T00:00:00Z", nonce: "x" }));
  const r = await pki(dir, ["new-cert", "a"], slow);
  t.regex(r.stderr, /^pki: depot is locked by pid \d+ on elsewhere\.example since 2020-01-01T00:00:00Z; .*'pki doctor --break-lock'/);
  writeFileSync(lockOf(dir), "garbage");
  const fresh = new Date(Date.now() + 60_000); // young however slow this machine is
  utimesSync(lockOf(dir), fresh, fresh);
  t.regex((await pki(dir, ["new-cert", "a"], slow)).stderr, /depot is locked by another process/);
  t.true(existsSync(lockOf(dir)));
  const old = new Date(Date.now() - 60_000);
  utimesSync(lockOf(dir), old, old);
  await pkiOk(t, dir, ["new-cert", "a"], slow);
  t.false(existsSync(lockOf(dir)));
});
