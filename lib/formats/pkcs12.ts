/**
 * PKCS#12 (RFC 7292) PFX builder: one private key + its certificate chain.
 *
 * Default form matches OpenSSL 3 `pkcs12 -export`: key and certificates encrypted with
 * PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC), MAC HMAC-SHA256. The legacy form uses
 * pbeWithSHAAnd3-KeyTripleDES-CBC for both key and certificates (RC2 is not in Node's
 * OpenSSL) and an HMAC-SHA1 MAC, which older macOS Keychain and Java 8 import.
 */
import {
  X509Certificate,
  createCipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  pbkdf2Sync,
  randomBytes,
} from "node:crypto";
import { AsnConvert, AsnProp, AsnPropTypes, OctetString } from "@peculiar/asn1-schema";
import { AlgorithmIdentifier } from "@peculiar/asn1-x509";
import { ContentInfo, EncryptedContent, EncryptedContentInfo, id_data, id_encryptedData } from "@peculiar/asn1-cms";
import {
  AuthenticatedSafe, CertBag, MacData, PFX, PKCS12Attribute, PKCS8ShroudedKeyBag, SafeBag, SafeContents,
  id_certBag, id_pbeWithSHAAnd3_KeyTripleDES_CBC, id_pkcs8ShroudedKeyBag, id_x509Certificate,
} from "@peculiar/asn1-pfx";
import { EncryptedData as EncryptedOctets } from "@peculiar/asn1-pkcs8";
import { FriendlyName, id_pkcs9_at_friendlyName, id_pkcs9_at_localKeyId } from "@peculiar/asn1-pkcs9";
import { DigestInfo, id_sha1, id_sha256 } from "@peculiar/asn1-rsa";
import { pbes2Encrypt } from "./pkcs8.js";
import { checkIterations } from "./kdf.js";

export interface Pkcs12Options {
  keyPkcs8Der: Uint8Array;
  chainDer: Uint8Array[];
  friendlyName: string;
  password: string;
  legacy?: boolean;
  iterations?: number;
}

// Parameter structures no installed @peculiar package models, hand-declared from the specs
// (the PBES2 ones live in ./pkcs8.js).

/** RFC 7292 appendix C: pkcs-12PbeParams ::= SEQUENCE { salt OCTET STRING, iterations INTEGER } */
class Pkcs12PbeParams {
  @AsnProp({ type: AsnPropTypes.OctetString }) salt = new ArrayBuffer(0);
  @AsnProp({ type: AsnPropTypes.Integer }) iterations = 0;
  constructor(p: Partial<Pkcs12PbeParams> = {}) { Object.assign(this, p); }
}

/** RFC 5652 section 8: EncryptedData ::= SEQUENCE { version CMSVersion, encryptedContentInfo } */
class CmsEncryptedData {
  @AsnProp({ type: AsnPropTypes.Integer }) version = 0;
  @AsnProp({ type: EncryptedContentInfo }) encryptedContentInfo = new EncryptedContentInfo();
  constructor(p: Partial<CmsEncryptedData> = {}) { Object.assign(this, p); }
}

const ab = (u: Uint8Array): ArrayBuffer => u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) as ArrayBuffer;
const der = (v: unknown): ArrayBuffer => AsnConvert.serialize(v);
const algId = (algorithm: string, parameters: ArrayBuffer | null) => new AlgorithmIdentifier({ algorithm, parameters });

/** Java `char[]` bytes: each UTF-16 code unit big-endian (also the body of a PKCS#12 BMPString password). */
export function utf16be(s: string): Buffer {
  return Buffer.from(s, "utf16le").swap16();
}

/**
 * PKCS#12 key derivation, RFC 7292 appendix B.2 (hand-written: Node has no PKCS#12 KDF).
 * id 1 = cipher key, 2 = IV, 3 = MAC key. Password is a NUL-terminated BMPString.
 */
export function pkcs12Kdf(
  hash: "sha1" | "sha256",
  password: string,
  salt: Uint8Array,
  id: 1 | 2 | 3,
  iterations: number,
  n: number,
): Buffer {
  checkIterations(iterations, "the PKCS#12 file", "PKCS#12 KDF");
  const v = 64; // block size of SHA-1 and SHA-256
  const fill = (b: Uint8Array) =>
    Buffer.from(Array.from({ length: v * Math.ceil(b.length / v) }, (_, i) => b[i % b.length]));
  const I = Buffer.concat([fill(salt), fill(Buffer.concat([utf16be(password), Buffer.alloc(2)]))]);
  const out: Buffer[] = [];
  for (let got = 0; got < n; got += out[out.length - 1].length) {
    let A = createHash(hash).update(Buffer.alloc(v, id)).update(I).digest();
    for (let r = 1; r < iterations; r++) A = createHash(hash).update(A).digest();
    out.push(A);
    const B = fill(A);
    for (let j = 0; j < I.length; j += v) {
      // I_j = (I_j + B + 1) mod 2^(8v)
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        carry += I[j + k] + B[k];
        I[j + k] = carry & 0xff;
        carry >>= 8;
      }
    }
  }
  return Buffer.concat(out).subarray(0, n);
}

