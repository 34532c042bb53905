/**
 * Reading PKCS#12 files and Java keystores (JKS) for `pki inspect`: structure always, contents with the
 * password (MAC / integrity digest checked first). Hand-written because no maintained JS package reads both
 * with node's crypto alone; the structures come from @peculiar/asn1-pfx, the ciphers from node.
 */
import { createDecipheriv, createHash, createHmac, pbkdf2Sync } from "node:crypto";
import { AsnConvert, AsnParser, AsnProp, AsnPropTypes, OctetString } from "@peculiar/asn1-schema";
import { ContentInfo, EncryptedContentInfo, id_data, id_encryptedData } from "@peculiar/asn1-cms";
import {
  AuthenticatedSafe,
  CertBag,
  PFX,
  PKCS8ShroudedKeyBag,
  SafeContents,
  id_certBag,
  id_keyBag,
  id_pkcs8ShroudedKeyBag,
  id_SafeContents,
} from "@peculiar/asn1-pfx";
import { EncryptedPrivateKeyInfo } from "@peculiar/asn1-pkcs8";
import { FriendlyName } from "@peculiar/asn1-pkcs9";
import { AlgorithmIdentifier } from "@peculiar/asn1-x509";
import { pkcs12Kdf, utf16be } from "./pkcs12.js";
import { OID } from "./pkcs8.js";
import { checkIterations, IterationLimitError } from "./kdf.js";
import { InputError } from "../x509/validate.js";

export interface StoreKey {
  alias?: string;
  encryption: string;
  pkcs8?: Buffer;
}
export interface StoreContents {
  format: "PKCS#12" | "JKS" | "JCEKS";
  integrity: string; // e.g. "HMAC-SHA256, 2048 iterations"
  verified?: boolean; // the MAC / digest, when a password was given
  encryption: string[]; // how each safe or key is protected
  certs: Array<{ alias?: string; der: Buffer }>;
  keys: StoreKey[];
  unreadable: string[]; // parts that could not be read, and why
}

/** PBKDF2-params (RFC 8018), for reading any store's parameters (pkcs8.ts writes its own with the DER writer). */
class PBKDF2Params {
  @AsnProp({ type: AsnPropTypes.OctetString }) salt = new ArrayBuffer(0);
  @AsnProp({ type: AsnPropTypes.Integer }) iterationCount = 0;
  @AsnProp({ type: AsnPropTypes.Integer, optional: true }) keyLength?: number;
  @AsnProp({ type: AlgorithmIdentifier, optional: true }) prf?: AlgorithmIdentifier;
}
class PBES2Params {
  @AsnProp({ type: AlgorithmIdentifier }) keyDerivationFunc = new AlgorithmIdentifier();
  @AsnProp({ type: AlgorithmIdentifier }) encryptionScheme = new AlgorithmIdentifier();
}
class Pkcs12PbeParams {
  @AsnProp({ type: AsnPropTypes.OctetString }) salt = new ArrayBuffer(0);
  @AsnProp({ type: AsnPropTypes.Integer }) iterations = 0;
}
class CmsEncryptedData {
  @AsnProp({ type: AsnPropTypes.Integer }) version = 0;
  @AsnProp({ type: EncryptedContentInfo }) encryptedContentInfo = new EncryptedContentInfo();
}

const PBE_3DES = "1.2.840.113549.1.12.1.3",
  PBE_RC2_40 = "1.2.840.113549.1.12.1.6";
const AES: Record<string, string> = {
  "2.16.840.1.101.3.4.1.2": "aes-128-cbc",
  "2.16.840.1.101.3.4.1.22": "aes-192-cbc",
  "2.16.840.1.101.3.4.1.42": "aes-256-cbc",
};
const PRF: Record<string, string> = {
  [OID.hmacWithSHA1]: "sha1",
  "1.2.840.113549.2.8": "sha224",
  [OID.hmacWithSHA256]: "sha256",
  "1.2.840.113549.2.10": "sha384",
  "1.2.840.113549.2.11": "sha512",
};
const SCRYPT = "1.3.6.1.4.1.11591.4.11";
const DIGESTS: Record<string, "sha1" | "sha256"> = { "1.3.14.3.2.26": "sha1", "2.16.840.1.101.3.4.2.1": "sha256" };

