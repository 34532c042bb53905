/**
 * Where a command's depot is, and its record store opened for reading or writing: the one judgement every command
 * makes. A depot is a directory holding depot.db (SQLite), a directory holding a layout-1 depot of an earlier
 * release (depot.json, index.json: read as it is, upgraded to depot.db the first time a command writes), or a
 * postgresql:// URL. The PostgreSQL driver and the upgrade are loaded only on the paths that need them: `pki list`
 * on a directory pays for SQLite alone.
 */
import { DepotError } from "../fsutil.js";
import { layout1Remains } from "../records/layout1-files.js";
import { SqliteStore } from "../records/sqlite.js";
import type { RecordStore } from "../records/schema.js";
import { depotPresence, locateDepot, noDepotMessage, type DepotTarget } from "../records/presence.js";

export { locateDepot, type DepotTarget };

/** How messages name a depot: its directory, or its URL without the password. */
export async function depotLabel(t: DepotTarget): Promise<string> {
  if (t.kind === "dir") return t.dir;
  return (await import("../records/postgres-conn.js")).pgTarget(t.url).location;
}

/**
 * The depot's record store. `write: false` opens a layout-1 depot as a read-only snapshot (nothing on disk
 * changes); `write: true` upgrades it to depot.db first (store/records/layout1-upgrade.ts), so call it only once
 * the command's input has been checked (a refused command must leave a layout-1 depot as it was).
 */
export async function openRecords(t: DepotTarget, o: { write: boolean }): Promise<RecordStore> {
  if (t.kind === "postgres") return (await import("../records/postgres.js")).PgStore.open(t.url);
  if (t.format === "none") throw new DepotError(noDepotMessage(t.dir, depotPresence(t.dir)));
  if (t.format === "db" && !layout1Remains(t.dir)) return SqliteStore.open(t.dir);
  // layout 1, or an upgrade that stopped after depot.db committed (upgradeLayout1 finishes moving the files)
  const up = await import("../records/layout1-upgrade.js");
  if (o.write || t.format === "db") return (await up.upgradeLayout1(t.dir)).store;
  return up.layout1Snapshot(t.dir);
}
