/**
 * depot.db's KDF parameters (the salt and iteration count every key of the depot is sealed under, fixed when the
 * database is made) copied beside it as kdf.json, so that a key command starts its PBKDF2 before it loads the
 * SQLite driver: store/keys/early-kdf.ts reads this file instead of depot.db's row (~6 ms sooner, on the path every
 * `pki issue` waits for). Only a hint: every command still reads the parameters from depot.db, so a kdf.json that
 * disagrees (edited, hostile, or copied from another depot) costs a head start, never a wrong key; `pki doctor`
 * reports it and `--fix` writes it again. Written by SqliteStore.create (init, the layout-1 upgrade, copy, import)
 * and by restore.
 */
import { statSync, type Stats } from "node:fs";
import { join } from "node:path";
import { DepotError, readText, writeAtomic } from "../fsutil.js";
import { fileProblems } from "../ownership.js";

export const KDF_HINT = "kdf.json";
const MAX_HINT = 4096;

/** The parameters as kdf.json holds them (unchecked: the caller validates), or undefined for none usable. */
export function readKdfHint(dir: string): unknown {
  try {
    const owner = statSync(dir).uid;
    const owned = (st: Stats) => {
      const [p] = fileProblems(KDF_HINT, st, owner); // the rule every depot file answers to
      if (p) throw new DepotError(p.problem);
    };
    return JSON.parse(readText(join(dir, KDF_HINT), KDF_HINT, MAX_HINT, owned));
  } catch {
    return undefined;
  }
}

/** Writes kdf.json for depot.db's parameters (0600, atomically). */
export function writeKdfHint(dir: string, kdf: { salt: string; iterations: number }): void {
  writeAtomic(join(dir, KDF_HINT), JSON.stringify({ salt: kdf.salt, iterations: kdf.iterations }) + "\n", 0o600);
}

/**
 * writeKdfHint once depot.db is in place, as a hint: a failure leaves a whole depot whose commands start their
 * KDF a few ms later, which `pki doctor --fix` mends.
 */
export function hintKdf(dir: string, kdf: { salt: string; iterations: number }): void {
  try { writeKdfHint(dir, kdf); } catch { /* only a hint */ }
}
