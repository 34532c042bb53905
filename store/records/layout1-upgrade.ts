/**
 * The upgrade of a layout-1 depot to DIR/depot.db, all or nothing: under the layout-1 lock (no earlier pki writes
 * meanwhile), everything is read and checked (layout1.ts), written into a new database built beside it in one
 * transaction and linked into place once durable (SqliteStore.create), read back and counted; only then are the
 * old files moved into DIR/layout1-backup/. A crash before the link leaves layout 1 as it was (and perhaps a
 * temp file); after it, depot.db is whole and the next upgrade call finishes the move.
 */
import { closeSync, constants, existsSync, fsyncSync, openSync, renameSync } from "node:fs";
import { join } from "node:path";
import { DepotError, mkdirInDepot } from "../fsutil.js";
import { acquireLock } from "../lock.js";
import { readLayout1 } from "./layout1.js";
import { LAYOUT1_BACKUP, LAYOUT1_FILES } from "./layout1-files.js";
import { DB_FILE } from "./sqlite-open.js";
import { SqliteStore } from "./sqlite.js";
import { hintKdf } from "./kdf-hint.js";
import { allSerials, fillStore } from "./contents.js";

export { LAYOUT1_BACKUP };

export interface Upgraded { store: SqliteStore; backup: string; entries: number; serials: number }

export async function upgradeLayout1(dir: string): Promise<Upgraded> {
  const release = await acquireLock(dir);
  try {
    if (existsSync(join(dir, DB_FILE))) {
      const store = await SqliteStore.open(dir);
      const n = await store.read(async (tx) => {
        hintKdf(dir, (await tx.depot()).kdf); // the upgrade before may have died between depot.db and kdf.json
        return { entries: await tx.count(), serials: await tx.serialCount() };
      });
      return { store, backup: moveAside(dir), ...n };
    }
    const l1 = readLayout1(dir);
    const serials = allSerials(l1);
    const store = await SqliteStore.create(dir, l1.depot, (tx) => fillStore(tx, l1, serials));
    const n = await store.read(async (tx) => ({ entries: await tx.count(), serials: await tx.serialCount() }));
    if (n.entries !== l1.entries.length || n.serials !== serials.length) {
      await store.close();
      throw new DepotError(`the upgrade's depot.db holds ${n.entries} entries and ${n.serials} serials, not ` +
        `${l1.entries.length} and ${serials.length}: layout 1 is kept; remove depot.db and run 'pki doctor'`);
    }
    return { store, backup: moveAside(dir), ...n };
  } finally {
    release();
  }
}

function moveAside(dir: string): string {
  const backup = join(dir, LAYOUT1_BACKUP);
  mkdirInDepot(backup);
  for (const f of LAYOUT1_FILES) {
    if (!existsSync(join(dir, f))) continue;
    if (existsSync(join(backup, f)))
      throw new DepotError(`${LAYOUT1_BACKUP}/${f} already exists: move it away, then run the upgrade again`);
    renameSync(join(dir, f), join(backup, f));
  }
  for (const d of [backup, dir]) {
    const fd = openSync(d, constants.O_RDONLY | constants.O_DIRECTORY);
    try { fsyncSync(fd); } finally { closeSync(fd); }
  }
  return backup;
}

/**
 * A layout-1 depot as a read-only record store in memory, for the commands that only read (list, status, export,
 * chain, ...): they work on it before any upgrade, and it stays exactly as it was. `l1`: its contents, when the
 * caller read them itself (doctor: under the lock).
 */
export async function layout1Snapshot(dir: string, l1 = readLayout1(dir)): Promise<SqliteStore> {
  return SqliteStore.memory(dir, l1.depot, (tx) => fillStore(tx, l1, allSerials(l1)));
}
