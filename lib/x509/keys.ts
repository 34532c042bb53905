/** Key pairs: generation, algorithm parameters, PKCS#8 import/export (node's webcrypto). */
import { createECDH, createPrivateKey, createPublicKey, generateKeyPair as nodeGenerateKeyPair, KeyObject, webcrypto }
  from "node:crypto";
import { bitString, ctxCons, int, octets, oid, seq } from "./der.js";
import { generateRsaKey } from "./rsa-keygen.js";
import { InputError } from "./validate.js";

/** node's SubtleCrypto, reached when first used: reading webcrypto loads its modules, which `pki issue` never needs. */
export const subtle = (): SubtleCrypto => webcrypto.subtle as SubtleCrypto;
export type KeyType = "ecdsa" | "rsa" | "ed25519";
export interface KeySpec { type: KeyType; curve?: "P-256" | "P-384"; bits?: 2048 | 3072 | 4096 }

/** Default key: ECDSA P-256 — small, fast, accepted by curl, openssl, Java 8+ and Node. */
export const DEFAULT_KEY: KeySpec = { type: "ecdsa", curve: "P-256" };

export function checkKeySpec(type = "ecdsa", curve?: string, bits?: number | string): KeySpec {
  switch (type) {
    case "ecdsa": case "ec": {
      const c = (curve ?? "P-256").toUpperCase();
      if (c !== "P-256" && c !== "P-384") throw new InputError(`unsupported curve "${curve}": use P-256 or P-384`);
      return { type: "ecdsa", curve: c };
    }
    case "rsa": {
      const b = Number(bits ?? 2048);
      if (b !== 2048 && b !== 3072 && b !== 4096)
        throw new InputError(`unsupported RSA key size "${bits}": use 2048, 3072 or 4096`);
      return { type: "rsa", bits: b };
    }
    case "ed25519": return { type: "ed25519" };
    default: throw new InputError(`unknown key type "${type}": use ecdsa, rsa or ed25519`);
  }
}

/** The webcrypto algorithm to generate/import a key and to sign with it. */
export function keyAlgorithm(spec: KeySpec): { gen: any; sign: any } {
  switch (spec.type) {
    case "ecdsa": {
      const curve = spec.curve ?? "P-256";
      const hash = curve === "P-384" ? "SHA-384" : "SHA-256";
      return { gen: { name: "ECDSA", namedCurve: curve }, sign: { name: "ECDSA", hash } };
    }
    case "rsa":
      return {
        gen: {
          name: "RSASSA-PKCS1-v1_5",
          modulusLength: spec.bits ?? 2048,
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: "SHA-256",
        },
        sign: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
      };
    case "ed25519":
      return { gen: { name: "Ed25519" }, sign: { name: "Ed25519" } };
  }
}

export interface KeyPair { spec: KeySpec; privateKey: CryptoKey; publicKey: CryptoKey }

/**
 * A private key that never leaves where it is held (a PKCS#11 token): it signs the digest pki computes and returns
 * the signature as X.509 carries it (ECDSA: the DER Ecdsa-Sig-Value; RSA: the PKCS#1 v1.5 signature).
 */
export interface HeldKey {
  readonly held: string;
  signDigest(digest: Buffer, hash: "sha256" | "sha384"): Buffer;
}

export const isHeldKey = (k: object): k is HeldKey => typeof (k as Partial<HeldKey>).signDigest === "function";

/** What signing needs: the key's spec and its private half (a KeyObject, a webcrypto CryptoKey, or held elsewhere). */
export interface SigningKey { spec: KeySpec; privateKey: KeyObject | CryptoKey | HeldKey }

/** A private key as node's KeyObject with its SPKI: signing and matching a certificate, without webcrypto. */
export interface KeyObjects extends SigningKey { privateKey: KeyObject; spki: Buffer }

