// A child process of the depot crash and concurrency tests (test/depot-crash.test.js, depot-concurrency.test.js):
// works on a depot through the package's API and records, in a side file, each result only once the call has
// returned (one line, fsynced): whatever the side file holds was handed out, so the depot must record it.
//   node _depot-worker.mjs ops DEPOT SIDE SEED        issue/renew/revoke in a loop until killed
//   node _depot-worker.mjs issue DEPOT SIDE PREFIX N  N issuances, then exit
//   node _depot-worker.mjs upgrade DEPOT              openDepot's upgrade of a layout-1 depot
// DEPOT is a directory (openDepot) or a postgresql:// URL (the same operations on a PgStore session). "ready" on
// stdout once the depot is open: a kill after it lands in the work, not in node's start-up.
import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const DIST = fileURLToPath(new URL("../dist/", import.meta.url));
const PASS = process.env.WORKER_PASSPHRASE;
const [mode, depot, side, arg, count] = process.argv.slice(2);

async function open() {
  if (!/^postgres(ql)?:/.test(depot)) {
    const { openDepot } = await import(join(DIST, "store/depot/index.js"));
    return openDepot({ depot, passphrase: PASS, upgrade: mode === "upgrade" });
  }
  // openDepot takes a directory today: the same operations over a PgStore session, as it will run them.
  const { PgStore } = await import(join(DIST, "store/records/postgres.js"));
  const { Session } = await import(join(DIST, "store/depot/session.js"));
  const { deriveKey } = await import(join(DIST, "lib/formats/kdf.js"));
  const { issue } = await import(join(DIST, "store/depot/issue.js"));
  const store = await PgStore.open(depot);
  const d = await store.read((tx) => tx.depot());
  const salt = Buffer.from(d.kdf.salt, "base64");
  const key = Buffer.from(await deriveKey(PASS, salt, d.kdf.iterations));
  const s = new Session(depot, store, { salt, iterations: d.kdf.iterations, key }, PASS);
  return { issue: (name, o) => issue(s, name, o), close: () => s.close() };
}

/** Appends one JSON line to the side file, durably, after the call it records has returned. */
function record(obj) {
  const fd = openSync(side, "a");
  try {
    writeSync(fd, JSON.stringify(obj) + "\n");
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

const d = await open();
process.stdout.write("ready\n");
if (mode === "upgrade") {
  await d.close();
} else if (mode === "issue") {
  for (let i = 0; i < Number(count); i++) {
    const r = await d.issue(`${arg}-${i}`, { domains: [`${arg}-${i}.example`] });
    record({ op: "issue", name: r.name, serial: r.serial, certificate: r.certificate });
  }
  await d.close();
} else if (mode === "ops") {
  const live = [];
  for await (const e of d.list({ status: "signed" })) if (e.kind === "leaf") live.push(e.name);
  const pick = () => live[Math.floor(Math.random() * live.length)];
  for (let i = 0; ; i++) {
    const op = live.length < 3 ? "issue" : ["issue", "renew", "issue", "revoke"][i % 4];
    const target = op === "issue" ? `${arg}-${i}` : pick();
    record({ begin: op, name: target }); // the call in flight, should the kill come now
    if (op === "issue") {
      const r = await d.issue(target, { domains: [`${target}.example`] });
      live.push(target);
      record({ op, name: target, serial: r.serial, certificate: r.certificate });
    } else if (op === "renew") {
      const r = await d.renew(target, i % 8 === 1 ? { rekey: true } : {});
      record({ op, name: r.name, serial: r.serial, certificate: r.certificate });
    } else {
      live.splice(live.indexOf(target), 1);
      const r = await d.revoke(target, { reason: "superseded" });
      record({ op, name: target, serial: r.serial });
    }
  }
} else {
  throw new Error(`unknown mode ${mode}`);
}
