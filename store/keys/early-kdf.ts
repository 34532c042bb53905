/**
 * Starts the depot's key derivation (PBKDF2, ~0.1 s at 600,000 iterations) on the libuv pool before a command
 * loads the rest of pki, so the main thread's start-up runs beside it rather than before it. The salt and count
 * come from kdf.json beside depot.db (store/records/kdf-hint.ts), else from depot.db's depot row (read by
 * store/records/sqlite-early.ts, which loads the SQLite driver), or a layout-1 depot's depot.json. Only a head
 * start: the derived key lands in kdf.ts's cache, which decrypt and encrypt consult as always, and every check
 * still runs when the command opens the depot. Any doubt (no depot, a link, a busy or damaged database, a field
 * out of range) means no head start, never an error; a postgresql:// depot gets none.
 */
import { join } from "node:path";
import { deriveKey } from "../../lib/formats/kdf.js";
import { readText } from "../fsutil.js";
import { Check, checkDepotMeta, checkKdf, MAX_DEPOT_JSON } from "../records/integrity.js";
import { DB_FILE, locateDepot } from "../records/presence.js"; // bundled into pki.js with it: no extra load
import { readKdfHint } from "../records/kdf-hint.js";
import type { DepotMeta } from "../records/layout1-index.js";

export async function primeDepotKdf(depotFlag: string | undefined, passphrase: string): Promise<void> {
  try {
    const t = locateDepot(depotFlag);
    if (t.kind !== "dir" || t.format === "none") return;
    let kdf: DepotMeta["kdf"] | undefined;
    if (t.format === "db")
      kdf = checked(readKdfHint(t.dir)) ?? checked((await import("../records/sqlite-early.js")).earlyKdfRow(t.dir));
    else {
      const meta = JSON.parse(readText(join(t.dir, "depot.json"), "depot.json", MAX_DEPOT_JSON));
      checkDepotMeta(meta as DepotMeta);
      kdf = (meta as DepotMeta).kdf;
    }
    if (!kdf) return;
    deriveKey(passphrase, Buffer.from(kdf.salt, "base64"), kdf.iterations).catch(() => undefined);
  } catch {
    // the command itself reports whatever is wrong
  }
}

/** The parameters when they pass the check validate.ts gives the depot record's, else undefined. */
function checked(row: unknown): DepotMeta["kdf"] | undefined {
  try {
    checkKdf(new Check(DB_FILE), row, "depot.kdf");
    return row as DepotMeta["kdf"];
  } catch {
    return undefined;
  }
}