/** KeyObjects of a private KeyObject (its SPKI derived), or of a key made as DER (its SPKI as made). */
export function keyObjectsOf(key: KeyObject | KeyDer): KeyObjects {
  if (key instanceof KeyObject) {
    const spki = createPublicKey(key).export({ format: "der", type: "spki" });
    return { spec: specOfKeyObject(key), privateKey: key, spki };
  }
  const privateKey = createPrivateKey({ key: Buffer.from(key.pkcs8), format: "der", type: "pkcs8" });
  return { spec: key.spec, privateKey, spki: key.spki };
}

/** A fresh key pair (runs on the libuv pool, so many may be generated in parallel). */
export async function generateKeyPair(spec: KeySpec = DEFAULT_KEY): Promise<KeyPair> {
  if (spec.type === "rsa") return keyPairOf(await generateKeyDer(spec));
  const { gen } = keyAlgorithm(spec);
  const kp = (await subtle().generateKey(gen, true, ["sign", "verify"])) as CryptoKeyPair;
  return { spec, privateKey: kp.privateKey, publicKey: kp.publicKey };
}

/** A key pair as its DER encodings: all that issuing a certificate (SPKI) and writing its key (PKCS#8) need. */
export interface KeyDer { spec: KeySpec; pkcs8: Buffer; spki: Buffer }

const CURVES = {
  "P-256": { ecdh: "prime256v1", oid: "1.2.840.10045.3.1.7", bytes: 32 },
  "P-384": { ecdh: "secp384r1", oid: "1.3.132.0.34", bytes: 48 },
} as const;
const OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1";

/** A curve's scalar and point have fixed lengths: the DER around them is written once, with placeholders. */
function ecTemplate(c: (typeof CURVES)[keyof typeof CURVES]) {
  const d = Buffer.alloc(c.bytes);
  const q = Buffer.alloc(1 + 2 * c.bytes);
  const alg = seq(oid(OID_EC_PUBLIC_KEY), oid(c.oid));
  const pub = ctxCons(1, bitString(q));
  const pkcs8 = seq(int(0), alg, octets(seq(int(1), octets(d), pub)));
  const spki = seq(alg, bitString(q));
  return {
    ecdh: createECDH(c.ecdh),
    beforeD: pkcs8.subarray(0, pkcs8.length - pub.length - d.length),
    beforeQ: pub.subarray(0, pub.length - q.length),
    spkiHead: spki.subarray(0, spki.length - q.length),
  };
}
const ecTemplates: Record<string, ReturnType<typeof ecTemplate>> = {};

/**
 * A fresh key pair as DER, for batch issuance (`pki fixtures`). An ECDSA key is drawn by node's ECDH (the same OpenSSL
 * EC_KEY_generate_key as generateKeyPair: d uniform in [1, n-1], Q = dG) and encoded here, byte for byte as OpenSSL
 * encodes it (RFC 5480 SPKI; RFC 5208 PKCS#8 around an RFC 5915 ECPrivateKey with the public key and no parameters):
 * the key costs ~20 µs, OpenSSL 3's encoders ~150 µs more, on the main thread. An RSA key's primes are drawn on the
 * libuv pool (rsa-keygen.ts says why not by generateKeyPair) and OpenSSL encodes it; Ed25519 keys are generated and
 * encoded by OpenSSL on the pool.
 */
export function generateKeyDer(spec: KeySpec = DEFAULT_KEY): Promise<KeyDer> {
  if (spec.type === "ecdsa") {
    const c = CURVES[spec.curve ?? "P-256"];
    const t = (ecTemplates[c.ecdh] ??= ecTemplate(c));
    const q = t.ecdh.generateKeys(); // a new key each call: the ECDH object only keeps the curve's group
    const d = t.ecdh.getPrivateKey(); // minimal big-endian: ECPrivateKey wants it padded to the order's length
    return Promise.resolve({
      spec,
      pkcs8: Buffer.concat([t.beforeD, Buffer.alloc(c.bytes - d.length), d, t.beforeQ, q]),
      spki: Buffer.concat([t.spkiHead, q]),
    });
  }
  const der = {
    publicKeyEncoding: { type: "spki", format: "der" },
    privateKeyEncoding: { type: "pkcs8", format: "der" },
  } as const;
  if (spec.type === "rsa") {
    return generateRsaKey(spec.bits ?? 2048).then((k) => ({
      spec,
      pkcs8: k.export({ type: "pkcs8", format: "der" }),
      spki: createPublicKey(k).export({ type: "spki", format: "der" }),
    }));
  }
  return new Promise((resolve, reject) => {
    const done = (e: Error | null, spki: Buffer, pkcs8: Buffer) => (e ? reject(e) : resolve({ spec, pkcs8, spki }));
    nodeGenerateKeyPair("ed25519", der, done);
  });
}

