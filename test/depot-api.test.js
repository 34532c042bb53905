// The depot API (openDepot, "pki-depot/depot") on the record store, judged by real openssl: issue → get → list
// (filters) → revoke → crl, and bad input refused with one clear error, the depot byte-identical.
import test from "ava";
import {
  existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, symlinkSync, writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { PASS, ROOT, run, snapshot } from "./_helpers.js";
import { depotFiles, initDepot, InputError, issueToCrl, openDepot, openNew } from "./_depot.js";
import { layout1Depot, LAYOUT1_PASS } from "./_state.js";

test("issue → get → list → revoke → crl: openssl verifies the certificates, the key and the CRL", async (t) => {
  const { dir, depot, d } = await openNew(t);
  t.true(existsSync(join(depot, "depot.db")), "the layout-1 depot was upgraded to depot.db");
  await issueToCrl(t, d, dir);
});

test("the depot survives close and reopen: what was issued is there, under the same passphrase", async (t) => {
  const { depot, d } = await openNew(t);
  const web = await d.issue("web", { domains: ["web.example"] });
  await d.close();
  const d2 = await openDepot({ depot, passphrase: PASS });
  t.teardown(() => d2.close());
  t.is((await d2.get("web")).serial, web.serial);
  await d2.issue("two", { ips: ["127.0.0.1"] });
  t.is((await d2.get("two")).status, "signed");
});

test("bad input: one clear InputError, and the depot byte-identical", async (t) => {
  const { depot, d } = await openNew(t);
  await d.issue("web", { domains: ["web.example"] });
  await d.revoke("web");
  const before = depotFiles(depot);
  const refuse = async (p, re) => {
    const e = await t.throwsAsync(p, { instanceOf: InputError });
    t.regex(e.message, re);
    t.notRegex(e.message, /\n|SQLITE|at .*\.js/);
  };
  await refuse(d.get("nope"), /^unknown name "nope": see 'pki list'$/);
  await refuse(d.revoke("nope"), /^unknown name "nope"/);
  await refuse(d.issue("web", { domains: ["x.example"] }), /^"web" already exists in the depot$/);
  await refuse(d.issue("WEB", { domains: ["x.example"] }), /as "web": names may not differ only in case/);
  await refuse(d.issue("ca"), /reserved for the root CA/);
  await refuse(d.issue("x", { ips: ["999.1.1.1"] }), /999\.1\.1\.1/);
  await refuse(d.issue("x", { domains: ["bad domain"] }), /bad domain/);
  await refuse(d.issue("x", { key: "dsa" }), /unknown key type "dsa"/);
  await refuse(d.issue("x", { issuer: "nope" }), /^unknown issuer "nope"/);
  await refuse(d.issue("x", { issuer: "web" }), /"web" is not a CA/);
  await refuse(d.issue("../x"), /names are/);
  await refuse(d.revoke("web"), /already revoked/);
  await refuse(d.revoke("ca"), /root CA cannot be revoked/);
  await refuse(d.crl("web"), /not a CA/);
  t.throws(() => d.list({ status: "bogus" }), { instanceOf: InputError });
  t.throws(() => d.list({ expiringWithin: "soon" }), { instanceOf: InputError });
  t.deepEqual(depotFiles(depot), before);
});

test("a wrong passphrase: InputError, a layout-1 depot is not upgraded, an upgraded one unchanged", async (t) => {
  const { depot, d } = await openNew(t);
  await d.issue("web", { domains: ["web.example"] });
  await d.close();
  const before = snapshot(depot);
  const e = await t.throwsAsync(openDepot({ depot, passphrase: "wrong" }), { instanceOf: InputError });
  t.is(e.message, "wrong passphrase for the CA key");
  t.deepEqual(snapshot(depot), before);

  const l1 = join(layout1Depot(t), ".pki");
  const l1Before = snapshot(l1);
  await t.throwsAsync(openDepot({ depot: l1, passphrase: "wrong" }), { instanceOf: InputError });
  t.deepEqual(snapshot(l1), l1Before, "layout 1 stays as it was");
  // The right passphrase upgrades it to depot.db, as the first command that writes does.
  const up = await openDepot({ depot: l1, passphrase: LAYOUT1_PASS });
  await up.close();
  t.true(existsSync(join(l1, "depot.db")));
  await t.throwsAsync(openDepot({ depot: join(l1, "absent"), passphrase: PASS }), { message: /^no depot at / });
});

test.serial("the KDF runs once per openDepot: not per issuance, revocation or CRL", async (t) => {
  // Serial: no other test of this file runs meanwhile (the count is this process's).
  const { kdfRunCount } = await import(join(ROOT, "dist", "lib", "formats", "kdf.js"));
  const { depot } = await initDepot(t);
  const before = kdfRunCount();
  const d = await openDepot({ depot, passphrase: PASS, upgrade: true });
  t.teardown(() => d.close());
  for (const n of ["a", "b", "c"]) await d.issue(n, { domains: [`${n}.example`] });
  await d.revoke("b");
  await d.crl();
  t.is(kdfRunCount() - before, 1);
});

test("two openDepot handles on one depot issue at once: distinct serials, every certificate recorded", async (t) => {
  const { depot, d } = await openNew(t);
  const d2 = await openDepot({ depot, passphrase: PASS });
  t.teardown(() => d2.close());
  const names = Array.from({ length: 40 }, (_, i) => `n${i}`);
  const issued = await Promise.all(names.map((n, i) => (i % 2 ? d : d2).issue(n, { domains: [`${n}.example`] })));
  t.is(new Set(issued.map((c) => c.serial)).size, names.length);
  const listed = [];
  for await (const e of d2.list({ issuer: "ca" })) listed.push(`${e.name}:${e.serial}`);
  t.deepEqual(listed.sort(), issued.map((c) => `${c.name}:${c.serial}`).sort());
});

test("README's Depot API example runs against the package by name (pki-depot/depot)", async (t) => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const example = [...readme.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((m) => m[1])
    .find((b) => b.includes('from "pki-depot/depot"'));
  t.truthy(example, "README.md has a ```js block importing pki-depot/depot");
  const { dir } = await initDepot(t);
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(ROOT, join(dir, "node_modules", "pki-depot"));
  writeFileSync(join(dir, "example.mjs"), example);
  const env = { ...process.env, PKI_PASSPHRASE_FILE: join(dir, "pass"), PKI_TEST_ONLY_KDF_ITERATIONS: "1000" };
  const r = await run(process.execPath, ["example.mjs"], { cwd: dir, env });
  t.is(r.code, 0, r.stderr);
  t.regex(r.out, /^[0-9a-f]+ \d{4}-\d\d-\d\dT.*\nsigned\nCRL #1: 1 revoked\n$/);
});

test("an upgrade cut short after depot.db: a wrong passphrase changes nothing, the right one ends it", async (t) => {
  const depot = join(layout1Depot(t), ".pki");
  const first = await openDepot({ depot, passphrase: LAYOUT1_PASS }); // the upgrade
  const web = await first.get("web");
  await first.close();
  // As a crash between linking depot.db and moving layout 1 aside leaves it: both side by side.
  const backup = join(depot, "layout1-backup");
  for (const f of readdirSync(backup)) renameSync(join(backup, f), join(depot, f));
  rmdirSync(backup);
  const before = snapshot(depot);
  await t.throwsAsync(openDepot({ depot, passphrase: "wrong" }), { instanceOf: InputError });
  t.deepEqual(snapshot(depot), before);
  const d2 = await openDepot({ depot, passphrase: LAYOUT1_PASS });
  t.teardown(() => d2.close());
  t.false(existsSync(join(depot, "depot.json")), "layout 1 moved aside");
  t.true(existsSync(join(depot, "layout1-backup", "index.json")));
  t.is((await d2.get("web")).serial, web.serial);
});
