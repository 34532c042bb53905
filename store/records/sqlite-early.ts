/**
 * depot.db's KDF parameters, read before a command's modules load (store/keys/early-kdf.ts starts the KDF with them).
 * depot.db is opened as the command will open it (sqlite-open.ts: the file checks, the header, then the exact
 * schema before any query) and changes nothing on disk. Beside another connection's depot.db-wal and -shm (a
 * server holding the depot, or a process that died) it reads them read-only: nothing is created, written or
 * removed. Without them it opens read-write: a read-only connection to a WAL database would create both and leave
 * them behind, a read-write one removes them as it closes, with nothing to checkpoint. Never waits for a lock: a
 * busy depot means no head start. The caller validates the row; whatever is wrong, the command reports itself.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { checkDbFiles, checkHeader, checkSchema, DB_FILE, openDb } from "./sqlite-open.js";
import { SCHEMA_VERSION } from "./sqlite-ddl.js";

/** The depot row's { salt, iterations } as stored (unchecked), or undefined for no head start. */
export function earlyKdfRow(dir: string): unknown {
  const ino = checkDbFiles(dir);
  const path = join(dir, DB_FILE);
  checkHeader(path);
  const beside = [`${path}-wal`, `${path}-shm`].filter((f) => existsSync(f)).length;
  if (beside === 1) return undefined; // half of a WAL pair: the command sorts it out
  const db = openDb(path, { readonly: beside === 2, timeout: 0 });
  try {
    if (checkDbFiles(dir) !== ino) return undefined;
    // Only the schema this pki made: a view or trigger someone added is never run, not even for a head start.
    if (checkSchema(db, DB_FILE) !== SCHEMA_VERSION) return undefined;
    return db.prepare("SELECT kdf_salt AS salt, kdf_iterations AS iterations FROM depot WHERE id = 1").get();
  } finally {
    db.close();
  }
}
