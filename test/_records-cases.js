// The record-store cases every backend must pass, written once: test/records-sqlite.test.js runs them on SQLite,
// test/records-postgres.test.js on a real PostgreSQL. `b` is the backend: { newStore(t) → { store, raw(sql) }
// (raw runs SQL with the backend's own shell, sqlite3 or psql, as an operator would), uniqueRefusal }.
import { clean, entry, NameTakenError, rootEntry, SerialTakenError } from "./_records.js";

export const CERT = Buffer.from("3003020105", "hex"); // one DER SEQUENCE: the shape a blob must have
export const KEY = Buffer.from("30073002050004 01aa".replace(/ /g, ""), "hex"); // EncryptedPrivateKeyInfo's shape
export const TOKEN = "t".repeat(43);
export const account = { id: "acct1", jwk: { kty: "EC", crv: "P-256", x: "x", y: "y" }, thumbprint: "tp",
  status: "valid", contact: ["mailto:ops@example.com"], eab: "team", created: "2026-05-01T00:00:00.000Z" };
export const authz = { id: "az1", account: "acct1", identifier: { type: "dns", value: "a.example" },
  expires: "2026-05-02T00:00:00.000Z", status: "valid",
  challenges: [{ type: "http-01", token: TOKEN, status: "valid", validated: "2026-05-01T00:01:00.000Z" }] };
export const order = { id: "ord1", account: "acct1", expires: "2026-05-02T00:00:00.000Z",
  identifiers: [{ type: "dns", value: "a.example" }], authzs: ["az1"], created: "2026-05-01T00:00:00.000Z",
  status: "valid", cert: "acme-0a1b" };

