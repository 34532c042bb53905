// A layout-1 depot (index.json and files, made by this release's pki: scripts/make-layout1-fixture.sh) becomes
// DIR/depot.db: every entry, key (opened by openssl), history item, revocation, CRL number and ACME object survives,
// the old files go to layout1-backup/; a damaged layout 1 is refused in one line with nothing changed.
import test from "ava";
import {
  chmodSync, copyFileSync, cpSync, existsSync, readdirSync, readFileSync, renameSync, writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { openssl, ROOT, snapshot, tempDir } from "./_helpers.js";
import { clean, RECORDS } from "./_records.js";

process.env.PKI_TEST_ONLY_KDF_ITERATIONS = "1000"; // the fixture's (this test file runs in its own process)
const { upgradeLayout1, LAYOUT1_BACKUP } = await import(join(RECORDS, "layout1-upgrade.js"));
const { DepotError } = await import(join(ROOT, "dist", "store", "fsutil.js"));
const FIXTURE = join(ROOT, "test", "fixtures", "layout1");
const PASS_FILE = join(ROOT, "test", "fixtures", "layout1.pass");

/** A copy of the fixture (0700, as pki makes a depot) in a temp dir. */
function copy(t) {
  const dir = join(tempDir(t, "pki-layout1-"), "depot");
  cpSync(FIXTURE, dir, { recursive: true });
  chmodSync(dir, 0o700);
  return dir;
}
const pemDer = (text) => Buffer.from(text.replace(/-----[^-]+-----|\s/g, ""), "base64");
const collect = async (it) => { const out = []; for await (const x of it) out.push(x); return out; };

test("the layout-1 fixture upgrades, and everything in it survives", async (t) => {
  const dir = copy(t);
  const idx = JSON.parse(readFileSync(join(dir, "index.json"), "utf8"));
  const meta = JSON.parse(readFileSync(join(dir, "depot.json"), "utf8"));
  const up = await upgradeLayout1(dir);
  t.teardown(() => up.store.close());
  const old = (p) => join(dir, LAYOUT1_BACKUP, p);
  t.deepEqual(readdirSync(dir).filter((f) => !/-(wal|shm)$/.test(f)).sort(), ["depot.db", "kdf.json", LAYOUT1_BACKUP]);
  t.deepEqual(readdirSync(join(dir, LAYOUT1_BACKUP)).sort(), readdirSync(FIXTURE).sort());
  t.is(up.entries, Object.keys(idx.entries).length);

  await up.store.read(async (tx) => {
    t.deepEqual((await tx.depot()).kdf, meta.kdf);
    for (const { history, ...e } of Object.values(idx.entries)) {
      t.deepEqual(await tx.entry(e.name), clean(e), e.name);
      t.deepEqual(await tx.history(e.name), history ?? [], `${e.name}'s history`);
      if (e.serial) t.deepEqual(Buffer.from(await tx.blob({ name: e.name, kind: "cert" })),
        pemDer(readFileSync(old(e.name === "ca" ? "ca.crt" : `certs/${e.name}.crt`), "utf8")));
    }
    t.true(Object.values(idx.entries).some((e) => e.history?.length), "the fixture has history");
    for (const s of idx.serials) t.true(await tx.hasSerial(s), s);
    t.is(await tx.serialCount(), idx.serials.length);
    t.deepEqual(await collect(tx.removed()), idx.removed);

    // revocations: current, past and removed certificates the root revoked, as pki crl lists them
    const revoked = [
      ...Object.values(idx.entries).filter((e) => e.status === "revoked" && (e.issuer ?? "ca") === "ca")
        .map((e) => e.serial),
      ...Object.values(idx.entries).flatMap((e) => (e.history ?? []).filter((h) => h.revoked && h.issuer === "ca"))
        .map((h) => h.serial),
      ...idx.removed.filter((r) => r.revoked && r.issuer === "ca").map((r) => r.serial),
    ].sort();
    t.is(revoked.length, 3, "the fixture revokes a current, a past and a removed certificate");
    t.deepEqual((await collect(tx.revokedBy("ca"))).map((r) => r.serial).sort(), revoked);

    for (const [issuer, file] of [["ca", "ca.crl"], ["inter", "certs/inter.crl"]]) {
      const crl = await tx.crl(issuer);
      t.is(crl.number, idx.crlNumbers[issuer]);
      t.deepEqual(Buffer.from(crl.der), pemDer(readFileSync(old(file), "utf8")));
    }
    t.is(idx.crlNumbers.ca, 2);

    // every key, current and replaced, is the same encrypted PKCS#8 and opens with openssl and the passphrase
    const keys = Object.values(idx.entries).filter((e) => !e.external).map((e) => [e.name, undefined])
      .concat(Object.values(idx.entries).flatMap((e) => (e.history ?? []).map((h) => [e.name, h.serial]))
        .filter(([n, s]) => existsSync(old(`history/${n}.${s}.key`))));
    t.true(keys.some(([, s]) => s), "the fixture has a key replaced by --rekey");
    for (const [name, serial] of keys) {
      const der = Buffer.from(await tx.blob({ name, kind: "key", serial }));
      const file = serial ? `history/${name}.${serial}.key` : name === "ca" ? "ca.key" : `certs/${name}.key`;
      t.deepEqual(der, pemDer(readFileSync(old(file), "utf8")), file);
      const pem = `-----BEGIN ENCRYPTED PRIVATE KEY-----\n${der.toString("base64").replace(/.{64}/g, "$&\n")}\n` +
        "-----END ENCRYPTED PRIVATE KEY-----\n";
      const r = await openssl(["pkey", "-passin", `file:${PASS_FILE}`, "-noout"], { input: pem });
      t.is(r.code, 0, `${file}: ${r.stderr}`);
    }
    t.is(await tx.blob({ name: "external", kind: "key" }), undefined, "an external entry has no key");
    t.truthy(await tx.blob({ name: "external", kind: "csr" }));

    for (const kind of ["accounts", "orders", "authz"]) {
      const files = readdirSync(old(`acme/${kind}`));
      t.is(files.length, 1, `the fixture has an ACME ${kind} object`);
      for (const f of files)
        t.deepEqual(await tx.acmeGet(kind, f.slice(0, -5)), JSON.parse(readFileSync(old(`acme/${kind}/${f}`), "utf8")));
    }
    t.deepEqual(await tx.eab("team"), JSON.parse(readFileSync(old("acme/eab/team.json"), "utf8")));
    const order = readdirSync(old("acme/orders"))[0].slice(0, -5);
    t.regex((await tx.entryByAcmeOrder(order)).name, /^acme-/);
  });
});

test("ACME state of dns-01, wildcards and ARI (a dns-01 challenge, wildcard, replaces, renewNow) upgrades", async (t) => {
  const dir = copy(t);
  const one = (kind) => join(dir, `acme/${kind}`, readdirSync(join(dir, `acme/${kind}`))[0]);
  const edit = (file, fn) => writeFileSync(file, JSON.stringify(fn(JSON.parse(readFileSync(file, "utf8")))));
  edit(one("authz"), (z) => ({
    ...z,
    wildcard: true,
    challenges: [{ type: "dns-01", token: "t".repeat(43), status: "valid", validated: "2026-12-06T07:00:00.000Z" }],
  }));
  edit(one("orders"), (o) => ({ ...o, replaces: "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE", replacesCert: "web",
    renewNow: "2026-12-06T07:00:00.000Z" }));
  const up = await upgradeLayout1(dir);
  t.teardown(() => up.store.close());
  const old = (p) => join(dir, LAYOUT1_BACKUP, p);
  await up.store.read(async (tx) => {
    for (const kind of ["orders", "authz"]) {
      const f = readdirSync(old(`acme/${kind}`))[0];
      t.deepEqual(await tx.acmeGet(kind, f.slice(0, -5)), JSON.parse(readFileSync(old(`acme/${kind}/${f}`), "utf8")));
    }
    // which entry the order's certificate replaced goes with that certificate's entry (what `pki list` shows)
    const ord = readdirSync(old("acme/orders"))[0].slice(0, -5);
    t.is((await tx.entryByAcmeOrder(ord)).acme.replaces, "web");
  });
});

test("an upgrade that stopped after depot.db was linked finishes moving the old files", async (t) => {
  const dir = copy(t);
  const first = await upgradeLayout1(dir);
  await first.store.close();
  for (const f of readdirSync(join(dir, LAYOUT1_BACKUP))) renameSync(join(dir, LAYOUT1_BACKUP, f), join(dir, f));
  const again = await upgradeLayout1(dir);
  t.teardown(() => again.store.close());
  t.deepEqual(readdirSync(dir).filter((f) => !/-(wal|shm)$/.test(f)).sort(), ["depot.db", "kdf.json", LAYOUT1_BACKUP]);
  t.is(again.entries, first.entries);
});

const damage = [
  ["a bad serial in index.json", (dir) => {
    const idx = JSON.parse(readFileSync(join(dir, "index.json"), "utf8"));
    idx.entries.web.serial = "XYZ";
    writeFileSync(join(dir, "index.json"), JSON.stringify(idx));
  }, /^index\.json is damaged: entries\["web"\]\.serial is not lowercase hex/],
  ["a certificate file swapped for another entry's",
    (dir) => copyFileSync(join(dir, "certs/api.crt"), join(dir, "certs/web.crt")),
    /^certs\/web\.crt is not the certificate index\.json records \(serial [0-9a-f]+\): run 'pki doctor'$/],
  ["a key that is not PEM", (dir) => writeFileSync(join(dir, "certs/web.key"), "garbage\n"), /certs\/web\.key/],
  ["an ACME order with a bad status", (dir) => {
    const d = join(dir, "acme/orders");
    const f = join(d, readdirSync(d)[0]);
    writeFileSync(f, JSON.stringify({ ...JSON.parse(readFileSync(f, "utf8")), status: "stolen" }));
  }, /^acme\/orders\/\w+\.json is damaged: acme\.orders\["\w+"\]\.status is not one of/],
];
for (const [what, edit, re] of damage) {
  test(`the upgrade refuses ${what} in one line and changes nothing`, async (t) => {
    const dir = copy(t);
    edit(dir);
    const before = snapshot(dir);
    const e = await t.throwsAsync(upgradeLayout1(dir));
    t.true(e instanceof DepotError, e.stack);
    t.regex(e.message, re);
    t.false(e.message.includes("\n"));
    t.deepEqual(snapshot(dir), before);
  });
}

test("SIGKILL during the upgrade: layout 1 stays whole or depot.db is complete; the next call finishes", async (t) => {
  t.timeout(180_000);
  const { spawn } = await import("node:child_process");
  const idx = JSON.parse(readFileSync(join(FIXTURE, "index.json"), "utf8"));
  const outcomes = new Set();
  for (const ms of [0, 10, 25, 50, 100, 200, 400, 800]) {
    const dir = copy(t);
    const child = spawn(process.execPath, ["--input-type=module", "-e",
      `const { upgradeLayout1 } = await import(${JSON.stringify(join(RECORDS, "layout1-upgrade.js"))});
       process.stdout.write("start\\n");
       const up = await upgradeLayout1(${JSON.stringify(dir)}); await up.store.close();`],
    { env: { ...process.env, PKI_TEST_ONLY_KDF_ITERATIONS: "1000" }, stdio: ["ignore", "pipe", "ignore"] });
    const exited = new Promise((r) => child.on("exit", r));
    await new Promise((r) => child.stdout.once("data", r)); // loaded: the kill lands in the upgrade itself
    await new Promise((r) => setTimeout(r, ms));
    child.kill("SIGKILL");
    await exited;
    const hasDb = existsSync(join(dir, "depot.db"));
    // before the link: layout 1 exactly as it was (its files, not moved); after: depot.db whole
    const files = (d) => Object.fromEntries(Object.entries(snapshot(d)).filter(([f]) => !/^\.|^lock/.test(f)));
    if (!hasDb) t.deepEqual(files(dir), files(FIXTURE), `${ms} ms`);
    outcomes.add(hasDb ? (existsSync(join(dir, "index.json")) ? "linked" : "moved") : "layout 1");
    const up = await upgradeLayout1(dir);
    try {
      // hidden: the temp database a kill before the link leaves ('pki doctor' removes those)
      t.deepEqual(readdirSync(dir).filter((f) => !/^\.|-(wal|shm)$/.test(f)).sort(), ["depot.db", "kdf.json", LAYOUT1_BACKUP]);
      t.is(up.entries, Object.keys(idx.entries).length, `${ms} ms`);
      t.is(up.serials, idx.serials.length, `${ms} ms`);
      await up.store.read(async (tx) => {
        for (const { history, ...e } of Object.values(idx.entries)) t.deepEqual(await tx.entry(e.name), clean(e));
      });
    } finally {
      await up.store.close();
    }
  }
  t.log(`outcomes: ${[...outcomes].join(", ")}`);
});
