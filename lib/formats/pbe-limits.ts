/**
 * The work factors an encrypted key asks for, read before OpenSSL (node's createPrivateKey) is handed the key: OpenSSL
 * derives with whatever count the file names, so a key with 2^31-1 PBKDF2 iterations would pin a CPU for hours.
 * Every scheme OpenSSL decrypts PKCS#8 with is covered: PBES2 with PBKDF2 or scrypt, PBES1 and the PKCS#12 PBEs.
 */
import { children, DerError, oidText, readTlv, value, type Tlv } from "../x509/der.js";
import { checkIterations, IterationLimitError } from "./kdf.js";

const PBES2 = "1.2.840.113549.1.5.13";
const PBKDF2 = "1.2.840.113549.1.5.12";
const SCRYPT = "1.3.6.1.4.1.11591.4.11";
/** PBES1 (RFC 8018 appendix A.3) and the PKCS#12 PBEs (RFC 7292 appendix C): parameters { salt, iterationCount }. */
const SALT_AND_COUNT = /^1\.2\.840\.113549\.1\.(5\.(1|3|4|6|10|11)|12\.1\.[1-6])$/;
/** scrypt's N·r·p: 32 times OpenSSL's default (N 16384, r 8, p 1), about what 10,000,000 PBKDF2 rounds cost. */
export const MAX_SCRYPT_COST = 1 << 22;

/** A signed INTEGER's value (a count is refused when it is not positive, so the sign matters). */
function intOf(der: Uint8Array, t: Tlv | undefined): bigint {
  if (!t || t.tag !== 0x02 || t.end === t.valueStart) throw new DerError("expected an INTEGER");
  const v = value(der, t);
  const n = BigInt(`0x${v.toString("hex")}`);
  return v[0] & 0x80 ? n - (1n << BigInt(v.length * 8)) : n;
}

const oidOf = (der: Uint8Array, t: Tlv | undefined) => {
  if (!t || t.tag !== 0x06) throw new DerError("expected an OBJECT IDENTIFIER");
  return oidText(value(der, t));
};
const kids = (der: Uint8Array, t: Tlv | undefined) => {
  if (!t || t.tag !== 0x30) throw new DerError("expected a SEQUENCE");
  return children(der, t);
};

/** Refuses an AlgorithmIdentifier (at `alg` in `der`) whose key derivation would cost more than pki allows. */
export function checkPbeAlgorithm(der: Uint8Array, alg: Tlv, what: string): void {
  const [id, params] = kids(der, alg);
  const scheme = oidOf(der, id);
  if (SALT_AND_COUNT.test(scheme)) {
    checkIterations(intOf(der, kids(der, params)[1]), what, "PBE");
    return;
  }
  if (scheme !== PBES2) return; // nothing OpenSSL derives a key for
  const [kdfId, kdfParams] = kids(der, kids(der, params)[0]);
  const kdf = oidOf(der, kdfId);
  const p = kids(der, kdfParams);
  if (kdf === PBKDF2) checkIterations(intOf(der, p[1]), what, "PBKDF2");
  else if (kdf === SCRYPT) {
    const [n, r, par] = [intOf(der, p[1]), intOf(der, p[2]), intOf(der, p[3])];
    if (n < 2n || r < 1n || par < 1n || n * r * par > BigInt(MAX_SCRYPT_COST))
      throw new IterationLimitError(
        `${what}: its scrypt cost (N ${n}, r ${r}, p ${par}) is outside pki's limit (N·r·p up to ${MAX_SCRYPT_COST})`,
      );
  }
}

/** Refuses an EncryptedPrivateKeyInfo (DER) whose key derivation would cost more than pki allows. */
export function checkEncryptedKeyDer(der: Uint8Array, what: string): void {
  try {
    checkPbeAlgorithm(der, kids(der, readTlv(der))[0], what);
  } catch (e) {
    if (e instanceof IterationLimitError) throw e;
    // OpenSSL reads BER too: parameters pki cannot read are not handed to it either.
    throw new IterationLimitError(`${what}: its encryption parameters are not DER pki reads (${(e as Error).message})`);
  }
}

/**
 * checkEncryptedKeyDer for every ENCRYPTED PRIVATE KEY block of a PEM text, headers or not (legacy Proc-Type keys
 * derive with one round of EVP_BytesToKey: nothing to bound).
 */
export function checkEncryptedKeyPem(pem: string, what: string): void {
  const re = /-----BEGIN ENCRYPTED PRIVATE KEY-----([\s\S]*?)-----END ENCRYPTED PRIVATE KEY-----/g;
  for (let m = re.exec(pem); m; m = re.exec(pem)) {
    const body = m[1].split(/\r?\n/).filter((l) => !l.includes(":")).join("");
    checkEncryptedKeyDer(Buffer.from(body.replace(/\s+/g, ""), "base64"), what);
  }
}
