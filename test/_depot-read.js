// Reading a depot's records in a test, whatever its format (layout 1's files, DIR/depot.db): through the record
// store the commands use (dist/store/depot/locate.js), opened read-only, so nothing in the depot changes and the
// test asserts what the depot holds, not where a file of it lies. Unlike _depot.js it sets no environment (the
// KDF iterations of the depots a test makes stay the product's).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./_helpers.js";

const { locateDepot, openRecords } = await import(join(ROOT, "dist", "store", "depot", "locate.js"));

/** Runs `fn(tx)` in one read transaction of the depot at `depot` (a directory); changes nothing on disk. */
export async function readDepot(depot, fn) {
  const store = await openRecords(locateDepot(depot), { write: false });
  try {
    return await store.read(fn);
  } finally {
    await store.close();
  }
}

/** DER to PEM with `label`. */
export function pemOf(der, label = "CERTIFICATE") {
  const b64 = Buffer.from(der).toString("base64").replace(/.{1,64}/g, "$&\n");
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
}

const LABEL = { cert: "CERTIFICATE", key: "ENCRYPTED PRIVATE KEY", csr: "CERTIFICATE REQUEST" };

/** NAME's current certificate, sealed key or CSR as PEM ("ca": the root), or undefined when the depot has none. */
export async function blobPem(depot, name, kind = "cert") {
  const der = await readDepot(depot, (tx) => tx.blob({ name, kind }));
  return der && pemOf(der, LABEL[kind]);
}

/** NAME's entry record (status, serial, sans, issuer...), or undefined. */
export const entryOf = (depot, name) => readDepot(depot, (tx) => tx.entry(name));

/** Writes NAME's cert (or key, csr) PEM to FILE and returns FILE: for openssl's and curl's file arguments. */
export async function blobFile(depot, name, file, kind = "cert") {
  const pem = await blobPem(depot, name, kind);
  if (!pem) throw new Error(`the depot holds no ${kind} of "${name}"`);
  writeFileSync(file, pem);
  return file;
}
