/**
 * Encrypted PKCS#8 (RFC 5958 EncryptedPrivateKeyInfo) with PBES2 (RFC 8018):
 * PBKDF2-HMAC-SHA256 + AES-256-CBC, the form `openssl pkey -passin` reads.
 *
 * Written here rather than with node's KeyObject.export({cipher}) because that
 * runs the KDF with a fresh salt for every key: we take the salt from the caller
 * (one per depot) and cache derived keys, so the KDF runs once per passphrase
 * per process. The structures are written and read with the DER writer/reader of
 * lib/x509/der.ts (no ASN.1 object model on the hot path: every issued key passes here).
 */
import { createCipheriv, createDecipheriv, createPrivateKey, KeyObject, randomBytes } from "node:crypto";
import {
  children,
  DerError,
  int,
  intValue,
  NULL,
  octets,
  oid,
  oidText,
  readTlv,
  seq,
  Tlv,
  value,
} from "../x509/der.js";
import { toPem, parsePemAll } from "../x509/pem.js";

export const OID = {
  pbes2: "1.2.840.113549.1.5.13",
  pbkdf2: "1.2.840.113549.1.5.12",
  hmacWithSHA1: "1.2.840.113549.2.7",
  hmacWithSHA256: "1.2.840.113549.2.9",
  aes256cbc: "2.16.840.1.101.3.4.1.42",
  aes128cbc: "2.16.840.1.101.3.4.1.2",
} as const;


export class WrongPassphraseError extends Error {
  constructor(what = "key") { super(`wrong passphrase for ${what}`); }
}

export { DEFAULT_ITERATIONS, deriveKey, kdfRunCount, MAX_ITERATIONS } from "./kdf.js";
import { checkIterations, DEFAULT_ITERATIONS, deriveKey, IterationLimitError } from "./kdf.js";
import { checkEncryptedKeyPem } from "./pbe-limits.js";

/**
 * PBES2 encryption (RFC 8018) with an already derived AES-256 key: AES-256-CBC under a fresh IV,
 * described as PBKDF2-HMAC-SHA256 over `salt` and `iterations`. Returns the AlgorithmIdentifier DER
 * and ciphertext (used for depot keys and for PKCS#12 bags).
 */
export function pbes2Encrypt(
  plain: Uint8Array,
  key: Buffer,
  salt: Uint8Array,
  iterations: number,
): { alg: Buffer; data: Buffer } {
  const iv = randomBytes(16);
  const c = createCipheriv("aes-256-cbc", key, iv);
  // PBKDF2-params ::= SEQUENCE { salt OCTET STRING, iterationCount INTEGER, keyLength INTEGER OPTIONAL, prf
  // AlgorithmIdentifier }
  const kdf = seq(oid(OID.pbkdf2), seq(octets(salt), int(iterations), seq(oid(OID.hmacWithSHA256), NULL)));
  return {
    alg: seq(oid(OID.pbes2), seq(kdf, seq(oid(OID.aes256cbc), octets(iv)))),
    data: Buffer.concat([c.update(plain), c.final()]),
  };
}

export interface EncryptOptions { salt: Uint8Array; iterations?: number }

/** Encrypts PKCS#8 DER into EncryptedPrivateKeyInfo PEM (fresh IV per key). */
export async function encryptPkcs8(der: Uint8Array, passphrase: string, opts: EncryptOptions): Promise<string> {
  if (!passphrase) throw new Error("an empty passphrase cannot protect a key");
  const iterations = opts.iterations ?? DEFAULT_ITERATIONS;
  const key = await deriveKey(passphrase, opts.salt, iterations);
  const { alg, data } = pbes2Encrypt(der, key, opts.salt, iterations);
  return toPem("ENCRYPTED PRIVATE KEY", seq(alg, octets(data)));
}

interface Pbes2 { salt: Buffer; iterations: number; digest?: string; cipher?: string; iv: Buffer; data: Buffer }

/**
 * The PBES2 parameters of an EncryptedPrivateKeyInfo, or undefined for another scheme; throws DerError if malformed.
 */
