/**
 * Starts the depot's key derivation (PBKDF2 over depot.json's salt, ~0.1 s at 600,000 iterations) on the libuv
 * pool before a command loads the rest of pki, so the main thread's start-up runs beside it rather than before
 * it. Only a head start: the derived key lands in pkcs8.ts's cache, which decrypt and encrypt consult as always,
 * and every check still runs when the depot opens. Any doubt (no depot, a symlink, a field out of range) means
 * no head start, never an error.
 */
import { join } from "node:path";
import { deriveKey } from "../lib/formats/kdf.js";
import { readText } from "./fsutil.js";
import { checkDepotMeta, MAX_DEPOT_JSON } from "./integrity.js";
import { defaultDepotDir } from "./view.js"; // bundled into pki.js with it: no extra load
import type { DepotMeta } from "./depot.js";

export function primeDepotKdf(depotFlag: string | undefined, passphrase: string): void {
  try {
    const meta = JSON.parse(readText(join(defaultDepotDir(depotFlag), "depot.json"), "depot.json", MAX_DEPOT_JSON));
    checkDepotMeta(meta as DepotMeta);
    const { salt, iterations } = (meta as DepotMeta).kdf;
    deriveKey(passphrase, Buffer.from(salt, "base64"), iterations).catch(() => undefined);
  } catch {
    // the command itself reports whatever is wrong
  }
}
