// Checks of a depot's records after crashes and races (test/depot-crash.test.js, depot-concurrency.test.js): what
// `pki doctor` will check on a depot.db, asserted from the record store itself, plus what the workers handed out
// (their side files, test/_depot-worker.mjs) against what the depot recorded.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { openssl, PASS, pki, ROOT, run } from "./_helpers.js";

export const WORKER = join(ROOT, "test", "_depot-worker.mjs");
const { CertInfo } = await import(join(ROOT, "dist", "lib", "x509", "certinfo.js"));
const pemDer = (pem) => Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ""), "base64");

/** Spawns the worker; `ready` resolves once the depot is open, `exited` with { code, signal, stderr }. */
export function worker(args, env = {}) {
  const child = spawn(process.execPath, [WORKER, ...args], {
    env: { ...process.env, WORKER_PASSPHRASE: PASS, ...env }, stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => { stderr += d; });
  const exited = new Promise((r) => child.on("close", (code, signal) => r({ code, signal, stderr })));
  const ready = new Promise((r) => {
    let out = "";
    child.stdout.on("data", (d) => { out += d; if (out.includes("ready\n")) r(true); });
    exited.then(() => r(false));
  });
  return { child, ready, exited };
}

/** The side file's lines; a last line cut short by the kill (its call had returned) is left out. */
export function sideLines(file) {
  if (!existsSync(file)) return [];
  const lines = readFileSync(file, "utf8").split("\n").filter(Boolean);
  return lines.flatMap((l, i) => {
    try { return [JSON.parse(l)]; } catch (e) { if (i === lines.length - 1) return []; throw e; }
  });
}

const certOf = (t, der, what) => {
  t.truthy(der, `${what}: no certificate`);
  return der ? new CertInfo(der) : undefined;
};

/**
 * The store is whole: every certificate (current and past) parses and carries the serial its record names, every
 * serial is recorded as issued once and belongs to exactly one certificate (none reserved by a write that did not
 * commit), every signed leaf has its key and CSR. Then every line of `side` (what workers handed out) is in it:
 * an issued or renewed certificate byte for byte, a revocation as revoked. Returns the current certificates (PEM).
 */
export async function checkStore(t, store, side = [], label = "") {
  const current = [];
  await store.read(async (tx) => {
    const serials = new Map();
    const claim = (serial, who) => {
      t.false(serials.has(serial), `${label}: serial ${serial} of ${who} is also that of ${serials.get(serial)}`);
      serials.set(serial, who);
    };
    const entries = new Map();
    for await (const e of tx.list()) {
      entries.set(e.name, { e, history: await tx.history(e.name) });
      if (e.status === "unsigned") continue;
      const cert = certOf(t, await tx.blob({ name: e.name, kind: "cert" }), `${label}: ${e.name}`);
      t.is(cert?.serialNumber, e.serial, `${label}: ${e.name}'s certificate carries the serial its record names`);
      t.true(await tx.hasSerial(e.serial), `${label}: ${e.name}'s serial is recorded as issued`);
      claim(e.serial, e.name);
      if (e.kind === "leaf" && !e.external) {
        t.truthy(await tx.blob({ name: e.name, kind: "key" }), `${label}: ${e.name} has its key`);
        t.truthy(await tx.blob({ name: e.name, kind: "csr" }), `${label}: ${e.name} has its CSR`);
      }
      if (e.kind === "leaf" && e.status === "signed") current.push(cert);
      for (const h of entries.get(e.name).history) {
        const der = await tx.blob({ name: e.name, kind: "cert", serial: h.serial });
        const past = certOf(t, der, `${label}: ${e.name}@${h.serial}`);
        t.is(past?.serialNumber, h.serial, `${label}: ${e.name}'s past certificate carries its serial`);
        t.true(await tx.hasSerial(h.serial), `${label}: ${e.name}'s past serial is recorded`);
        claim(h.serial, `${e.name} (past)`);
      }
    }
    for await (const r of tx.removed()) { // `pki rm`: the entry is gone, its serial stays issued
      t.true(await tx.hasSerial(r.serial), `${label}: removed ${r.name}'s serial is recorded`);
      claim(r.serial, `${r.name} (removed)`);
    }
    t.is(await tx.serialCount(), serials.size, `${label}: every recorded serial belongs to one certificate`);
    for (const line of side) {
      if (line.begin) continue;
      const rec = entries.get(line.name);
      const what = `${label}: ${line.op} ${line.name} (serial ${line.serial}) returned`;
      if (!rec) { t.fail(`${what}, but the depot has no such entry`); continue; }
      const past = rec.history.find((h) => h.serial === line.serial);
      if (rec.e.serial !== line.serial && !past) {
        t.fail(`${what}, but the depot never recorded that serial`);
        continue;
      }
      if (line.op === "revoke") t.truthy(past ? past.revoked : rec.e.revoked, `${what}: recorded as revoked`);
      else {
        const der = await tx.blob({ name: line.name, kind: "cert", ...(past ? { serial: line.serial } : {}) });
        t.deepEqual(Buffer.from(der ?? []), pemDer(line.certificate), `${what}: the depot holds that certificate`);
      }
    }
  });
  return current;
}

/** openssl verifies every certificate (DER CertInfo) against the CA's certificate, in one run. */
export async function verifyAll(t, dir, caDer, certs) {
  const { writeFileSync } = await import("node:fs");
  const pem = (c) =>
    `-----BEGIN CERTIFICATE-----\n${Buffer.from(c.rawData).toString("base64")}\n-----END CERTIFICATE-----\n`;
  const files = certs.map((c, i) => { const f = join(dir, `v${i}.pem`); writeFileSync(f, pem(c)); return f; });
  writeFileSync(join(dir, "ca-all.pem"), pem(new CertInfo(caDer)));
  for (let i = 0; i < files.length; i += 200) {
    const r = await openssl(["verify", "-x509_strict", "-CAfile", join(dir, "ca-all.pem"), ...files.slice(i, i + 200)]);
    t.is(r.code, 0, r.out + r.stderr);
    t.is(r.out.split("\n").filter((l) => l.endsWith(": OK")).length, files.slice(i, i + 200).length);
  }
}

/** Rows of depot.db no committed entry owns (a write that did not commit must leave none), by the sqlite3 shell. */
export async function orphanRows(t, db) {
  const r = await run("sqlite3", [db, "SELECT (SELECT count(*) FROM blobs WHERE name NOT IN (SELECT name FROM " +
    "entries)) || ' ' || (SELECT count(*) FROM history WHERE name NOT IN (SELECT name FROM entries))"]);
  t.is(r.code, 0, r.stderr);
  return r.out.trim();
}

/**
 * `pki doctor` finds DEPOT (a directory or URL) consistent, and with the passphrase (`keys`) opens and compares
 * every key too. `cwd` is any directory (pki's).
 */
export async function doctorOk(t, cwd, depot, label, { keys = false } = {}) {
  const r = await pki(cwd, ["doctor", "--depot", depot], keys ? { env: { PKI_PASSPHRASE: PASS } } : {});
  t.is(r.code, 0, `${label}: pki doctor: ${r.out}${r.stderr}`);
  t.regex(r.stderr, keys ? /is consistent: .*, (\d+) keys compared\n$/ : /is consistent: /, label);
  return r.stderr;
}