function parsePbes2(der: Uint8Array): Pbes2 | undefined {
  const want = (t: Tlv | undefined, tag: number): Tlv => {
    if (!t || t.tag !== tag) throw new DerError("not an EncryptedPrivateKeyInfo");
    return t;
  };
  const kids = (t: Tlv | undefined) => children(der, want(t, 0x30));
  const top = readTlv(der);
  if (top.end !== der.length) throw new DerError("trailing data after the key");
  const [alg, data] = kids(top);
  const [algOid, params] = kids(alg);
  if (oidText(value(der, want(algOid, 0x06))) !== OID.pbes2) return undefined;
  const [kdf, enc] = kids(params);
  const [kdfOid, kdfParams] = kids(kdf);
  if (oidText(value(der, want(kdfOid, 0x06))) !== OID.pbkdf2) return undefined;
  const k = kids(kdfParams);
  const prf = k.slice(2).find((t) => t.tag === 0x30);
  const prfOid = prf ? oidText(value(der, want(kids(prf)[0], 0x06))) : OID.hmacWithSHA1;
  const [encOid, iv] = kids(enc);
  const cipher = { [OID.aes256cbc]: "aes-256-cbc", [OID.aes128cbc]: "aes-128-cbc" }[
    oidText(value(der, want(encOid, 0x06)))
  ];
  return {
    salt: value(der, want(k[0], 0x04)), iterations: intValue(value(der, want(k[1], 0x02))),
    digest: prfOid === OID.hmacWithSHA256 ? "sha256" : prfOid === OID.hmacWithSHA1 ? "sha1" : undefined,
    cipher, iv: value(der, want(iv, 0x04)), data: value(der, want(data, 0x04)),
  };
}

/** The PBES2 salt and iteration count of an encrypted key, or undefined for other schemes. */
export function pbes2Info(der: Uint8Array): { salt: Buffer; iterations: number } | undefined {
  const p = parsePbes2(der);
  return p && { salt: Buffer.from(p.salt), iterations: p.iterations };
}

/**
 * Decrypts an ENCRYPTED PRIVATE KEY PEM to PKCS#8 DER. PBES2 with PBKDF2 and
 * AES-CBC goes through the KDF cache; any other scheme falls back to OpenSSL
 * (node's createPrivateKey). A wrong passphrase throws WrongPassphraseError.
 */
export async function decryptPkcs8(pem: string, passphrase: string, what = "key"): Promise<Buffer> {
  return (await decryptPkcs8Key(pem, passphrase, what)).der;
}

/** decryptPkcs8, with the KeyObject that proved the plain DER is a key. */
export async function decryptPkcs8Key(
  pem: string,
  passphrase: string,
  what = "key",
): Promise<{ der: Buffer; key: KeyObject }> {
  const block = parsePemAll(pem).find((b) => b.label === "ENCRYPTED PRIVATE KEY");
  if (!block) throw new Error(`${what}: not an encrypted PKCS#8 key (no "ENCRYPTED PRIVATE KEY" block)`);
  let der: Buffer;
  try {
    der = await decryptFast(block.der, passphrase) ?? decryptWithOpenssl(pem, passphrase);
  } catch (e) {
    if (e instanceof WrongPassphraseError) throw new WrongPassphraseError(what);
    if (e instanceof IterationLimitError) throw new IterationLimitError(e.message.replace(/^the key:/, `${what}:`));
    if (
      (e as Error).message?.includes("bad decrypt") ||
      /BAD_DECRYPT|bad password/i.test(String((e as any).code ?? (e as Error).message))
    )
      throw new WrongPassphraseError(what);
    throw new Error(`${what}: cannot decrypt: ${(e as Error).message}`);
  }
  try {
    return { der, key: createPrivateKey({ key: der, format: "der", type: "pkcs8" }) };
  } catch {
    // CBC padding happened to check out under the wrong key (p ≈ 1/256): the content tells.
    throw new WrongPassphraseError(what);
  }
}

async function decryptFast(der: Uint8Array, passphrase: string): Promise<Buffer | undefined> {
  const p = parsePbes2(der);
  if (!p || !p.cipher || !p.digest) return undefined;
  checkIterations(p.iterations, "the key");
  const key = await deriveKey(passphrase, p.salt, p.iterations, p.digest, p.cipher === "aes-256-cbc" ? 32 : 16);
  try {
    const d = createDecipheriv(p.cipher, key, p.iv);
    return Buffer.concat([d.update(p.data), d.final()]);
  } catch {
    throw new WrongPassphraseError();
  }
}

function decryptWithOpenssl(pem: string, passphrase: string): Buffer {
  checkEncryptedKeyPem(pem, "the key");
  return createPrivateKey({ key: pem, format: "pem", passphrase }).export({ format: "der", type: "pkcs8" });
}
