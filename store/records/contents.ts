/**
 * A whole depot as records in memory, and the filling of a new store with it inside the transaction that creates
 * the store: how a layout-1 depot becomes depot.db (layout1-upgrade.ts) and how `pki depot copy` moves a depot
 * between backends (store/depot/copy.ts).
 */
import type {
  AcmeKind, AcmeRecords, BlobRef, CrlRecord, DepotRecord, EabRecord, Entry, RemovedCert, WriteTx,
} from "./schema.js";

export interface DepotContents {
  depot: DepotRecord;
  entries: Entry[]; // with their history
  serials: string[];
  removed: RemovedCert[];
  blobs: Array<{ ref: BlobRef; data: Uint8Array }>;
  crls: CrlRecord[];
  acme: { [K in AcmeKind]: Array<AcmeRecords[K]> };
  eab: EabRecord[];
}

/** Every serial recorded as issued: the list, and (should an import have missed one) every entry's. */
export function allSerials(d: DepotContents): string[] {
  const s = new Set(d.serials);
  for (const e of d.entries) {
    if (e.serial) s.add(e.serial);
    for (const h of e.history ?? []) s.add(h.serial);
  }
  for (const r of d.removed) s.add(r.serial);
  return [...s];
}

/** Writes `d` into the store being created (its depot record is written by the create itself). */
export async function fillStore(tx: WriteTx, d: DepotContents, serials: string[]): Promise<void> {
  for (const s of serials) await tx.reserveSerial(s);
  for (const { history, ...e } of d.entries) {
    await tx.putEntry(e);
    for (const h of history ?? []) await tx.addHistory(e.name, h);
  }
  for (const r of d.removed) await tx.addRemoved(r);
  for (const b of d.blobs) await tx.putBlob(b.ref, b.data);
  for (const c of d.crls) await tx.setCrl(c);
  for (const kind of ["accounts", "orders", "authz"] as const)
    for (const o of d.acme[kind]) await tx.acmePut(kind, o);
  for (const e of d.eab) await tx.putEab(e);
}