/** How an algorithm identifier protects data, in words. */
export function describePbe(alg: AlgorithmIdentifier): string {
  if (alg.algorithm === PBE_3DES)
    return `pbeWithSHA1And3-KeyTripleDES-CBC, ${AsnParser.parse(alg.parameters!, Pkcs12PbeParams).iterations} iterations`;
  if (alg.algorithm === PBE_RC2_40) return "pbeWithSHA1And40BitRC2-CBC (weak)";
  if (alg.algorithm !== OID.pbes2 || !alg.parameters) return alg.algorithm;
  const p = AsnParser.parse(alg.parameters, PBES2Params);
  const cipher = AES[p.encryptionScheme.algorithm] ?? p.encryptionScheme.algorithm;
  if (p.keyDerivationFunc.algorithm === SCRYPT) return `PBES2 (scrypt, ${cipher})`;
  const k = AsnParser.parse(p.keyDerivationFunc.parameters!, PBKDF2Params);
  const prf = (PRF[k.prf?.algorithm ?? OID.hmacWithSHA1] ?? "?").toUpperCase();
  return `PBES2 (PBKDF2-HMAC-${prf}, ${k.iterationCount} iterations, ${cipher})`;
}

/** Decrypts PKCS#12 PBE or PBES2-protected bytes; throws when the scheme is not supported. */
export function pbeDecrypt(alg: AlgorithmIdentifier, data: Uint8Array, password: string): Buffer {
  let decipher;
  if (alg.algorithm === PBE_3DES) {
    const p = AsnParser.parse(alg.parameters!, Pkcs12PbeParams);
    checkIterations(p.iterations, "the PKCS#12 file", "PBE");
    const salt = new Uint8Array(p.salt);
    decipher = createDecipheriv(
      "des-ede3-cbc",
      pkcs12Kdf("sha1", password, salt, 1, p.iterations, 24),
      pkcs12Kdf("sha1", password, salt, 2, p.iterations, 8),
    );
  } else if (alg.algorithm === OID.pbes2 && alg.parameters) {
    const p = AsnParser.parse(alg.parameters, PBES2Params);
    const k = AsnParser.parse(p.keyDerivationFunc.parameters!, PBKDF2Params);
    const cipher = AES[p.encryptionScheme.algorithm];
    const prf = PRF[k.prf?.algorithm ?? OID.hmacWithSHA1];
    if (!cipher || !prf) throw new Error(`unsupported cipher ${p.encryptionScheme.algorithm}`);
    checkIterations(k.iterationCount, "the PKCS#12 file", "PBKDF2");
    const iv = Buffer.from(AsnParser.parse(p.encryptionScheme.parameters!, OctetString).buffer);
    const keyLen = Number(cipher.slice(4, 7)) / 8;
    const key = pbkdf2Sync(Buffer.from(password, "utf8"), Buffer.from(k.salt), k.iterationCount, keyLen, prf);
    decipher = createDecipheriv(cipher, key, iv);
  } else {
    throw new Error(`${describePbe(alg)} is not supported here (try openssl pkcs12 -legacy)`);
  }
  return Buffer.concat([decipher.update(data), decipher.final()]);
}

