// What a depot holds, read the way the commands read it, whatever its format: a layout-1 directory (index.json and
// files, read as a snapshot: nothing on disk changes) or depot.db. For tests that check state a command left
// without knowing where it is stored. The depot is DIR/.pki, as _helpers.js's pki() sets it.
import { join } from "node:path";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { ROOT } from "./_helpers.js";

const { locateDepot, openRecords } = await import(join(ROOT, "dist", "store", "depot", "locate.js"));

const depotOf = (dir) => join(dir, ".pki");

/** Runs fn(tx) in one read transaction of DIR/.pki's record store (closed after). */
export async function readDepot(dir, fn) {
  const store = await openRecords(locateDepot(depotOf(dir)), { write: false });
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
let written = 0;

/**
 * Writes NAME's current cert (or key, csr) as PEM to a new file outside the test's directory, for a peer's file
 * argument (openssl -CAfile, curl --cacert); returns its path. Throws when the depot holds none.
 */
export async function blobFile(dir, name, kind = "cert") {
  const text = await blobPem(dir, name, kind);
  if (!text) throw new Error(`the depot holds no ${kind} for "${name}"`);
  const p = join(OUT, `${++written}.${name}.${kind}.pem`);
  writeFileSync(p, text);
  return p;
}
