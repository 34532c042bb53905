/**
 * Layout 1, the depot of every earlier release: depot.json, index.json, ca.crt/.key/.crl,
 * certs/NAME.{crt,key,csr,crl}, history/NAME.SERIAL.{crt,key,csr} and acme/{accounts,orders,authz,eab}/ID.json.
 * readLayout1 reads one into records, through the same checks the commands apply (depot.json, index.json, ownership; every file a regular
 * file, PEM of the right kind, a certificate carrying the serial the index records). upgradeLayout1 turns it into
 * DIR/depot.db (layout1-upgrade.ts).
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { CertInfo } from "../../lib/x509/certinfo.js";
import { parsePem } from "../../lib/x509/pem.js";
import { DepotError, readText } from "../fsutil.js";
import { DepotView } from "./layout1-index.js";
import * as v from "./validate.js";
import type { DepotContents } from "./contents.js";
import type { BlobKind, BlobRef } from "./schema.js";

/** A layout-1 depot read into records. */
export type Layout1 = DepotContents;

const LABEL: Record<BlobKind | "crl", string> = {
  cert: "CERTIFICATE", key: "ENCRYPTED PRIVATE KEY", csr: "CERTIFICATE REQUEST", crl: "X509 CRL",
};
const EXT: Record<BlobKind | "crl", string> = { cert: "crt", key: "key", csr: "csr", crl: "crl" };
const ROOT = "ca";

/** The relative path of NAME's current file of `kind` in layout 1. */
export function currentFile(name: string, kind: BlobKind | "crl"): string {
  return name === ROOT && kind !== "csr" ? `ca.${EXT[kind]}` : `certs/${name}.${EXT[kind]}`;
}
const pastFile = (name: string, serial: string, kind: BlobKind) => `history/${name}.${serial}.${EXT[kind]}`;

/** Reads a whole layout-1 depot (refusing, in one line, what its commands would refuse). */
export function readLayout1(dir: string): Layout1 {
  const view = DepotView.open(dir); // ownership, depot.json's checks, the layout version
  const idx = view.readIndex(); // index.json's checks
  const out: Layout1 = {
    depot: { kdf: view.meta.kdf, created: view.meta.created ?? new Date(0).toISOString() },
    entries: Object.values(idx.entries),
    serials: [...new Set(idx.serials)],
    removed: idx.removed ?? [],
    blobs: [],
    crls: [],
    acme: { accounts: [], orders: [], authz: [] },
    eab: [],
  };
  if (idx.serialFloor) out.depot.serialFloor = idx.serialFloor;
  const file = (rel: string, kind: BlobKind | "crl", required: boolean): Buffer | undefined => {
    const p = view.path(...rel.split("/"));
    if (!required && !existsSync(p)) return undefined;
    const text = readText(p, rel, v.MAX_CRL);
    try { return parsePem(text, LABEL[kind], rel); } catch (e) {
      throw new DepotError(`${rel} is damaged (${(e as Error).message.replace(`${rel}: `, "")}): run 'pki doctor'`);
    }
  };
  const blob = (ref: BlobRef, rel: string, required: boolean, serial?: string) => {
    const data = file(rel, ref.kind, required);
    if (!data) return;
    if (serial !== undefined && certSerial(data, rel) !== serial)
      throw new DepotError(`${rel} is not the certificate index.json records (serial ${serial}): run 'pki doctor'`);
    out.blobs.push({ ref, data: v.validBlob(v.checker(rel), ref, data) });
  };
  for (const e of out.entries) {
    const signed = e.status !== "unsigned";
    blob({ name: e.name, kind: "cert" }, currentFile(e.name, "cert"), signed, signed ? e.serial : undefined);
    blob({ name: e.name, kind: "key" }, currentFile(e.name, "key"), !e.external);
    if (e.name !== ROOT) blob({ name: e.name, kind: "csr" }, currentFile(e.name, "csr"), false);
    const crl = e.kind === "ca" ? file(currentFile(e.name, "crl"), "crl", false) : undefined;
    const number = idx.crlNumbers?.[e.name];
    if (crl || number !== undefined)
      out.crls.push({ issuer: e.name, number: number ?? 0, ...(crl ? { der: crl } : {}) });
    for (const h of e.history ?? []) past(e.name, h.serial, true);
  }
  for (const r of out.removed) past(r.name, r.serial, false);
  function past(name: string, serial: string, required: boolean) {
    blob({ name, kind: "cert", serial }, pastFile(name, serial, "cert"), required, serial);
    blob({ name, kind: "key", serial }, pastFile(name, serial, "key"), false);
    blob({ name, kind: "csr", serial }, pastFile(name, serial, "csr"), false);
  }
  readAcme(view, out);
  // Layout 1 kept which entry an ACME certificate replaced only in the order; records keep it with the entry.
  const replaced = new Map(out.acme.orders.map((o) => [o.id, o.replacesCert]));
  for (const e of out.entries) {
    const r = e.acme && replaced.get(e.acme.order);
    if (r) e.acme = { ...e.acme!, replaces: r };
  }
  return out;
}

function certSerial(der: Uint8Array, rel: string): string {
  try { return new CertInfo(der).serialNumber.toLowerCase(); } catch (e) {
    throw new DepotError(`${rel}: not a valid certificate (${(e as Error).message})`);
  }
}

/** acme/KIND/ID.json and acme/eab/KID.json: each a JSON object checked as depot.db's ACME rows are. */
function readAcme(view: DepotView, out: Layout1): void {
  const each = (sub: string, fn: (id: string, raw: unknown, rel: string) => void) => {
    const d = view.path("acme", sub);
    if (!existsSync(d)) return;
    for (const f of readdirSync(d).sort()) {
      const m = /^([\w-]{1,64})\.json$/.exec(f);
      if (!m) continue;
      const rel = `acme/${sub}/${f}`;
      let raw: unknown;
      try { raw = JSON.parse(readText(join(d, f), rel)); } catch (e) {
        throw e instanceof DepotError ? e : new DepotError(`${rel} is damaged (not JSON): run 'pki doctor'`);
      }
      fn(m[1], raw, rel);
    }
  };
  for (const kind of ["accounts", "orders", "authz"] as const)
    each(kind, (id, raw, rel) => (out.acme[kind] as unknown[]).push(v.validAcme(v.checker(rel), kind, id, raw)));
  each("eab", (kid, raw, rel) => {
    const c = v.checker(rel);
    const o = c.obj(raw, "the top level");
    if (o.kid !== kid) c.fail("kid", "differs from the file name");
    out.eab.push(v.validEab(c, o));
  });
}
