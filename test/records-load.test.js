// The record store under load, with real processes: 8 writers at once all commit with distinct serials, a writer
// killed (SIGKILL) inside its transaction leaves all of a transaction or none, and 100,000 entries stream through
// list() in bounded memory.
import test from "ava";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { run } from "./_helpers.js";
import { newStore, RECORDS, SqliteStore } from "./_records.js";

/** Node running `body` (an ES module) with SqliteStore and entry() imported and the depot dir as DIR. */
const script = (dir, body) => `
  const { SqliteStore } = await import(${JSON.stringify(join(RECORDS, "sqlite.js"))});
  const { entry } = await import(${JSON.stringify(new URL("./_records.js", import.meta.url).pathname)});
  const DIR = ${JSON.stringify(dir)};
  ${body}`;
const node = (args, code, opts) => run(process.execPath, [...args, "--input-type=module", "-e", code], opts);

test("8 processes writing 25 transactions each at once: every one commits, 200 distinct serials", async (t) => {
  t.timeout(180_000);
  const { dir, store } = await newStore(t);
  await store.close();
  const writer = (w) => script(dir, `
    const { randomBytes } = await import("node:crypto");
    const store = await SqliteStore.open(DIR);
    for (let i = 0; i < 25; i++) {
      await store.write(async (tx) => {
        const serial = randomBytes(16).toString("hex").replace(/^0+/, "");
        await tx.reserveSerial(serial);
        await tx.putEntry(entry("w${w}-" + i, { serial }));
      });
    }
    await store.close();`);
  const results = await Promise.all(Array.from({ length: 8 }, (_, w) => node([], writer(w), { env: { ...process.env,
    PKI_LOCK_TIMEOUT_MS: "120000" } })));
  for (const r of results) t.is(r.code, 0, r.stderr);
  const s = await SqliteStore.open(dir);
  t.teardown(() => s.close());
  const entries = [];
  for await (const e of s.list()) entries.push(e);
  t.is(entries.length, 200);
  t.is(new Set(entries.map((e) => e.serial)).size, 200);
  t.is(await s.read((tx) => tx.serialCount()), 200);
});

test("SIGKILL of a writer inside its transaction leaves none of it; of its committed one, all", async (t) => {
  const { dir, store } = await newStore(t);
  await store.close();
  const child = spawn(process.execPath, ["--input-type=module", "-e", script(dir, `
    const store = await SqliteStore.open(DIR);
    await store.write(async (tx) => { for (let i = 0; i < 300; i++) await tx.putEntry(entry("done" + i)); });
    await store.write(async (tx) => {
      for (let i = 0; i < 300; i++) await tx.putEntry(entry("half" + i));
      process.stdout.write("inside\\n");
      await new Promise(() => setInterval(() => {}, 1000)); // never commits
    });`)], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise((resolve) => child.stdout.on("data", (d) => String(d).includes("inside") && resolve()));
  child.kill("SIGKILL");
  await new Promise((resolve) => child.on("exit", resolve));
  const s = await SqliteStore.open(dir);
  t.teardown(() => s.close());
  t.is(await s.read((tx) => tx.count()), 300, "the committed transaction, all of it; the killed one, none");
  t.is(await s.read((tx) => tx.entry("half0")), undefined);
  t.truthy(await s.read((tx) => tx.entry("done299")));
  // and the depot takes writes again: the dead writer's lock went with it
  await s.write(async (tx) => tx.reserveSerial("01"));
});

test("a writer that waits too long for another says the depot is locked, by whom", async (t) => {
  const { dir, store } = await newStore(t);
  const child = spawn(process.execPath, ["--input-type=module", "-e", script(dir, `
    const store = await SqliteStore.open(DIR);
    await store.write(async () => {
      process.stdout.write("holding\\n");
      await new Promise(() => setInterval(() => {}, 1000));
    });`)],
  { stdio: ["ignore", "pipe", "inherit"] });
  t.teardown(() => child.kill("SIGKILL"));
  await new Promise((resolve) => child.stdout.on("data", (d) => String(d).includes("holding") && resolve()));
  // this file's process only (ava runs each file in its own), and only while this write waits
  process.env.PKI_LOCK_TIMEOUT_MS = "300";
  const e = await t.throwsAsync(store.write(async (tx) => tx.reserveSerial("02")));
  delete process.env.PKI_LOCK_TIMEOUT_MS;
  t.regex(e.message, new RegExp(`^depot is locked by pid ${child.pid} \\(node\\); try again later$`));
  t.regex(e.message, /try again later$/);
  t.notRegex(e.message, /SQLITE/);
});

test("100,000 entries stream through list() in bounded memory", async (t) => {
  t.timeout(300_000);
  const { dir, store } = await newStore(t);
  await store.write(async (tx) => {
    const { entry } = await import("./_records.js");
    for (let i = 0; i < 100_000; i++) await tx.putEntry(entry(`host-${String(i).padStart(6, "0")}`, { days: i % 400 }));
  });
  await store.close();
  // A heap of 40 MB: 100,000 entries held at once (~100 MB of objects) would not fit; one page of 1,000 does.
  const lister = (pageSize) => script(dir, `
    const store = await SqliteStore.open(DIR);
    let n = 0, last = "";
    for await (const e of store.list({}, { pageSize: ${pageSize} })) {
      if (e.name <= last) throw new Error("order");
      last = e.name;
      n++;
    }
    await store.close();
    process.stdout.write(String(n));`);
  const r = await node(["--max-old-space-size=40"], lister(1000), { timeout: 240_000 });
  t.is(r.code, 0, r.stderr.slice(-500));
  t.is(r.out, "100000");
  const whole = await node(["--max-old-space-size=40"], lister(100_000), { timeout: 240_000 });
  t.not(whole.code, 0, "the same heap cannot hold them all at once: the bound is real");
});
