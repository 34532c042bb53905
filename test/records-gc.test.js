// better-sqlite3 12's native objects abort node >= 24.19 when the garbage collector frees one outside a JS context
// ("Assertion failed: (env) != nullptr"): .ci/run runs the suite on node 24 too, where this child aborts unless the
// store keeps them (store/records/sqlite-open.ts). Stores opened and closed, pragmas run, garbage and idle turns.
import test from "ava";
import { join } from "node:path";
import { ROOT, run, tempDir } from "./_helpers.js";

const CHILD = `
import { chmodSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
const { SqliteStore } = await import(${JSON.stringify(join(ROOT, "dist", "store", "records", "sqlite.js"))});
const kdf = { salt: Buffer.alloc(16, 7).toString("base64"), iterations: 600000 };
const record = { kdf, created: new Date().toISOString() };
for (let i = 0; i < 60; i++) {
  const dir = mkdtempSync(join(process.argv[1], "d-"));
  chmodSync(dir, 0o700);
  const s = await SqliteStore.create(dir, record);
  await s.read(async (tx) => tx.depot());
  await s.close();
  const again = await SqliteStore.open(dir);
  await again.read(async (tx) => tx.serialCount());
  await again.close();
  const junk = [];
  for (let k = 0; k < 200000; k++) junk.push({ k });
  await new Promise((r) => setTimeout(r, 30));
}
console.log("ok");
`;

test("stores opened and closed many times, with garbage and idle time: the process ends normally", async (t) => {
  const dir = tempDir(t, "pki-records-gc-");
  const r = await run(process.execPath, ["--input-type=module", "-e", CHILD, dir], { timeout: 170_000 });
  t.is(r.signal, null, `the child died of ${r.signal} on node ${process.version}: ${r.stderr.split("\n")[2] ?? ""}`);
  t.is(r.code, 0, r.stderr);
  t.is(r.out.trim(), "ok");
});
