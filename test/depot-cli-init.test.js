// `pki init` onto the record store: a directory gets DIR/depot.db (and nothing else), a postgresql:// depot gets
// its schema; the root, its certificate and its encrypted key are in it, opened by
// the depot API and judged by openssl. A second init is refused with one line, the depot unchanged.
import test from "ava";
import { readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PASS, ROOT, openssl, pki, pkiOk, snapshot, tempDir } from "./_helpers.js";
import { openDepot, put, verify } from "./_depot.js";
import { ROLE_PASS, useCluster } from "./_postgres.js";
import { depotFormat, layout1Depot } from "./_state.js";

const { PgStore } = await import(join(ROOT, "dist", "store", "records", "postgres.js"));
const pg = useCluster(test);

function passDir(t) {
  const dir = tempDir(t, "pki-cli-init-");
  writeFileSync(join(dir, "pass"), PASS + "\n");
  return dir;
}

test("init: DIR/depot.db holding the root; its key opens, openssl verifies it", async (t) => {
  const dir = passDir(t);
  const r = await pkiOk(t, dir, ["init", "--passphrase-file", "pass", "--common-name", "Db Root", "--key-type", "rsa"]);
  const depot = join(dir, ".pki");
  t.regex(r.stderr, /^Created CA "O=pki, CN=Db Root" in .*\.pki \(valid until 20\d\d-/);
  t.deepEqual(readdirSync(depot).sort(), ["depot.db", "kdf.json"]);
  t.is(statSync(depot).mode & 0o777, 0o700);
  t.is(statSync(join(depot, "depot.db")).mode & 0o777, 0o600);

  const d = await openDepot({ depot, passphrase: PASS });
  t.teardown(() => d.close());
  const ca = await d.get("ca");
  t.is(ca.kind, "ca");
  t.is(ca.keyType, "RSA 2048");
  const [code, out] = await verify(dir, ca.certificate, ca.certificate);
  t.is(code, 0, out);
  const text = (await openssl(["x509", "-noout", "-text", "-in", put(dir, "ca.pem", ca.certificate)])).out;
  t.regex(text, /CA:TRUE/);
  t.regex(text, /Certificate Sign, CRL Sign/);
  t.true(text.toLowerCase().replace(/:/g, "").includes(ca.serial), "the recorded serial is the certificate's");
  const key = await openssl(["pkey", "-passin", `pass:${PASS}`, "-in", put(dir, "ca.key", ca.key), "-noout"]);
  t.is(key.code, 0, key.stderr);
  const leaf = await d.issue("web", { domains: ["web.test"] });
  t.is((await verify(dir, ca.certificate, leaf.certificate))[0], 0);
  await t.throwsAsync(openDepot({ depot, passphrase: "not it" }), { message: /wrong passphrase for the CA key/ });
});

test("a second init on a db depot is one line, exit 1, the depot byte-identical", async (t) => {
  const dir = passDir(t);
  await pkiOk(t, dir, ["init", "--passphrase-file", "pass"]);
  const before = snapshot(join(dir, ".pki"));
  const r = await pki(dir, ["init", "--passphrase-file", "pass"]);
  t.is(r.code, 1);
  t.regex(r.stderr, /^pki: a CA already exists in .*\.pki\n$/);
  t.deepEqual(snapshot(join(dir, ".pki")), before);
});

test("init refuses a directory holding a layout-1 depot: one line, exit 1, its files as they were", async (t) => {
  const dir = layout1Depot(t);
  const before = snapshot(join(dir, ".pki"));
  const r = await pki(dir, ["init", "--passphrase-file", "pass"]);
  t.is(r.code, 1);
  t.regex(r.stderr, /^pki: a CA already exists in .*\.pki\n$/);
  t.deepEqual(snapshot(join(dir, ".pki")), before);
  t.is(depotFormat(dir), "layout1");
});

test("init on a postgresql:// depot creates its schema with the root; the password is never printed", async (t) => {
  const dir = passDir(t);
  const url = pg.url(await pg.db(), { query: "?schema=ca1" });
  const r = await pkiOk(t, dir, ["--depot", url, "init", "--passphrase-file", "pass", "--permit-domain", "x.test"]);
  const where = /in postgresql:\/\/pki@127\.0\.0\.1:\d+\/t\d+_\d+\?schema=ca1 \(valid until/;
  t.regex(r.stderr, /^Created CA "O=pki, CN=pki Root CA" /);
  t.regex(r.stderr, where);
  t.false(r.stderr.includes(ROLE_PASS));
  const store = await PgStore.open(url);
  t.teardown(() => store.close());
  const { entry, cert } = await store.read(async (tx) => ({
    entry: await tx.entry("ca"), cert: await tx.blob({ name: "ca", kind: "cert" }),
  }));
  t.is(entry.status, "signed");
  const pem = `-----BEGIN CERTIFICATE-----\n${Buffer.from(cert).toString("base64")}\n-----END CERTIFICATE-----\n`;
  const text = (await openssl(["x509", "-noout", "-text", "-in", put(dir, "ca.pem", pem)])).out;
  t.regex(text, /Permitted:\s+DNS:x\.test/);

  const again = await pki(dir, ["--depot", url, "init", "--passphrase-file", "pass"]);
  t.is(again.code, 1);
  t.regex(again.stderr, /^pki: a depot already exists at postgresql:\/\/pki@[^ ]+\n$/);
  t.false(again.stderr.includes(ROLE_PASS));
});