/** CryptoKeys for a key made as DER. */
export async function keyPairOf(k: KeyDer): Promise<KeyPair> {
  const { gen } = keyAlgorithm(k.spec);
  const [privateKey, publicKey] = await Promise.all([
    subtle().importKey("pkcs8", Buffer.from(k.pkcs8), gen, true, ["sign"]),
    subtle().importKey("spki", Buffer.from(k.spki), gen, true, ["verify"]),
  ]);
  return { spec: k.spec, privateKey, publicKey };
}

/** The key spec of a PKCS#8 DER private key. */
export function specOfPkcs8(der: Uint8Array): KeySpec {
  const k = createPrivateKey({ key: Buffer.from(der), format: "der", type: "pkcs8" });
  return specOfKeyObject(k);
}

function specOfKeyObject(k: ReturnType<typeof createPrivateKey>): KeySpec {
  const d = k.asymmetricKeyDetails ?? {};
  switch (k.asymmetricKeyType) {
    case "ec": {
      const curve = ({ prime256v1: "P-256", secp384r1: "P-384" } as Record<string, "P-256" | "P-384">)[
        d.namedCurve ?? ""
      ];
      if (!curve) throw new Error(`unsupported EC curve ${d.namedCurve}`);
      return { type: "ecdsa", curve };
    }
    case "rsa": return { type: "rsa", bits: d.modulusLength as 2048 };
    case "ed25519": return { type: "ed25519" };
    default: throw new Error(`unsupported key type ${k.asymmetricKeyType}`);
  }
}

/** Imports an unencrypted PKCS#8 DER key as a signing key pair. */
export async function importPkcs8(der: Uint8Array): Promise<KeyPair> {
  const spec = specOfPkcs8(der);
  const { gen } = keyAlgorithm(spec);
  const privateKey = await subtle().importKey("pkcs8", Buffer.from(der), gen, true, ["sign"]);
  const spki = createPublicKey(createPrivateKey({ key: Buffer.from(der), format: "der", type: "pkcs8" })).export({
    format: "der",
    type: "spki",
  });
  const publicKey = await subtle().importKey("spki", spki, gen, true, ["verify"]);
  return { spec, privateKey, publicKey };
}

export async function exportPkcs8(key: CryptoKey): Promise<Buffer> {
  return KeyObject.from(key).export({ format: "der", type: "pkcs8" });
}

export function describeKey(spec: KeySpec): string {
  return spec.type === "ecdsa" ? `ECDSA ${spec.curve}` : spec.type === "rsa" ? `RSA ${spec.bits}` : "Ed25519";
}

/** The key spec of a SubjectPublicKeyInfo DER. */
export function specOfSpki(spki: ArrayBuffer | Uint8Array): KeySpec {
  const k = createPublicKey({ key: Buffer.from(spki as ArrayBuffer), format: "der", type: "spki" });
  return specOfKeyObject(k as unknown as ReturnType<typeof createPrivateKey>);
}

/**
 * Whether `key` (KeyObjects, a KeyPair or a public CryptoKey) is the key whose SPKI DER is `spki` (a certificate's
 * or a CSR's).
 */
export async function isKeyOf(key: KeyObjects | KeyPair | CryptoKey, spki: ArrayBuffer): Promise<boolean> {
  if ("spki" in key) return key.spki.equals(Buffer.from(spki));
  const own = await subtle().exportKey("spki", "publicKey" in key ? key.publicKey : key);
  return Buffer.from(own).equals(Buffer.from(spki));
}
