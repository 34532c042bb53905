/**
 * `pki import` into a layout-1 depot: the source read and checked whole (store/import-read.ts), then the depot
 * written with every key re-encrypted as PKCS#8.
 */
import { Depot } from "./depot.js";
import { DepotError, writeAtomic } from "./fsutil.js";
import { readImport, type ImportOptions } from "./import-read.js";
import { checkNewDepotDir } from "./ownership.js";
import { checkRoomForCA } from "./view.js";

export type { ImportOptions, ImportSource } from "./import-read.js";
export interface ImportResult {
  depot: Depot; names: string[]; external: string[]; revoked: string[]; skipped: string[]; serialFloor: string;
}

/** The depot `dir` made from the depot at `o.src`; says what it imported and what it left. */
export async function importDepot(dir: string, o: ImportOptions): Promise<ImportResult> {
  checkRoomForCA(dir, ": import into a new depot (--depot DIR)");
  checkNewDepotDir(dir);
  const { idx, root, kept, names, external, revoked, skipped } = await readImport(o);
  // Everything checked: now write the new depot.
  const depot = Depot.create(dir);
  return depot.withLock(async () => {
    if (depot.hasCA()) throw new DepotError(`a CA already exists in ${dir}`);
    for (const i of [...kept.slice(1), root]) {
      if (i.keyDer) writeAtomic(depot.keyPath(i.name), await depot.encryptKey(i.keyDer, i.write), 0o600);
      if (i.csr) writeAtomic(depot.csrPath(i.name), i.csr.toString("pem") + "\n", 0o644);
      if (i.cert) writeAtomic(depot.certPath(i.name), i.cert.toString("pem") + "\n", 0o644);
    }
    depot.writeIndex(idx);
    return { depot, names, external, revoked, skipped, serialFloor: idx.serialFloor! };
  });
}