/** A PFX: MAC, safes and bags; with `password`, the MAC is checked and the encrypted parts decrypted. */
export function readPkcs12(der: Uint8Array, password?: string): StoreContents {
  const pfx = AsnConvert.parse(Buffer.from(der), PFX);
  if (pfx.authSafe.contentType !== id_data) throw new InputError("a PKCS#12 signed with a public key is not supported");
  const authSafeBytes = Buffer.from(AsnConvert.parse(pfx.authSafe.content, OctetString).buffer);
  const out: StoreContents = {
    format: "PKCS#12", integrity: "none", encryption: [], certs: [], keys: [], unreadable: [],
  };
  const mac = pfx.macData;
  if (mac) {
    const hash = DIGESTS[mac.mac.digestAlgorithm.algorithm];
    out.integrity = `HMAC-${hash ? hash.toUpperCase() : mac.mac.digestAlgorithm.algorithm}, ${mac.iterations} iterations`;
    if (password !== undefined && hash) {
      checkIterations(mac.iterations, "the PKCS#12 file", "MAC");
      const salt = new Uint8Array(mac.macSalt.buffer);
      const key = pkcs12Kdf(hash, password, salt, 3, mac.iterations, hash === "sha1" ? 20 : 32);
      out.verified = createHmac(hash, key).update(authSafeBytes).digest().equals(Buffer.from(mac.mac.digest.buffer));
    }
  }
  const canDecrypt = password !== undefined && out.verified !== false;
  for (const ci of AsnConvert.parse(authSafeBytes, AuthenticatedSafe)) {
    let safe: Buffer | undefined;
    if (ci.contentType === id_data) safe = Buffer.from(AsnConvert.parse(ci.content, OctetString).buffer);
    else if (ci.contentType === id_encryptedData) {
      const eci = AsnConvert.parse(ci.content, CmsEncryptedData).encryptedContentInfo;
      out.encryption.push(`certificates: ${describePbe(eci.contentEncryptionAlgorithm)}`);
      if (!canDecrypt) {
        out.unreadable.push("an encrypted safe (give the password)");
        continue;
      }
      try {
        const data = new Uint8Array(eci.encryptedContent!.value!.buffer);
        safe = pbeDecrypt(eci.contentEncryptionAlgorithm, data, password!);
      } catch (e) {
        if (e instanceof IterationLimitError) throw e;
        out.unreadable.push(`an encrypted safe: ${(e as Error).message}`);
        continue;
      }
    } else {
      out.unreadable.push(`a safe of type ${ci.contentType}`);
      continue;
    }
    readBags(AsnConvert.parse(safe, SafeContents), out, canDecrypt ? password : undefined);
  }
  return out;
}

/**
 * Reads a PKCS#12 as `readPkcs12` does, for its iteration counts alone, before OpenSSL (node's tls) is handed the file:
 * refuses one over the bound (IterationLimitError, its message naming `what`); anything else is OpenSSL's to judge.
 */
