// Reading a depot's records in a test given the depot (DIR/.pki, or a postgresql:// URL), whatever its format
// (layout 1's files, depot.db): built on test/_state.js (the record store opened read-only, so nothing in the
// depot changes), for the tests that name the depot rather than DIR. Unlike _depot.js it sets no environment (the
// KDF iterations of the depots a test makes stay the product's).
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { depotIsUrl, depotOf, snapshot } from "./_helpers.js";
import { pem, readDepotAt } from "./_state.js";

/** Runs `fn(tx)` in one read transaction of the depot `depot` (a directory or a postgresql:// URL); changes nothing. */
export const readDepot = readDepotAt;

/** NAME's current certificate, sealed key or CSR as PEM ("ca": the root), or undefined when the depot has none. */
export async function blobPem(depot, name, kind = "cert") {
  const der = await readDepot(depot, (tx) => tx.blob({ name, kind }));
  return der && pem(kind, der);
}

/** NAME's entry record (status, serial, sans, issuer...), or undefined. */
export const entryOf = (depot, name) => readDepot(depot, (tx) => tx.entry(name));

/** Writes NAME's cert (or key, csr) PEM to FILE and returns FILE: for openssl's and curl's file arguments. */
export async function blobFile(depot, name, file, kind = "cert") {
  const text = await blobPem(depot, name, kind);
  if (!text) throw new Error(`the depot holds no ${kind} of "${name}"`);
  writeFileSync(file, text);
  return file;
}

const hash = (der) => der && createHash("sha256").update(der).digest("hex");
async function all(it) {
  const out = [];
  for await (const x of it) out.push(x);
  return out;
}

/**
 * Every record of the depot, keyed by what it is ("entry web", "cert web", "acme/orders/ID", "crl ca", ...; blobs
 * as their SHA-256), the same for layout 1 and depot.db: for "nothing changed" assertions where the bytes of the
 * files may change without a record changing (depot.db's pages, the ACME nonces it keeps). EAB keys have no
 * listing: name the key ids to include. Each value is a JSON string, so `!==` compares them as snapshot()'s do.
 */
export async function records(depot, { eab = [] } = {}) {
  return readDepot(depot, async (tx) => {
    const out = { depot: await tx.depot(), serials: await tx.serialCount(), removed: await all(tx.removed()) };
    for (const e of await all(tx.list())) {
      out[`entry ${e.name}`] = e;
      out[`history ${e.name}`] = await tx.history(e.name);
      for (const kind of ["cert", "key", "csr"]) out[`${kind} ${e.name}`] = hash(await tx.blob({ name: e.name, kind }));
      if (e.kind === "ca") out[`crl ${e.name}`] = await tx.crl(e.name).then((c) => c && { ...c, der: hash(c.der) });
    }
    for (const kind of ["accounts", "orders", "authz"])
      for (const o of await all(tx.acmeList(kind))) out[`acme/${kind}/${o.id}`] = o;
    for (const kid of eab) out[`eab ${kid}`] = await tx.eab(kid);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, JSON.stringify(v)]));
  });
}

/**
 * Every certificate the depot holds (current and past, as PEM) and every CA's latest CRL: [{ id, kind, pem }],
 * kind "x509" or "crl" (openssl's command for it), id naming it ("web", "web.SERIAL", "ca.crl").
 */
export async function artefacts(depot) {
  return readDepot(depot, async (tx) => {
    const out = [];
    for (const e of await all(tx.list())) {
      const cert = await tx.blob({ name: e.name, kind: "cert" });
      if (cert) out.push({ id: e.name, kind: "x509", pem: pem("cert", cert) });
      for (const h of await tx.history(e.name)) {
        const past = await tx.blob({ name: e.name, kind: "cert", serial: h.serial });
        if (past) out.push({ id: `${e.name}.${h.serial}`, kind: "x509", pem: pem("cert", past) });
      }
      const crl = e.kind === "ca" ? (await tx.crl(e.name))?.der : undefined;
      if (crl) out.push({ id: `${e.name}.crl`, kind: "crl", pem: pem("crl", crl) });
    }
    return out;
  });
}

/**
 * DIR's depot as a "nothing changed" assertion compares it: a directory's files byte for byte (snapshot()), a
 * PostgreSQL depot's records (records()).
 */
export const depotState = async (dir) => (depotIsUrl(dir) ? records(depotOf(dir)) : snapshot(depotOf(dir)));
