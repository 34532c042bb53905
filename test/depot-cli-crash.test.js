// The CLI on depot.db killed mid-run: SIGKILL at random moments of pki issue, new-cert, sign, renew (--rekey too),
// revoke and crl, half of them within milliseconds of the first write reaching the database's log (the commit).
// A command's changes are one transaction: after every kill the depot is whole (every certificate with its recorded
// serial, no serial twice or left reserved, no row unowned, the latest CRL carrying the number recorded for it),
// a command that exited 0 left all of its work, and `pki doctor` finds the depot consistent.
import test from "ava";
import { spawn } from "node:child_process";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openssl, PASS, PKI, pkiOk, ROOT, tempDir } from "./_helpers.js";
import { checkStore, doctorOk, orphanRows, verifyAll } from "./_depot-check.js";
import { progress } from "./_stress.js";

process.env.PKI_TEST_ONLY_KDF_ITERATIONS = "1000"; // for every pki this file runs, and this process's checks
const { SqliteStore } = await import(join(ROOT, "dist", "store", "records", "sqlite.js"));
const env = { PKI_PASSPHRASE: PASS };

/** Runs `pki ARGS`; SIGKILLs it `delay` ms after its start, or `afterWrite` ms after depot.db-wal first grows. */
function killedRun(dir, args, { delay, afterWrite }) {
  const depot = join(dir, ".pki");
  const child = spawn(process.execPath, [PKI, ...args], {
    cwd: dir, env: { ...process.env, ...env, PKI_DEPOT: depot }, stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "", done = false;
  child.stderr.on("data", (d) => { stderr += d; });
  const exited = new Promise((r) => child.on("close", (code, signal) => { done = true; r({ code, signal, stderr }); }));
  if (afterWrite === undefined) setTimeout(() => child.kill("SIGKILL"), delay);
  else {
    const poll = () => {
      if (done) return;
      if ((statSync(join(depot, "depot.db-wal"), { throwIfNoEntry: false })?.size ?? 0) > 0)
        setTimeout(() => child.kill("SIGKILL"), afterWrite);
      else setImmediate(poll);
    };
    poll();
  }
  return exited;
}

/** What the store says now: entries by name, and the root's CRL number. */
async function state(depot) {
  const store = await SqliteStore.open(depot);
  try {
    return await store.read(async (tx) => {
      const entries = new Map();
      for await (const e of tx.list()) entries.set(e.name, e);
      return { entries, crl: (await tx.crl("ca"))?.number ?? 0 };
    });
  } finally {
    await store.close();
  }
}

/** Whether the command's whole effect is in `after` (what it changes, compared with `before`). */
function applied([cmd, ...args], before, after) {
  const name = args.at(-1);
  switch (cmd) {
    case "issue": return after.entries.get(args[0])?.status === "signed";
    case "new-cert": return after.entries.get(name)?.status === "unsigned";
    case "sign": return after.entries.get(name)?.status === "signed";
    case "renew": return after.entries.get(name)?.serial !== before.entries.get(name)?.serial;
    case "revoke": return after.entries.get(name)?.status === "revoked";
    case "crl": return after.crl === before.crl + 1;
    default: throw new Error(cmd);
  }
}

/** The latest CRL in the store carries the number recorded beside it (both written in one transaction). */
async function crlAgrees(t, dir, label) {
  const store = await SqliteStore.open(join(dir, ".pki"));
  const c = await store.read((tx) => tx.crl("ca")).finally(() => store.close());
  if (!c?.der) return;
  writeFileSync(join(dir, "latest.crl"), c.der);
  const r = await openssl(["crl", "-inform", "DER", "-in", join(dir, "latest.crl"), "-noout", "-crlnumber"]);
  const m = /^crlNumber=0x([0-9A-F]+)$/.exec(r.out.trim());
  t.is(m && parseInt(m[1], 16), c.number, `${label}: ${r.out}${r.stderr}`);
}

test("SIGKILL at 36 random moments of pki issue, new-cert, sign, renew, revoke and crl on depot.db", async (t) => {
  t.timeout(10 * 60_000);
  const dir = tempDir(t, "pki-cli-crash-");
  const depot = join(dir, ".pki");
  writeFileSync(join(dir, "pass"), PASS + "\n");
  await pkiOk(t, dir, ["init"], { env });
  const t0 = Date.now();
  for (const n of ["seed1", "seed2", "seed3"]) await pkiOk(t, dir, ["issue", n, `${n}.example`], { env });
  const span = Math.max(300, ((Date.now() - t0) / 3) * 1.2); // one command's run here, start-up included
  const TRIALS = 36;
  const tally = { killed: 0, finished: 0, applied: 0, none: 0 };
  for (let i = 0; i < TRIALS; i++) {
    const before = await state(depot);
    const leaves = [...before.entries.values()].filter((e) => e.kind === "leaf");
    const signed = leaves.filter((e) => e.status === "signed").map((e) => e.name);
    const unsigned = leaves.filter((e) => e.status === "unsigned").map((e) => e.name);
    const pick = signed[i % signed.length];
    const op = ["new-cert", "sign", "issue", "renew", "revoke", "crl"][i % 6];
    const args = op === "sign" && unsigned.length ? ["sign", unsigned[0]]
      : op === "issue" ? ["issue", `i${i}`, `i${i}.example`, "10.9.0.1"]
        : op === "renew" ? ["renew", ...(i % 12 === 3 ? ["--rekey"] : []), pick]
          : op === "revoke" ? ["revoke", pick]
            : op === "crl" ? ["crl"]
              : ["new-cert", "--domain", `n${i}.example`, `n${i}`];
    const when = i % 2 ? { afterWrite: Math.random() * 10 } : { delay: Math.random() * span };
    const label = `trial ${i + 1}: pki ${args.join(" ")} killed ${JSON.stringify(when)}`;
    const r = await killedRun(dir, args, when);
    const after = await state(depot);
    const did = applied(args, before, after);
    if (r.signal === "SIGKILL") {
      tally.killed++;
      tally[did ? "applied" : "none"]++;
    } else {
      tally.finished++;
      t.is(r.code, 0, `${label}: ${r.stderr}`);
      t.true(did, `${label}: exited 0, so all of its work is in the depot`);
    }
    const store = await SqliteStore.open(depot);
    await checkStore(t, store, [], label).finally(() => store.close());
    t.is(await orphanRows(t, join(depot, "depot.db")), "0 0", label);
    await crlAgrees(t, dir, label);
    await doctorOk(t, dir, depot, label);
    if (i % 9 === 8) progress(t, `${i + 1}/${TRIALS} trials: ${JSON.stringify(tally)}`);
  }
  t.log(`${TRIALS} trials: ${tally.killed} killed mid-run (${tally.applied} of them had committed, ${tally.none} ` +
    `left no trace), ${tally.finished} finished first`);
  t.true(tally.killed >= TRIALS / 3, "a good share of the trials really were interrupted");

  // The depot works on, and openssl verifies every current certificate against the root.
  await pkiOk(t, dir, ["issue", "after", "after.example"], { env });
  const store = await SqliteStore.open(depot);
  try {
    const current = await checkStore(t, store, [], "at the end");
    const ca = await store.read((tx) => tx.blob({ name: "ca", kind: "cert" }));
    await verifyAll(t, dir, ca, current);
  } finally {
    await store.close();
  }
  await doctorOk(t, dir, depot, "at the end", { keys: true });
});
