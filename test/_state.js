// What a depot holds, read the way the commands read it, whatever its format: a layout-1 directory (index.json and
// files, read as a snapshot: nothing on disk changes) or depot.db. For tests that check state a command left
// without knowing where it is stored. The depot is the one _helpers.js's pki() names (DIR/.pki, or a postgresql://
// URL); what edits or copies files (sqlite, replaceBlob, layout1Depot) works on DIR/.pki alone.
import { join } from "node:path";
import { chmodSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { depotOf as depotAt, ROOT, run, tempDir } from "./_helpers.js";

// A static import (no top-level await): a *-pg.test.js loads whole suites that use this file in one synchronous
// evaluation, the only time ava takes test declarations.
import { locateDepot, openRecords } from "../dist/store/depot/locate.js";

const depotOf = (dir) => join(dir, ".pki");

/** Runs fn(tx) in one read transaction of DIR's depot (DIR/.pki, or its URL: _helpers.js depotOf), closed after. */
export const readDepot = (dir, fn) => readDepotAt(depotAt(dir), fn);

/** Runs fn(tx) in one read transaction of the depot `where` names: a depot directory or a postgresql:// URL. */
export async function readDepotAt(where, fn) {
  const store = await openRecords(locateDepot(where), { write: false });
  try {
    return await store.read(fn);
  } finally {
    await store.close();
  }
}

/** "db" when DIR/.pki holds depot.db, else "layout1" (or "none"). */
export const depotFormat = (dir) => locateDepot(depotOf(dir)).format;

const PEM = { cert: "CERTIFICATE", key: "ENCRYPTED PRIVATE KEY", csr: "CERTIFICATE REQUEST", crl: "X509 CRL" };
/** DER (Uint8Array) → PEM text of that kind (the CA's files are "ca"'s). */
export function pem(kind, der) {
  const b64 = Buffer.from(der).toString("base64").replace(/.{64}/g, "$&\n").replace(/\n$/, "");
  return `-----BEGIN ${PEM[kind]}-----\n${b64}\n-----END ${PEM[kind]}-----\n`;
}

/** NAME's current (or, with serial, past) cert/key/csr as PEM, undefined when the depot holds none. */
export async function blobPem(dir, name, kind, serial) {
  const der = await readDepot(dir, (tx) => tx.blob(serial ? { name, kind, serial } : { name, kind }));
  return der && pem(kind, der);
}
export const certPem = (dir, name = "ca") => blobPem(dir, name, "cert");
export const keyPem = (dir, name = "ca") => blobPem(dir, name, "key");

/** The entry NAME (with its past certificates as `history`), undefined when absent. */
export async function entry(dir, name) {
  return readDepot(dir, async (tx) => {
    const e = await tx.entry(name);
    if (!e) return undefined;
    const history = await tx.history(name);
    return history.length ? { ...e, history } : e;
  });
}

/** Every entry, by name. */
export async function entries(dir) {
  return readDepot(dir, async (tx) => {
    const out = {};
    for await (const e of tx.list()) out[e.name] = e;
    return out;
  });
}

/** The issuer's latest CRL as PEM (undefined before its first `pki crl`). */
export async function crlPem(dir, issuer = "ca") {
  const c = await readDepot(dir, (tx) => tx.crl(issuer));
  return c?.der && pem("crl", c.der);
}

// Where blobFile puts what it writes: outside every test's directory, so snapshot(dir) never sees it.
const OUT = mkdtempSync(join(tmpdir(), "pki-state-"));
process.on("exit", () => rmSync(OUT, { recursive: true, force: true }));

/**
 * Writes NAME's current cert (or key, csr) as PEM to a new file outside the test's directory, for a peer's file
 * argument (openssl -CAfile, curl --cacert); returns its path. Throws when the depot holds none.
 */
export async function blobFile(dir, name, kind = "cert") {
  return written(`${kind} for "${name}"`, await blobPem(dir, name, kind));
}

const EXT = { crt: "cert", key: "key", csr: "csr" };
/**
 * The depot's record that layout 1 kept as the file REL ("ca.crt", "ca.key", "ca.crl", "certs/NAME.crt|key|csr|crl",
 * "history/NAME.SERIAL.crt|key|csr"), written out by blobFile's rules; returns its path. For tests written
 * against layout 1's files, so that they read the same material on depot.db.
 */
export async function depotFile(dir, rel) {
  const m = /^(?:(certs|history)\/)?(.+)\.(crt|key|csr|crl)$/.exec(rel);
  if (!m) throw new Error(`not a layout-1 depot file: ${rel}`);
  const [, where, name, ext] = m;
  if (!where && name !== "ca") throw new Error(`not a layout-1 depot file: ${rel}`);
  if (ext === "crl") return written(rel, await crlPem(dir, name));
  if (where !== "history") return written(rel, await blobPem(dir, name, EXT[ext]));
  const dot = name.lastIndexOf(".");
  return written(rel, await blobPem(dir, name.slice(0, dot), EXT[ext], name.slice(dot + 1)));
}

function written(what, text) {
  if (!text) throw new Error(`the depot holds no ${what}`);
  const p = join(OUT, `${++written.n}.${what.replace(/[^\w.-]+/g, "_")}.pem`);
  writeFileSync(p, text);
  return p;
}
written.n = 0;

/** Runs SQL on DIR/.pki/depot.db with the sqlite3 shell, as an operator (or an attacker) would; returns stdout. */
export async function sqlite(dir, sql) {
  const r = await run("sqlite3", [join(depotOf(dir), "depot.db"), sql]);
  if (r.code !== 0) throw new Error(`sqlite3: ${r.stderr}`);
  return r.out;
}

/**
 * Replaces NAME's current certificate (or key, csr) in the depot with PEM text, behind pki's back: layout 1's file
 * (ca.crt, certs/NAME.crt) rewritten, or depot.db's row updated with the sqlite3 shell.
 */
export async function replaceBlob(dir, name, kind, pemText) {
  if (depotFormat(dir) !== "db") {
    const ext = { cert: "crt", key: "key", csr: "csr" }[kind];
    return writeFileSync(join(depotOf(dir), name === "ca" ? `ca.${ext}` : `certs/${name}.${ext}`), pemText);
  }
  const der = Buffer.from(pemText.replace(/-----[^-]+-----|\s/g, ""), "base64");
  const q = (s) => `'${s.replace(/'/g, "''")}'`;
  await sqlite(dir, `UPDATE blobs SET data = X'${der.toString("hex")}' WHERE name = ${q(name)} AND kind = ${q(kind)} AND serial = ''`);
}

export const LAYOUT1_FIXTURE = join(ROOT, "test", "fixtures", "layout1");
export const LAYOUT1_PASS = readFileSync(join(ROOT, "test", "fixtures", "layout1.pass"), "utf8").trim();

/**
 * A layout-1 depot at DIR/.pki made without `pki init` (which makes depot.db once layout 1 retires): a copy of
 * test/fixtures/layout1 (scripts/make-layout1-fixture.sh), its passphrase in DIR/pass. Its KDF runs 1000
 * rounds, which every pki of this test worker (and this process's reads) then accepts. Returns DIR.
 */
export function layout1Depot(t) {
  process.env.PKI_TEST_ONLY_KDF_ITERATIONS = "1000";
  const dir = tempDir(t, "pki-layout1-");
  cpSync(LAYOUT1_FIXTURE, depotOf(dir), { recursive: true });
  // The modes pki gives them (git keeps 0644 and 0755): directories 0700, keys 0600.
  const modes = (d) => {
    chmodSync(d, 0o700);
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) modes(join(d, e.name));
      else if (e.name.endsWith(".key")) chmodSync(join(d, e.name), 0o600);
    }
  };
  modes(depotOf(dir));
  writeFileSync(join(dir, "pass"), LAYOUT1_PASS + "\n");
  return dir;
}