/** Password-based encryption of `plain`; returns the algorithm identifier and ciphertext. */
function pbeEncrypt(plain: Uint8Array, password: string, legacy: boolean, iterations: number) {
  const salt = randomBytes(legacy ? 8 : 16);
  if (legacy) {
    const key = pkcs12Kdf("sha1", password, salt, 1, iterations, 24);
    const iv = pkcs12Kdf("sha1", password, salt, 2, iterations, 8);
    const c = createCipheriv("des-ede3-cbc", key, iv);
    return {
      alg: algId(id_pbeWithSHAAnd3_KeyTripleDES_CBC, der(new Pkcs12PbeParams({ salt: ab(salt), iterations }))),
      data: Buffer.concat([c.update(plain), c.final()]),
    };
  }
  const { alg, data } = pbes2Encrypt(
    plain,
    pbkdf2Sync(Buffer.from(password, "utf8"), salt, iterations, 32, "sha256"),
    salt,
    iterations,
  );
  return { alg: AsnConvert.parse(alg, AlgorithmIdentifier), data };
}

function attr(attrId: string, value: ArrayBuffer): PKCS12Attribute {
  // PKCS12Attribute's constructor ignores its argument, so assign explicitly.
  return Object.assign(new PKCS12Attribute(), { attrId, attrValues: [value] });
}

const dataContent = (bytes: ArrayBuffer) =>
  new ContentInfo({ contentType: id_data, content: der(new OctetString(bytes)) });

/** Throws unless `chainDer` is non-empty and its first certificate belongs to the PKCS#8 key. */
export function checkKeyAndChain(keyPkcs8Der: Uint8Array, chainDer: Uint8Array[], what: string): void {
  if (chainDer.length === 0) throw new Error(`${what} needs at least the leaf certificate`);
  const key = createPrivateKey({ key: Buffer.from(keyPkcs8Der), format: "der", type: "pkcs8" });
  if (!new X509Certificate(chainDer[0]).checkPrivateKey(key))
    throw new Error(`${what}: private key does not match the leaf certificate`);
}

/**
 * DER of a PFX holding the key (PKCS8ShroudedKeyBag) and chain (CertBags, leaf first).
 * Key bag and leaf cert bag carry friendlyName and localKeyId (SHA-1 of the leaf, as OpenSSL does),
 * which Java needs to pair them into a PrivateKeyEntry. `keyPassword` (default: `password`)
 * encrypts only the key bag; the certificate safe and MAC use `password`.
 */
export function buildPkcs12(opts: Pkcs12Options, keyPassword = opts.password): Buffer {
  const { keyPkcs8Der, chainDer, friendlyName, password, legacy = false, iterations = 2048 } = opts;
  if (!password || !keyPassword) throw new Error("PKCS#12 password must not be empty");
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error("PKCS#12 iterations must be a positive integer");
  checkKeyAndChain(keyPkcs8Der, chainDer, "PKCS#12");

  // bagAttributes is a SET OF: DER (X.690 11.6) orders it by encoding, and a friendlyName of 11+ characters sorts
  // after localKeyId. The schema library writes a SET OF in the order given.
  const attrs = [
    attr(id_pkcs9_at_friendlyName, der(new FriendlyName(friendlyName))),
    attr(id_pkcs9_at_localKeyId, der(new OctetString(ab(createHash("sha1").update(chainDer[0]).digest())))),
  ].sort((a, b) => Buffer.compare(Buffer.from(der(a)), Buffer.from(der(b))));
  const certBags = chainDer.map((c, i) => new SafeBag({
    bagId: id_certBag,
    bagValue: der(new CertBag({ certId: id_x509Certificate, certValue: der(new OctetString(ab(c))) })),
    bagAttributes: i === 0 ? attrs : undefined,
  }));
  const shrouded = pbeEncrypt(keyPkcs8Der, keyPassword, legacy, iterations);
  const keyBag = new SafeBag({
    bagId: id_pkcs8ShroudedKeyBag,
    bagValue: der(
      new PKCS8ShroudedKeyBag({
        encryptionAlgorithm: shrouded.alg,
        encryptedData: new EncryptedOctets(ab(shrouded.data)),
      }),
    ),
    bagAttributes: attrs,
  });

  // Like OpenSSL: an encrypted safe of certificates, then a plain Data safe with the shrouded key.
  const certs = pbeEncrypt(new Uint8Array(der(new SafeContents(certBags))), password, legacy, iterations);
  const certSafe = new ContentInfo({
    contentType: id_encryptedData,
    content: der(new CmsEncryptedData({
      encryptedContentInfo: new EncryptedContentInfo({
        contentType: id_data,
        contentEncryptionAlgorithm: certs.alg,
        encryptedContent: new EncryptedContent({ value: new OctetString(ab(certs.data)) }),
      }),
    })),
  });
  const authSafe = der(new AuthenticatedSafe([certSafe, dataContent(der(new SafeContents([keyBag])))]));

  // RFC 7292 section 5 / appendix B: MAC key from the PKCS#12 KDF (id 3), HMAC over the AuthenticatedSafe.
  const hash = legacy ? "sha1" : "sha256";
  const macSalt = randomBytes(8);
  const macKey = pkcs12Kdf(hash, password, macSalt, 3, iterations, legacy ? 20 : 32);
  const mac = createHmac(hash, macKey).update(new Uint8Array(authSafe)).digest();
  const pfx = new PFX({
    version: 3,
    authSafe: dataContent(authSafe),
    macData: new MacData({
      mac: new DigestInfo({
        digestAlgorithm: algId(legacy ? id_sha1 : id_sha256, null),
        digest: new OctetString(ab(mac)),
      }),
      macSalt: new OctetString(ab(macSalt)),
      iterations,
    }),
  });
  return Buffer.from(der(pfx));
}