export function checkPkcs12Kdf(der: Uint8Array, password: string, what: string): void {
  try {
    readPkcs12(der, password);
  } catch (e) {
    if (e instanceof IterationLimitError)
      throw new IterationLimitError(e.message.replace(/^the PKCS#12 file:/, `${what}:`));
  }
}

function readBags(bags: SafeContents, out: StoreContents, password?: string, depth = 0): void {
  for (const bag of bags) {
    // OpenSSL follows nested safes (and would derive with their keys' counts): so does this.
    if (bag.bagId === id_SafeContents && depth < 8) {
      readBags(AsnConvert.parse(bag.bagValue, SafeContents), out, password, depth + 1);
      continue;
    }
    const name = bag.bagAttributes?.find((a) => a.attrId === "1.2.840.113549.1.9.20");
    const alias = name ? AsnConvert.parse(name.attrValues[0], FriendlyName).value : undefined;
    if (bag.bagId === id_certBag) {
      const cb = AsnConvert.parse(bag.bagValue, CertBag);
      out.certs.push({ alias, der: Buffer.from(AsnConvert.parse(cb.certValue, OctetString).buffer) });
    } else if (bag.bagId === id_pkcs8ShroudedKeyBag) {
      const kb = AsnConvert.parse(bag.bagValue, PKCS8ShroudedKeyBag);
      const k: StoreKey = { encryption: describePbe(kb.encryptionAlgorithm) };
      out.encryption.push(`key: ${k.encryption}`);
      if (password !== undefined) {
        try {
          k.pkcs8 = pbeDecrypt(kb.encryptionAlgorithm, new Uint8Array(kb.encryptedData.buffer), password);
        } catch (e) {
          if (e instanceof IterationLimitError) throw e;
          out.unreadable.push(`the key: ${(e as Error).message}`);
        }
      }
      out.keys.push(k);
    } else if (bag.bagId === id_keyBag) {
      out.keys.push({ encryption: "none", pkcs8: Buffer.from(bag.bagValue) });
    } else out.unreadable.push(`a bag of type ${bag.bagId}`);
  }
}

/** A Sun JKS or JCEKS keystore: entries, certificates; with `password`, the integrity digest and the keys. */
export function readJks(b: Buffer, password?: string): StoreContents {
  const magic = b.readUInt32BE(0);
  const out: StoreContents = {
    format: magic === 0xcececece ? "JCEKS" : "JKS",
    integrity: "SHA-1 keyed digest",
    encryption: [],
    certs: [],
    keys: [],
    unreadable: [],
  };
  let off = 8;
  const u32 = () => {
    const v = b.readUInt32BE(off);
    off += 4;
    return v;
  };
  const take = (n: number) => {
    if (off + n > b.length - 20) throw new InputError("truncated keystore");
    const s = b.subarray(off, off + n);
    off += n;
    return s;
  };
  const utf = () => {
    const n = b.readUInt16BE(off);
    off += 2;
    return take(n).toString("utf8");
  };
  const count = u32();
  for (let i = 0; i < count; i++) {
    const tag = u32(),
      alias = utf();
    off += 8; // creation date
    if (tag === 1) {
      const info = AsnConvert.parse(take(u32()), EncryptedPrivateKeyInfo);
      const k: StoreKey = {
        alias,
        encryption:
          info.encryptionAlgorithm.algorithm === "1.3.6.1.4.1.42.2.17.1.1"
            ? "Sun KeyProtector (SHA-1 keystream)"
            : info.encryptionAlgorithm.algorithm,
      };
      if (password !== undefined && k.encryption.startsWith("Sun"))
        k.pkcs8 = unprotectKey(Buffer.from(info.encryptedData.buffer), password);
      out.keys.push(k);
      for (let n = u32(); n > 0; n--) {
        utf();
        out.certs.push({ alias, der: Buffer.from(take(u32())) });
      }
    } else if (tag === 2) {
      utf();
      out.certs.push({ alias, der: Buffer.from(take(u32())) });
    } else {
      out.unreadable.push(`entry "${alias}": a secret-key entry (not read)`);
      break;
    }
  }
  if (password !== undefined) {
    const body = b.subarray(0, b.length - 20);
    out.verified = createHash("sha1")
      .update(utf16be(password))
      .update("Mighty Aphrodite", "utf8")
      .update(body)
      .digest()
      .equals(b.subarray(b.length - 20));
    if (!out.verified) for (const k of out.keys) delete k.pkcs8;
  }
  return out;
}

/** The inverse of jks.ts protectKey; undefined when the key's own check digest says the password is wrong. */
function unprotectKey(blob: Buffer, password: string): Buffer | undefined {
  const pw = utf16be(password);
  const salt = blob.subarray(0, 20),
    enc = blob.subarray(20, blob.length - 20),
    check = blob.subarray(blob.length - 20);
  const plain = Buffer.alloc(enc.length);
  for (let off = 0, d: Buffer = Buffer.from(salt); off < enc.length; off += 20) {
    d = createHash("sha1").update(pw).update(d).digest();
    for (let i = 0; i < 20 && off + i < enc.length; i++) plain[off + i] = enc[off + i] ^ d[i];
  }
  return createHash("sha1").update(pw).update(plain).digest().equals(check) ? plain : undefined;
}