/** Declares the shared cases on `test` for backend `b`. */
export function recordStoreCases(test, b) {
  test("every record kind written in one transaction reads back equal", async (t) => {
    const { store } = await b.newStore(t);
    const inter = entry("inter", { kind: "ca", pathLength: 0, usage: undefined, alias: "intermediate_ca" });
    const web = entry("web", { issuer: "inter", eku: ["1.3.6.1.5.5.7.3.1"], external: true,
      acme: { account: "acct1", order: "ord1" } });
    const gone = { name: "old", serial: "0bad", issuer: "ca", notBefore: web.notBefore, notAfter: web.notAfter,
      revoked: { date: "2026-05-05T00:00:00.000Z", reason: "superseded" } };
    const past = { serial: "0c", issuer: "inter", notBefore: web.notBefore, notAfter: web.notAfter };
    const eab = { kid: "team", hmac: "h".repeat(43), created: "2026-05-01T00:00:00.000Z", account: "acct1",
      bound: "2026-05-01T00:00:01.000Z" };
    await store.write(async (tx) => {
      for (const e of [rootEntry(), inter, web]) { await tx.putEntry(e); await tx.reserveSerial(e.serial); }
      await tx.addHistory("web", past);
      await tx.addRemoved(gone);
      await tx.setSerialFloor("ff");
      await tx.putBlob({ name: "web", kind: "cert" }, CERT);
      await tx.putBlob({ name: "web", kind: "key" }, KEY);
      await tx.putBlob({ name: "web", kind: "csr", serial: "0c" }, CERT);
      t.is(await tx.nextCrlNumber("inter"), 1);
      t.is(await tx.nextCrlNumber("inter"), 2);
      await tx.putCrl("inter", CERT);
      for (const [k, o] of [["accounts", account], ["authz", authz], ["orders", order]]) await tx.acmePut(k, o);
      await tx.putEab(eab);
    });
    await store.read(async (tx) => {
      t.deepEqual(await tx.depot(), { kdf: { salt: Buffer.alloc(16, 7).toString("base64"), iterations: 600_000 },
        created: "2026-01-02T03:04:05.006Z", serialFloor: "ff" });
      t.deepEqual(await tx.entry("web"), clean(web));
      t.deepEqual(await tx.entry("inter"), clean(inter));
      t.deepEqual(await tx.entryFolded("WEB"), clean(web));
      t.deepEqual(await tx.entryBySerial(web.serial), clean(web));
      t.deepEqual(await tx.entryByAcmeOrder("ord1"), clean(web));
      t.deepEqual(await tx.history("web"), [past]);
      t.deepEqual(await collect(tx.removed()), [gone]);
      t.true(await tx.hasSerial(web.serial));
      t.false(await tx.hasSerial("0d"));
      t.is(await tx.serialCount(), 3);
      t.deepEqual(Buffer.from(await tx.blob({ name: "web", kind: "cert" })), CERT);
      t.deepEqual(Buffer.from(await tx.blob({ name: "web", kind: "key" })), KEY);
      t.deepEqual(Buffer.from(await tx.blob({ name: "web", kind: "csr", serial: "0c" })), CERT);
      t.is(await tx.blob({ name: "web", kind: "csr" }), undefined);
      const crl = await tx.crl("inter");
      t.deepEqual([crl.number, Buffer.from(crl.der)], [2, CERT]);
      t.deepEqual(await tx.acmeGet("accounts", "acct1"), account);
      t.deepEqual(await tx.acmeGet("authz", "az1"), authz);
      t.deepEqual(await tx.acmeGet("orders", "ord1"), order);
      t.deepEqual(await collect(tx.acmeList("orders")), [order]);
      t.deepEqual(await tx.eab("team"), eab);
    });
  });

  test("revocation, renewal's blob retirement, rm and the CRL list of an issuer", async (t) => {
    const { store } = await b.newStore(t);
    const web = entry("web");
    await store.write(async (tx) => {
      await tx.putEntry(rootEntry());
      await tx.putEntry(web);
      await tx.putBlob({ name: "web", kind: "cert" }, CERT);
      await tx.addHistory("web", { serial: "0c", issuer: "ca", notBefore: web.notBefore, notAfter: web.notAfter });
      t.true(await tx.revoke("web", "0c", { date: "2026-05-05T00:00:00.000Z", reason: "keyCompromise" }));
      t.true(await tx.revoke("web", web.serial, { date: "2026-05-06T00:00:00.000Z", reason: "superseded" }));
      t.false(await tx.revoke("web", "0d", { date: "2026-05-06T00:00:00.000Z", reason: "superseded" }));
      await tx.retireBlob("web", "cert", web.serial);
    });
    await store.read(async (tx) => {
      const e = await tx.entry("web");
      t.deepEqual([e.status, e.revoked], ["revoked", { date: "2026-05-06T00:00:00.000Z", reason: "superseded" }]);
      t.deepEqual((await collect(tx.revokedBy("ca"))).map((r) => r.serial).sort(), ["0c", web.serial].sort());
      t.is(await tx.blob({ name: "web", kind: "cert" }), undefined);
      t.truthy(await tx.blob({ name: "web", kind: "cert", serial: web.serial }));
    });
    await store.write(async (tx) => tx.deleteEntry("web"));
    await store.read(async (tx) => {
      t.is(await tx.entry("web"), undefined);
      t.deepEqual(await tx.history("web"), []);
    });
  });

  test("a serial is unique by the database's constraint: twice is an error, and the transaction left nothing",
    async (t) => {
    const { store, raw } = await b.newStore(t);
    await store.write(async (tx) => tx.reserveSerial("0a"));
    const e = await t.throwsAsync(store.write(async (tx) => {
      await tx.reserveSerial("0b");
      await tx.reserveSerial("0a");
    }));
    t.true(e instanceof SerialTakenError);
    t.is(e.message, "serial 0a is already recorded in the depot");
    t.false(await store.read((tx) => tx.hasSerial("0b")), "the failed transaction left nothing");
    await store.close();
    const r = await raw("INSERT INTO serials VALUES ('0a')");
    t.not(r.code, 0, "the database itself refuses it, not only pki's code");
    t.regex(r.stderr, b.uniqueRefusal);
  });

  test("a name is unique ignoring case", async (t) => {
    const { store } = await b.newStore(t);
    await store.write(async (tx) => { await tx.putEntry(rootEntry()); await tx.putEntry(entry("Web")); });
    const e = await t.throwsAsync(store.write(async (tx) => tx.putEntry(entry("web"))));
    t.true(e instanceof NameTakenError);
    t.regex(e.message, /"web" already exists in the depot \(as "Web"/);
  });

  test("list filters by status, expiry and issuer, in pages", async (t) => {
    const { store } = await b.newStore(t);
    await store.write(async (tx) => {
      await tx.putEntry(rootEntry());
      await tx.putEntry(entry("inter", { kind: "ca", usage: undefined }));
      for (let i = 0; i < 50; i++)
        await tx.putEntry(entry(`h${String(i).padStart(2, "0")}`, { days: i + 1, issuer: i % 2 ? "inter" : undefined,
          status: i % 5 ? "signed" : "revoked", ...(i % 5 ? {} : { revoked: { date: "2026-05-05T00:00:00.000Z",
            reason: "superseded" } }) }));
    });
    const names = async (f) => (await collect(store.list(f, { pageSize: 7 }))).map((e) => e.name);
    t.is((await names({})).length, 52);
    const revoked = [0, 5, 10, 15, 20, 25, 30, 35, 40, 45].map((i) => `h${String(i).padStart(2, "0")}`);
    t.deepEqual(await names({ status: "revoked" }), revoked);
    t.deepEqual(await names({ expiringBefore: new Date("2026-06-04T12:00:00Z") }), ["h00", "h01", "h02"]);
    t.is((await names({ issuer: "inter" })).length, 25);
    t.is((await names({ issuer: "ca" })).length, 26, "the root's leaves and the intermediate (the root itself: none)");
    t.is(await store.read((tx) => tx.count({ issuer: "inter", status: "revoked" })), 5);
  });

  test("a failed write leaves nothing; a transaction inside another of the same store is refused", async (t) => {
    const { store } = await b.newStore(t);
    const boom = store.write(async (tx) => {
      await tx.putEntry(rootEntry());
      throw new Error("boom");
    });
    await t.throwsAsync(boom, { message: "boom" });
    t.is(await store.read((tx) => tx.entry("ca")), undefined);
    await t.throwsAsync(store.write(async () => store.read(async () => 1)), { message: /inside a transaction/ });
  });

  test("a nonce is taken once, and not after it expires", async (t) => {
    const { store } = await b.newStore(t);
    const soon = new Date(Date.now() + 60_000);
    await store.write(async (tx) => {
      await tx.putNonce("n1", soon);
      await tx.putNonce("n2", new Date(Date.now() - 1));
    });
    t.true(await store.write((tx) => tx.takeNonce("n1")));
    t.false(await store.write((tx) => tx.takeNonce("n1")));
    t.false(await store.write((tx) => tx.takeNonce("n2")));
    t.false(await store.write((tx) => tx.takeNonce("unknown")));
  });

  test("pruneNonces forgets the expired, then the soonest to expire beyond its bound", async (t) => {
    const { store } = await b.newStore(t);
    const at = (s) => new Date(Date.now() + s * 1000);
    await store.write(async (tx) => {
      await tx.putNonce("gone", at(-1));
      for (let i = 1; i <= 5; i++) await tx.putNonce(`n${i}`, at(60 * i));
    });
    t.is(await store.write((tx) => tx.pruneNonces(10)), 5);
    t.is(await store.write((tx) => tx.pruneNonces(3)), 3);
    const left = [];
    for (const n of ["gone", "n1", "n2", "n3", "n4", "n5"]) if (await store.write((tx) => tx.takeNonce(n))) left.push(n);
    t.deepEqual(left, ["n3", "n4", "n5"]);
  });

  test("ACME accounts are found by their key and orders by their account, among 200 accounts", async (t) => {
    const { store } = await b.newStore(t);
    await store.write(async (tx) => {
      for (let i = 0; i < 200; i++) await acmeOf(tx, i);
    });
    await store.read(async (tx) => {
      for (const i of [0, 1, 57, 199]) {
        const want = { ...account, id: `acct${i}`, thumbprint: `tp${i}` };
        t.deepEqual(await tx.acmeAccountByThumbprint(`tp${i}`), want);
        t.deepEqual((await tx.acmeOrdersOf(`acct${i}`)).map((o) => o.id), i % 2 ? [`ord${i}a`, `ord${i}b`] : []);
      }
      t.is(await tx.acmeAccountByThumbprint("tp"), undefined);
      t.is(await tx.acmeAccountByThumbprint("acct3"), undefined, "an account's id is not its key");
      t.deepEqual(await tx.acmeOrdersOf("acct200"), []);
    });
    // a new key (key rollover) moves the account: the old key finds nothing
    await store.write((tx) => tx.acmePut("accounts", { ...account, id: "acct7", thumbprint: "tp7new" }));
    t.is(await store.read((tx) => tx.acmeAccountByThumbprint("tp7")), undefined);
    t.is((await store.read((tx) => tx.acmeAccountByThumbprint("tp7new"))).id, "acct7");
  });

  test("an ACME row whose index column disagrees with its body is refused in one line, never returned", async (t) => {
    const { store, raw } = await b.newStore(t);
    await store.write(async (tx) => { for (let i = 1; i <= 3; i++) await acmeOf(tx, i); });
    const r = await raw("UPDATE acme SET thumbprint = 'tp3' WHERE kind = 'accounts' AND id = 'acct1'");
    t.is(r.code, 0, r.stderr);
    const e = await t.throwsAsync(store.read((tx) => tx.acmeAccountByThumbprint("tp3")));
    t.regex(e.message, /^\S+ is damaged: acme\.accounts\["acct1"\]\.thumbprint differs from the index it was found/);
    t.regex(e.message, /: run 'pki doctor'$/);
    t.is(await store.read((tx) => tx.acmeAccountByThumbprint("tp1")), undefined, "the hidden account is not guessed");
    t.is((await raw("UPDATE acme SET account = 'acct3' WHERE kind = 'orders' AND id = 'ord1a'")).code, 0);
    const o = await t.throwsAsync(store.read((tx) => tx.acmeOrdersOf("acct3")));
    t.regex(o.message, /is damaged: acme\.orders\["ord1a"\]\.account differs from the index it was found by: run/);
    t.false(o.message.includes("\n"));
  });
}

/** Account i (key tp<i>), with two orders when i is odd and an authorization of account i. */
async function acmeOf(tx, i) {
  await tx.acmePut("accounts", { ...account, id: `acct${i}`, thumbprint: `tp${i}` });
  await tx.acmePut("authz", { ...authz, id: `az${i}`, account: `acct${i}` });
  if (i % 2) for (const x of "ba") await tx.acmePut("orders", { ...order, id: `ord${i}${x}`, account: `acct${i}` });
}

export async function collect(it) {
  const out = [];
  for await (const x of it) out.push(x);
  return out;
}

