/**
 * Java keystores for one PrivateKeyEntry: Sun JKS and PKCS#12.
 *
 * The JKS layout and its key protection are hand-written from OpenJDK's
 * sun.security.provider.JavaKeyStore (engineStore/engineLoad) and
 * sun.security.provider.KeyProtector; there is no public spec.
 */
import { createHash, randomBytes } from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import { AlgorithmIdentifier } from "@peculiar/asn1-x509";
import { EncryptedData, EncryptedPrivateKeyInfo } from "@peculiar/asn1-pkcs8";
import { buildPkcs12, checkKeyAndChain, utf16be } from "./pkcs12.js";

export interface KeystoreOptions {
  alias: string;
  keyPkcs8Der: Uint8Array;
  chainDer: Uint8Array[];
  storePassword: string;
  keyPassword?: string;
}

const KEY_PROTECTOR_OID = "1.3.6.1.4.1.42.2.17.1.1";
const sha1 = (...parts: Uint8Array[]) => parts.reduce((h, p) => h.update(p), createHash("sha1")).digest();

/**
 * Sun KeyProtector: salt(20) || (PKCS#8 XOR keystream) || SHA-1(password || PKCS#8), where the
 * keystream is d1 = SHA-1(password || salt), d(i+1) = SHA-1(password || d(i)); password is UTF-16BE.
 * Wrapped in an EncryptedPrivateKeyInfo with the KeyProtector OID.
 */
function protectKey(pkcs8: Uint8Array, password: string): Buffer {
  const pw = utf16be(password);
  const salt = randomBytes(20);
  const stream = Buffer.alloc(pkcs8.length);
  for (let off = 0, d: Buffer = salt; off < stream.length; off += d.length) {
    d = sha1(pw, d);
    d.copy(stream, off);
  }
  const blob = Buffer.concat([salt, stream.map((b, i) => b ^ pkcs8[i]), sha1(pw, pkcs8)]);
  const info = new EncryptedPrivateKeyInfo({
    encryptionAlgorithm: new AlgorithmIdentifier({ algorithm: KEY_PROTECTOR_OID, parameters: null }),
    encryptedData: new EncryptedData(new Uint8Array(blob).buffer),
  });
  return Buffer.from(AsnConvert.serialize(info));
}

// java.io.DataOutputStream primitives (big-endian).
const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
const bytes = (b: Uint8Array) => Buffer.concat([u32(b.length), b]);
/** writeUTF: u16 length + "modified UTF-8" (NUL as C0 80, each UTF-16 unit encoded separately). */
function utf(s: string): Buffer {
  const out: number[] = [];
  for (const c of Array.from(s, (_, i) => s.charCodeAt(i))) {
    if (c >= 1 && c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  if (out.length > 0xffff) throw new Error("JKS string too long");
  const len = Buffer.alloc(2);
  len.writeUInt16BE(out.length);
  return Buffer.concat([len, Buffer.from(out)]);
}

function check(opts: KeystoreOptions): string {
  if (!opts.alias) throw new Error("keystore alias must not be empty");
  if (!opts.storePassword) throw new Error("keystore password must not be empty");
  const keyPassword = opts.keyPassword ?? opts.storePassword;
  if (!keyPassword) throw new Error("keystore key password must not be empty");
  return keyPassword;
}

/** Sun JKS (magic 0xFEEDFEED, version 2) with one PrivateKeyEntry. */
export function buildJks(opts: KeystoreOptions): Buffer {
  const keyPassword = check(opts);
  checkKeyAndChain(opts.keyPkcs8Der, opts.chainDer, "JKS");
  const date = Buffer.alloc(8);
  date.writeBigUInt64BE(BigInt(Date.now()));
  const body = Buffer.concat([
    u32(0xfeedfeed), u32(2), u32(1), // magic, version, entry count
    u32(1), utf(opts.alias.toLowerCase()), date, // tag 1 = private key; JavaKeyStore looks aliases up lower-cased
    bytes(protectKey(opts.keyPkcs8Der, keyPassword)),
    u32(opts.chainDer.length), ...opts.chainDer.flatMap((c) => [utf("X.509"), bytes(c)]),
  ]);
  // Integrity check: SHA-1(password as UTF-16BE || "Mighty Aphrodite" || keystore bytes).
  return Buffer.concat([body, sha1(utf16be(opts.storePassword), Buffer.from("Mighty Aphrodite", "utf8"), body)]);
}

/** PKCS#12 keystore (`keytool -storetype PKCS12`, Java 9+): the alias is the friendlyName. */
export function buildPkcs12Keystore(opts: KeystoreOptions): Buffer {
  const keyPassword = check(opts);
  return buildPkcs12(
    { keyPkcs8Der: opts.keyPkcs8Der, chainDer: opts.chainDer, friendlyName: opts.alias, password: opts.storePassword },
    keyPassword,
  );
}
