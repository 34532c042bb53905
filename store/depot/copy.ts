/**
 * `pki depot copy --from SRC --to DST`: a whole depot moved between record stores (a directory's depot.db, a
 * layout-1 directory read through its snapshot, a postgresql:// schema) into a new one. Everything is read in one
 * read transaction of SRC (a consistent view while others write), then written in the one transaction that creates
 * DST (a crash leaves no DST or all of it), then read back from DST and compared. Keys are copied as they are
 * sealed: no passphrase is needed and none is asked. Nonces are not copied: they are short-lived and per server.
 */
import { DepotError } from "../fsutil.js";
import { checkNewDepotDir, prepareNewDepotDir } from "../ownership.js";
import { allSerials, fillStore, type DepotContents } from "../records/contents.js";
import { SqliteStore } from "../records/sqlite.js";
import type { BlobKind, BlobRef, ReadTx, RecordStore, WriteTx } from "../records/schema.js";
import { depotLabel, openRecords, type DepotTarget } from "./locate.js";

export interface Copied { entries: number; serials: number; from: string; to: string }

export async function copyDepot(from: DepotTarget, to: DepotTarget): Promise<Copied> {
  const labels = { from: await depotLabel(from), to: await depotLabel(to) };
  if (to.kind === "dir" && to.format !== "none")
    throw new DepotError(`a depot already exists in ${to.dir}: copy into a new directory or schema`);
  if (to.kind === "dir") checkNewDepotDir(to.dir);
  const src = await openRecords(from, { write: false });
  let d: DepotContents;
  try { d = await src.read(readContents); } finally { await src.close(); }
  const serials = allSerials(d);
  const fill = (tx: WriteTx) => fillStore(tx, d, serials);
  let dst: RecordStore;
  if (to.kind === "postgres") {
    dst = await (await import("../records/postgres.js")).PgStore.create(to.url, d.depot, fill);
  } else {
    prepareNewDepotDir(to.dir);
    dst = await SqliteStore.create(to.dir, d.depot, fill);
  }
  try {
    const back = await dst.read(async (tx) => {
      const s: string[] = [];
      for await (const x of tx.serials()) s.push(x);
      return { entries: await tx.count(), serials: s };
    });
    const want = new Set(serials);
    if (back.entries !== d.entries.length || back.serials.length !== want.size ||
      back.serials.some((s) => !want.has(s)))
      throw new DepotError(`${labels.to} holds ${back.entries} entries and ${back.serials.length} serials, not ` +
        `${d.entries.length} and ${want.size} as ${labels.from}: remove it and copy again`);
    return { entries: back.entries, serials: back.serials.length, ...labels };
  } finally {
    await dst.close();
  }
}

const KINDS: BlobKind[] = ["cert", "key", "csr"];

/** The whole depot as records: entries with their history, and every blob, CRL and ACME record they go with. */
async function readContents(tx: ReadTx): Promise<DepotContents> {
  const d: DepotContents = {
    depot: await tx.depot(), entries: [], serials: [], removed: [], blobs: [], crls: [],
    acme: { accounts: [], orders: [], authz: [] }, eab: [],
  };
  const blobs = async (name: string, serial?: string) => {
    for (const kind of KINDS) {
      const ref: BlobRef = serial === undefined ? { name, kind } : { name, kind, serial };
      const data = await tx.blob(ref);
      if (data) d.blobs.push({ ref, data });
    }
  };
  for await (const s of tx.serials()) d.serials.push(s);
  for await (const e of tx.list()) {
    const history = await tx.history(e.name);
    d.entries.push(history.length ? { ...e, history } : e);
    await blobs(e.name);
    for (const h of history) await blobs(e.name, h.serial);
    const crl = e.kind === "ca" ? await tx.crl(e.name) : undefined;
    if (crl) d.crls.push(crl);
  }
  for await (const r of tx.removed()) {
    d.removed.push(r);
    await blobs(r.name, r.serial);
  }
  for await (const o of tx.acmeList("accounts")) d.acme.accounts.push(o);
  for await (const o of tx.acmeList("orders")) d.acme.orders.push(o);
  for await (const o of tx.acmeList("authz")) d.acme.authz.push(o);
  for await (const e of tx.eabs()) d.eab.push(e);
  return d;
}
