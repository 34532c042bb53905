// Many pki processes on one depot: the lock serialises them, serials stay unique, the index loses nothing.
import test from "ava";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { x509 } from "../dist/lib/x509/peculiar.js";
import { openssl, pki, pkiOk, snapshot } from "./_helpers.js";
import { cheapDepot, deadPid, env, lockRecord, progress } from "./_stress.js";

const LONG = 10 * 60_000; // per test: CLI runs take seconds on an idle machine, minutes on a loaded one

const lockOf = (dir) => join(dir, ".pki", "lock");
const leftovers = (dir) => [...readdirSync(join(dir, ".pki")), ...readdirSync(join(dir, ".pki", "certs"))].filter((n) => n.startsWith(".") || n.startsWith("lock"));

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

  const idx = JSON.parse(readFileSync(join(dir, ".pki", "index.json"), "utf8"));
  const names = Object.keys(idx.entries).filter((n) => n !== "ca");
  t.is(names.length, W * N, "every new-cert left its index entry");
  t.is(new Set(idx.serials).size, idx.serials.length, "no serial recorded twice");
  t.is(idx.serials.length, W * N + 1);
  const serials = new Set();
  for (const n of names) {
    const e = idx.entries[n];
    t.is(e.status, "signed", n);
    const cert = new x509.X509Certificate(readFileSync(join(dir, ".pki", "certs", `${n}.crt`), "utf8"));
    t.is(cert.serialNumber.toLowerCase(), e.serial, `${n}: the index records the serial of the certificate on disk`);
    t.deepEqual(e.sans.ips, [`10.0.${n.slice(1).split("-c").join(".")}`]);
    serials.add(e.serial);
  }
  t.is(serials.size, W * N, "200 distinct serials");

  const files = names.map((n) => join(dir, ".pki", "certs", `${n}.crt`));
  const v = await openssl(["verify", "-CAfile", join(dir, ".pki", "ca.crt"), ...files]);
  t.is(v.code, 0, v.stderr);
  t.is(v.out.split("\n").filter((l) => l.endsWith(": OK")).length, W * N);

  const doc = await pki(dir, ["doctor"], { env });
  t.is(doc.code, 0, doc.out + doc.stderr);
  t.regex(doc.stderr, /consistent: 201 entries, 201 certificates verified, 201 keys compared/);
  t.deepEqual(leftovers(dir), [], "no lock or temp file left behind");
});

test("a lock whose process is gone is broken; the command succeeds and leaves no lock", async (t) => {
  t.timeout(LONG);
  const dir = await cheapDepot(t);
  writeFileSync(lockOf(dir), lockRecord(await deadPid()));
  await pkiOk(t, dir, ["new-cert", "a"], { env });
  t.true(JSON.parse(readFileSync(join(dir, ".pki", "index.json"), "utf8")).entries.a !== undefined);
  t.deepEqual(leftovers(dir), []);
});

test("a live lock: bounded wait, then 'depot is locked by pid N', nothing changed", async (t) => {
  t.timeout(LONG);
  const dir = await cheapDepot(t);
  const holder = spawn(process.execPath, ["-e", "setTimeout(() => {}, 3600000)"]);
  t.teardown(() => holder.kill("SIGKILL"));
  writeFileSync(lockOf(dir), lockRecord(holder.pid));
  const before = snapshot(dir);
  for (const args of [["new-cert", "a"], ["doctor"], ["doctor", "--fix"]]) {
    const r = await pki(dir, args, { env: { ...env, PKI_LOCK_TIMEOUT_MS: "300" } });
    t.not(r.code, 0, args.join(" "));
    t.regex(r.stderr, new RegExp(`^pki: depot is locked by pid ${holder.pid} on `), args.join(" "));
    t.is(r.stderr.trim().split("\n").length, 1);
  }
  t.deepEqual(snapshot(dir), before);
  // The lock is released by its holder: the same command now goes through.
  holder.kill("SIGKILL");
  await new Promise((r) => holder.on("exit", r));
  await pkiOk(t, dir, ["new-cert", "a"], { env });
});

test("a lock from another host is never broken; an unreadable lock is broken only once it is old", async (t) => {
  t.timeout(LONG);
  const dir = await cheapDepot(t);
  const slow = { env: { ...env, PKI_LOCK_TIMEOUT_MS: "200" } };
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
