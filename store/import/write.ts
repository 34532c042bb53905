/**
 * `pki import --from etcd-ca|certstrap` into a new record-store depot (DIR/depot.db or a PostgreSQL schema): the
 * source read, decrypted and checked whole first (store/import/read.ts), every key sealed
 * as PKCS#8 under the depot's one salt, then everything recorded in the one transaction that creates the store:
 * a failed import leaves no depot.
 */
import { randomBytes } from "node:crypto";
import { DEFAULT_ITERATIONS, deriveKey } from "../../lib/formats/kdf.js";
import { pbes2Encrypt } from "../../lib/formats/pkcs8.js";
import { octets, seq } from "../../lib/x509/der.js";
import { readImport, type ImportOptions } from "./read.js";
import { testKdfIterations } from "../records/integrity.js";
import { prepareNewDepotDir } from "../ownership.js";
import { SqliteStore } from "../records/sqlite.js";
import type { BlobRef, DepotRecord, RecordStore, WriteTx } from "../records/schema.js";
import { checkRoomForDepot } from "../depot/init.js";
import { depotLabel, type DepotTarget } from "../depot/locate.js";

export interface Imported { names: string[]; external: string[]; revoked: string[]; skipped: string[]; label: string }

export async function importRecords(t: DepotTarget, o: ImportOptions): Promise<Imported> {
  const room = ": import into a new depot (--depot DIR)";
  checkRoomForDepot(t, room);
  const { idx, kept, names, external, revoked, skipped } = await readImport(o);
  const salt = randomBytes(16), iterations = testKdfIterations() ?? DEFAULT_ITERATIONS;
  const blobs: Array<{ ref: BlobRef; data: Uint8Array }> = [];
  for (const i of kept) {
    if (i.keyDer) {
      const key = Buffer.from(await deriveKey(i.write, salt, iterations));
      const { alg, data } = pbes2Encrypt(i.keyDer, key, salt, iterations);
      key.fill(0);
      i.keyDer.fill(0);
      blobs.push({ ref: { name: i.name, kind: "key" }, data: seq(alg, octets(data)) });
    }
    if (i.csr) blobs.push({ ref: { name: i.name, kind: "csr" }, data: new Uint8Array(i.csr.rawData) });
    if (i.cert) blobs.push({ ref: { name: i.name, kind: "cert" }, data: new Uint8Array(i.cert.rawData) });
  }
  const depot: DepotRecord = {
    kdf: { salt: salt.toString("base64"), iterations },
    created: new Date().toISOString(),
    ...(idx.serialFloor ? { serialFloor: idx.serialFloor } : {}),
  };
  const serials = new Set(idx.serials);
  for (const e of Object.values(idx.entries)) if (e.serial) serials.add(e.serial);
  for (const r of idx.removed ?? []) serials.add(r.serial);
  const fill = async (tx: WriteTx) => {
    for (const s of serials) await tx.reserveSerial(s);
    for (const { history: _, ...e } of Object.values(idx.entries)) await tx.putEntry(e);
    for (const r of idx.removed ?? []) await tx.addRemoved(r);
    for (const b of blobs) await tx.putBlob(b.ref, b.data);
    for (const [issuer, number] of Object.entries(idx.crlNumbers ?? {})) await tx.setCrl({ issuer, number });
  };
  let store: RecordStore;
  if (t.kind === "postgres") {
    store = await (await import("../records/postgres.js")).PgStore.create(t.url, depot, fill);
  } else {
    checkRoomForDepot(t, room);
    prepareNewDepotDir(t.dir);
    store = await SqliteStore.create(t.dir, depot, fill);
  }
  await store.close();
  return { names, external, revoked, skipped, label: await depotLabel(t) };
}
