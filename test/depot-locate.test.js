// store/depot/locate.ts: where a command's depot is and its record store. A layout-1 depot opened to read is a
// snapshot in memory (every entry there, nothing on disk changed, writes refused); opened to write it is upgraded
// to depot.db; a URL is named without its password; a directory with no depot gets the one message every command
// gives.
import test from "ava";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pkiOk, ROOT, snapshot, tempDir } from "./_helpers.js";
import { LAYOUT1_PASS, layout1Depot } from "./_state.js";

const { locateDepot, openRecords, depotLabel } = await import(join(ROOT, "dist", "store", "depot", "locate.js"));

/** A copy of test/fixtures/layout1 (its KDF's 1000 rounds accepted in this process). */
const copy = (t) => join(layout1Depot(t), ".pki");

test("a layout-1 depot read: every entry, nothing on disk changed, no write; written: upgraded to depot.db", async (t) => {
  const dir = copy(t);
  const idx = JSON.parse(readFileSync(join(dir, "index.json"), "utf8"));
  const before = snapshot(dir);
  const where = locateDepot(dir);
  t.deepEqual(where, { kind: "dir", dir, format: "layout1" });
  const snap = await openRecords(where, { write: false });
  const names = [];
  for await (const e of snap.list()) names.push(e.name);
  t.deepEqual(names.sort(), Object.keys(idx.entries).sort());
  await t.throwsAsync(() => snap.write(async () => undefined), { message: /is open read-only .*nothing was written$/ });
  await snap.close();
  t.deepEqual(snapshot(dir), before, "reading changed nothing");
  t.false(existsSync(join(dir, "depot.db")));

  const store = await openRecords(where, { write: true });
  t.teardown(() => store.close());
  t.is(await store.read((tx) => tx.count()), names.length);
  t.true(existsSync(join(dir, "depot.db")));
  t.false(existsSync(join(dir, "index.json")));
  t.is(locateDepot(dir).format, "db");
});

test("pki doctor on a layout-1 depot checks its snapshot and changes nothing; --fix upgrades it, then checks depot.db",
  async (t) => {
    const top = layout1Depot(t), dir = join(top, ".pki");
    const env = { env: { PKI_PASSPHRASE: LAYOUT1_PASS } };
    const before = snapshot(dir);
    const consistent = /^Depot .*\.pki is consistent: (\d+) entries, \d+ certificates verified, \d+ keys compared/;
    const r = await pkiOk(t, top, ["doctor"], env);
    t.regex(r.stderr, consistent);
    t.deepEqual(snapshot(dir), before, "checking changed nothing");
    t.false(existsSync(join(dir, "depot.db")));
    const f = await pkiOk(t, top, ["doctor", "--fix"], env);
    t.regex(f.stderr, consistent);
    t.is(consistent.exec(f.stderr)[1], consistent.exec(r.stderr)[1], "the same entries, upgraded");
    t.true(existsSync(join(dir, "depot.db")));
    t.true(existsSync(join(dir, "layout1-backup", "index.json")));
  });

test("no depot: the message every command gives; PKI_DEPOT and URLs are read, a URL named without its password",
  async (t) => {
    const dir = tempDir(t, "pki-locate-");
    mkdirSync(join(dir, "x"));
    writeFileSync(join(dir, "x", "ca.crt"), "not a depot");
    await t.throwsAsync(() => openRecords(locateDepot(join(dir, "x")), { write: false }),
      { message: /^no depot at .*x \(it holds ca\.crt, but no depot\.json\)/ });
    await t.throwsAsync(() => openRecords(locateDepot(join(dir, "absent")), { write: true }),
      { message: /^no depot at .*absent: run 'pki init' first/ });
    t.false(existsSync(join(dir, "absent")));
    const url = "postgresql://pki:s3cret@127.0.0.1:1/db?schema=ca";
    const saved = process.env.PKI_DEPOT;
    process.env.PKI_DEPOT = url;
    try { t.deepEqual(locateDepot(), { kind: "postgres", url }); } finally {
      if (saved === undefined) delete process.env.PKI_DEPOT; else process.env.PKI_DEPOT = saved;
    }
    const label = await depotLabel(locateDepot(url));
    t.false(label.includes("s3cret"));
    t.regex(label, /^postgresql:\/\/pki@127\.0\.0\.1:1\/db/);
  });
