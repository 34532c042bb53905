/**
 * Encrypted PKCS#8 (RFC 5958 EncryptedPrivateKeyInfo) with PBES2 (RFC 8018):
 * PBKDF2-HMAC-SHA256 + AES-256-CBC, the form `openssl pkey -passin` reads.
 *
 * Written here rather than with node's KeyObject.export({cipher}) because that
 * runs the KDF with a fresh salt for every key: we take the salt from the caller
 * (one per depot) and cache derived keys, so the KDF runs once per passphrase
 * per process. The PBES2/PBKDF2 parameter structures are not in any @peculiar
 * package, so they are declared below with @peculiar/asn1-schema.
 */
import { createCipheriv, createDecipheriv, createHash, createPrivateKey, pbkdf2, randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { AsnParser, AsnProp, AsnPropTypes, AsnSerializer, OctetString } from "@peculiar/asn1-schema";
import { AlgorithmIdentifier } from "@peculiar/asn1-x509";
import { EncryptedPrivateKeyInfo } from "@peculiar/asn1-pkcs8";
import { toPem, parsePemAll } from "../x509/pem.js";

export const OID = {
  pbes2: "1.2.840.113549.1.5.13",
  pbkdf2: "1.2.840.113549.1.5.12",
  hmacWithSHA1: "1.2.840.113549.2.7",
  hmacWithSHA256: "1.2.840.113549.2.9",
  aes256cbc: "2.16.840.1.101.3.4.1.42",
  aes128cbc: "2.16.840.1.101.3.4.1.2",
} as const;

/** PBKDF2-params ::= SEQUENCE { salt OCTET STRING, iterationCount INTEGER, keyLength INTEGER OPTIONAL, prf AlgorithmIdentifier DEFAULT hmacWithSHA1 } */
export class PBKDF2Params {
  @AsnProp({ type: AsnPropTypes.OctetString }) salt = new ArrayBuffer(0);
  @AsnProp({ type: AsnPropTypes.Integer }) iterationCount = 0;
  @AsnProp({ type: AsnPropTypes.Integer, optional: true }) keyLength?: number;
  @AsnProp({ type: AlgorithmIdentifier, optional: true }) prf?: AlgorithmIdentifier;
  constructor(p: Partial<PBKDF2Params> = {}) { Object.assign(this, p); }
}

/** PBES2-params ::= SEQUENCE { keyDerivationFunc AlgorithmIdentifier, encryptionScheme AlgorithmIdentifier } */
export class PBES2Params {
  @AsnProp({ type: AlgorithmIdentifier }) keyDerivationFunc = new AlgorithmIdentifier();
  @AsnProp({ type: AlgorithmIdentifier }) encryptionScheme = new AlgorithmIdentifier();
  constructor(p: Partial<PBES2Params> = {}) { Object.assign(this, p); }
}

/** OWASP's 2023 figure for PBKDF2-HMAC-SHA256. */
export const DEFAULT_ITERATIONS = 600_000;

export class WrongPassphraseError extends Error {
  constructor(what = "key") { super(`wrong passphrase for ${what}`); }
}

const pbkdf2Async = promisify(pbkdf2);
const kdfCache = new Map<string, Promise<Buffer>>();
let kdfRuns = 0;
/** How many times PBKDF2 actually ran in this process (for tests and benchmarks). */
export function kdfRunCount(): number { return kdfRuns; }

/** PBKDF2 with an in-process cache keyed by (passphrase digest, salt, iterations, prf). */
export function deriveKey(passphrase: string, salt: Uint8Array, iterations: number, digest = "sha256", keyLen = 32): Promise<Buffer> {
  const id = createHash("sha256").update(passphrase).update("\0").update(salt).digest("hex") + `:${iterations}:${digest}:${keyLen}`;
  let p = kdfCache.get(id);
  if (!p) {
    kdfRuns++;
    p = pbkdf2Async(passphrase, salt, iterations, keyLen, digest);
    kdfCache.set(id, p);
    p.catch(() => kdfCache.delete(id));
  }
  return p;
}

/**
 * PBES2 encryption (RFC 8018) with an already derived AES-256 key: AES-256-CBC under a fresh IV,
 * described as PBKDF2-HMAC-SHA256 over `salt` and `iterations`. Returns the AlgorithmIdentifier
 * and ciphertext (used for depot keys and for PKCS#12 bags).
 */
export function pbes2Encrypt(plain: Uint8Array, key: Buffer, salt: Uint8Array, iterations: number): { alg: AlgorithmIdentifier; data: Buffer } {
  const iv = randomBytes(16);
  const c = createCipheriv("aes-256-cbc", key, iv);
  const kdf = new PBKDF2Params({
    salt: new Uint8Array(salt).buffer,
    iterationCount: iterations,
    prf: new AlgorithmIdentifier({ algorithm: OID.hmacWithSHA256, parameters: null }),
  });
  const params = new PBES2Params({
    keyDerivationFunc: new AlgorithmIdentifier({ algorithm: OID.pbkdf2, parameters: AsnSerializer.serialize(kdf) }),
    encryptionScheme: new AlgorithmIdentifier({ algorithm: OID.aes256cbc, parameters: AsnSerializer.serialize(new OctetString(iv)) }),
  });
  return {
    alg: new AlgorithmIdentifier({ algorithm: OID.pbes2, parameters: AsnSerializer.serialize(params) }),
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
  const info = new EncryptedPrivateKeyInfo({
    encryptionAlgorithm: alg,
    encryptedData: new OctetString(data),
  });
  return toPem("ENCRYPTED PRIVATE KEY", new Uint8Array(AsnSerializer.serialize(info)));
}

/** The PBES2 salt and iteration count of an encrypted key, or undefined for other schemes. */
export function pbes2Info(der: Uint8Array): { salt: Buffer; iterations: number } | undefined {
  const info = AsnParser.parse(der, EncryptedPrivateKeyInfo);
  if (info.encryptionAlgorithm.algorithm !== OID.pbes2 || !info.encryptionAlgorithm.parameters) return undefined;
  const p = AsnParser.parse(info.encryptionAlgorithm.parameters, PBES2Params);
  if (p.keyDerivationFunc.algorithm !== OID.pbkdf2 || !p.keyDerivationFunc.parameters) return undefined;
  const k = AsnParser.parse(p.keyDerivationFunc.parameters, PBKDF2Params);
  return { salt: Buffer.from(k.salt), iterations: k.iterationCount };
}

/**
 * Decrypts an ENCRYPTED PRIVATE KEY PEM to PKCS#8 DER. PBES2 with PBKDF2 and
 * AES-CBC goes through the KDF cache; any other scheme falls back to OpenSSL
 * (node's createPrivateKey). A wrong passphrase throws WrongPassphraseError.
 */
export async function decryptPkcs8(pem: string, passphrase: string, what = "key"): Promise<Buffer> {
  const block = parsePemAll(pem).find((b) => b.label === "ENCRYPTED PRIVATE KEY");
  if (!block) throw new Error(`${what}: not an encrypted PKCS#8 key (no "ENCRYPTED PRIVATE KEY" block)`);
  let der: Buffer;
  try {
    der = await decryptFast(block.der, passphrase) ?? decryptWithOpenssl(pem, passphrase);
  } catch (e) {
    if (e instanceof WrongPassphraseError) throw new WrongPassphraseError(what);
    if ((e as Error).message?.includes("bad decrypt") || /BAD_DECRYPT|bad password/i.test(String((e as any).code ?? (e as Error).message))) throw new WrongPassphraseError(what);
    throw new Error(`${what}: cannot decrypt: ${(e as Error).message}`);
  }
  try {
    createPrivateKey({ key: der, format: "der", type: "pkcs8" });
  } catch {
    // CBC padding happened to check out under the wrong key (p ≈ 1/256): the content tells.
    throw new WrongPassphraseError(what);
  }
  return der;
}

async function decryptFast(der: Uint8Array, passphrase: string): Promise<Buffer | undefined> {
  const info = AsnParser.parse(der, EncryptedPrivateKeyInfo);
  if (info.encryptionAlgorithm.algorithm !== OID.pbes2 || !info.encryptionAlgorithm.parameters) return undefined;
  const p = AsnParser.parse(info.encryptionAlgorithm.parameters, PBES2Params);
  const cipher = { [OID.aes256cbc]: "aes-256-cbc", [OID.aes128cbc]: "aes-128-cbc" }[p.encryptionScheme.algorithm];
  if (p.keyDerivationFunc.algorithm !== OID.pbkdf2 || !cipher || !p.keyDerivationFunc.parameters || !p.encryptionScheme.parameters) return undefined;
  const k = AsnParser.parse(p.keyDerivationFunc.parameters, PBKDF2Params);
  const prf = k.prf?.algorithm ?? OID.hmacWithSHA1;
  const digest = prf === OID.hmacWithSHA256 ? "sha256" : prf === OID.hmacWithSHA1 ? "sha1" : undefined;
  if (!digest) return undefined;
  const keyLen = cipher === "aes-256-cbc" ? 32 : 16;
  const key = await deriveKey(passphrase, new Uint8Array(k.salt), k.iterationCount, digest, keyLen);
  const iv = Buffer.from(AsnParser.parse(p.encryptionScheme.parameters, OctetString).buffer);
  try {
    const d = createDecipheriv(cipher, key, iv);
    return Buffer.concat([d.update(Buffer.from(info.encryptedData.buffer)), d.final()]);
  } catch {
    throw new WrongPassphraseError();
  }
}

function decryptWithOpenssl(pem: string, passphrase: string): Buffer {
  return createPrivateKey({ key: pem, format: "pem", passphrase }).export({ format: "der", type: "pkcs8" });
}
