/** What a signer holds of a CA key, wherever the key lives. */
import type { KeyObject } from "node:crypto";
import type { HeldKey, SigningKey } from "../../lib/x509/keys.js";
import { DepotError } from "../fsutil.js";

/**
 * A CA's key as issuance signs with it: its spec, its SPKI (to match the CA's certificate) and its private half,
 * a KeyObject decrypted from the depot or a key held in a PKCS#11 token (`uri`: where, never with a PIN).
 */
export interface CaKey extends SigningKey {
  privateKey: KeyObject | HeldKey;
  spki: Buffer;
  uri?: string;
}

/**
 * A token that was there and is not now (removed, reset, its session dropped and not to be had again): a server
 * answers "try again shortly" and tries the token again on the next request.
 */
export class TokenUnavailableError extends DepotError {}
