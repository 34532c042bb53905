/** Private keys written by other tools (etcd-ca, certstrap, openssl), read for import or inspection. */
import { createPrivateKey, KeyObject } from "node:crypto";
import { parsePemAll } from "../x509/pem.js";
import { specOfPkcs8 } from "../x509/keys.js";
import { InputError } from "../x509/validate.js";
import { checkEncryptedKeyDer, checkEncryptedKeyPem } from "./pbe-limits.js";

/** AlgorithmIdentifier prefixes of the HMAC PRFs PBKDF2 names (hmacWithSHA1/224/256/384/512: 1.2.840.113549.2.7-11). */
const HMAC_PRF = /^06082a864886f70d02(07|08|09|0a|0b)$/;

/**
 * go.step.sm/crypto (which certstrap uses for passphrase-protected ECDSA and Ed25519 keys) encodes the PBKDF2
 * PRF AlgorithmIdentifier's parameters as the two bytes `00 00` where the DER NULL `05 00` belongs; OpenSSL
 * then stops with "unexpected eoc". This rewrites exactly that malformation — an hmacWithSHA* OID inside an
 * AlgorithmIdentifier SEQUENCE of length 12 followed by `00 00` — and nothing else. Returns undefined when
 * the bytes do not carry it.
 */
export function repairStepPrf(der: Uint8Array): Buffer | undefined {
  const b = Buffer.from(der);
  let fixed = false;
  for (let i = 0; i + 14 <= b.length; i++) {
    if (b[i] !== 0x30 || b[i + 1] !== 0x0c || !HMAC_PRF.test(b.subarray(i + 2, i + 12).toString("hex"))) continue;
    if (b[i + 12] === 0x00 && b[i + 13] === 0x00) {
      b[i + 12] = 0x05;
      fixed = true;
    }
  }
  return fixed ? b : undefined;
}

export function isEncryptedPem(pem: string): boolean {
  return /Proc-Type: 4,ENCRYPTED|BEGIN ENCRYPTED PRIVATE KEY/.test(pem);
}

/**
 * Opens any PEM private key OpenSSL reads — PKCS#8 (encrypted or not), PKCS#1, SEC1, legacy Proc-Type
 * encryption (an empty passphrase allowed: etcd-ca's when Enter was pressed at its prompt) — and
 * go.step.sm/crypto's encrypted PKCS#8 (see repairStepPrf). Refuses key types pki cannot use.
 */
export function openForeignKey(file: string, pem: string, passphrase: string | undefined): KeyObject {
  const encrypted = isEncryptedPem(pem);
  if (encrypted && passphrase === undefined) throw new InputError(`${file}: the key is encrypted: give its passphrase`);
  if (encrypted) checkEncryptedKeyPem(pem, file);
  let key: KeyObject;
  try {
    key = encrypted
      ? createPrivateKey({ key: pem, format: "pem", passphrase: Buffer.from(passphrase!) })
      : createPrivateKey({ key: pem, format: "pem" });
  } catch (e) {
    const repaired =
      encrypted && /eoc|asn1|unsupported|decode/i.test((e as Error).message) ? repairedPkcs8(pem) : undefined;
    if (!repaired) throw keyError(file, e, encrypted);
    checkEncryptedKeyDer(repaired, file);
    try {
      key = createPrivateKey({ key: repaired, format: "der", type: "pkcs8", passphrase: Buffer.from(passphrase!) });
    } catch (e2) {
      throw keyError(file, e2, encrypted);
    }
  }
  try {
    specOfPkcs8(key.export({ type: "pkcs8", format: "der" }));
  } catch (e) {
    throw new InputError(`${file}: not a usable private key (${(e as Error).message})`);
  }
  return key;
}

function repairedPkcs8(pem: string): Buffer | undefined {
  try {
    const block = parsePemAll(pem).find((b) => b.label === "ENCRYPTED PRIVATE KEY");
    return block ? repairStepPrf(block.der) : undefined;
  } catch {
    return undefined;
  }
}

function keyError(file: string, e: unknown, encrypted: boolean): InputError {
  const msg = (e as Error).message;
  // A wrong passphrase usually fails CBC's padding check ("bad decrypt"); about 1 time in 256 the padding passes by
  // chance and the garbage fails to decode instead.
  if (encrypted && /bad decrypt|decrypt|passphrase|bad password|unsupported|asn1|eoc|decod/i.test(msg))
    return new InputError(`${file}: wrong passphrase (the key is encrypted)`);
  // OpenSSL's own words ("error:1E08010C:DECODER routines::unsupported") tell a user nothing.
  return new InputError(`${file}: not a private key pki can read (damaged, truncated, or of an unsupported kind)`);
}
