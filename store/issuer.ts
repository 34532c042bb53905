/** The checks every issuance path shares (sign, issue, renew, external-key and ACME certificates). */
import type { KeyObjects, KeyPair } from "../lib/x509/keys.js";
import { subtle } from "../lib/x509/keys.js";
import { checkPathConstraints } from "../lib/x509/path-constraints.js";
export { checkPathConstraints };
import { sanCount, type Sans } from "../lib/x509/issuance.js";
import { InputError } from "../lib/x509/validate.js";
import { MAX_SANS } from "./integrity.js";

export function checkSanCount(sans: Sans): void {
  if (sanCount(sans) > MAX_SANS)
    throw new InputError(`${sanCount(sans)} subject alternative names: at most ${MAX_SANS}`);
}

/**
 * Whether `key` (KeyObjects, a KeyPair or a public CryptoKey) is the key whose SPKI DER is `spki` (a certificate's
 * or a CSR's).
 */
export async function isKeyOf(key: KeyObjects | KeyPair | CryptoKey, spki: ArrayBuffer): Promise<boolean> {
  if ("spki" in key) return key.spki.equals(Buffer.from(spki));
  const own = await subtle.exportKey("spki", "publicKey" in key ? key.publicKey : key);
  return Buffer.from(own).equals(Buffer.from(spki));
}
