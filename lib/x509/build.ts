/**
 * The issuance hot path: TBSCertificate and CertificationRequestInfo built with the DER writer
 * (der.ts) and signed with node:crypto, no ASN.1 object model in between (RFC 5280, RFC 2986).
 */
import { createPublicKey, hash, KeyObject, sign as nodeSign } from "node:crypto";
import {
  bitString, bool, children, ctxCons, ctxPrim, DerError, int, NULL, octets, oid, oidText, printable, readTlv,
  seq, set, time, utf8, value, whole,
} from "./der.js";
import { isHeldKey, type HeldKey, type KeySpec } from "./keys.js";
import { isIPv4Text, isIPv6Text } from "./validate.js";

/** An extension as the caller encoded it: `value` is the DER inside extnValue. */
export interface RawExtension { oid: string; critical: boolean; value: Uint8Array }

export const OIDS = {
  basicConstraints: "2.5.29.19", keyUsage: "2.5.29.15", extKeyUsage: "2.5.29.37", subjectAltName: "2.5.29.17",
  subjectKeyId: "2.5.29.14", authorityKeyId: "2.5.29.35", extensionRequest: "1.2.840.113549.1.9.14",
} as const;

/** Subject attributes in the order they appear in the Name (most significant first). */
const ATTRS: [string, string][] = [
  ["country", "2.5.4.6"], ["state", "2.5.4.8"], ["locality", "2.5.4.7"],
  ["organization", "2.5.4.10"], ["organizationalUnit", "2.5.4.11"], ["commonName", "2.5.4.3"],
];
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/** Name DER: one single-valued RDN per attribute; PrintableString when the value allows it, else UTF8String. */
export function nameDer(s: Record<string, string | undefined>): Buffer {
  return seq(...ATTRS.filter(([k]) => s[k]).map(([k, o]) => {
    const v = s[k]!;
    return set(seq(oid(o), PRINTABLE.test(v) ? printable(v) : utf8(v)));
  }));
}

export function extensionDer(e: RawExtension): Buffer {
  return seq(oid(e.oid), ...(e.critical ? [bool(true)] : []), octets(e.value));
}

/** KeyUsage bits (0 = digitalSignature ... 8 = decipherOnly) as a DER BIT STRING with no trailing zero bits. */
export function keyUsageValue(bits: number[]): Buffer {
  if (!bits.length) throw new DerError("an empty keyUsage");
  const bytes = Buffer.alloc(Math.floor(Math.max(...bits) / 8) + 1);
  for (const b of bits) bytes[b >> 3] |= 0x80 >> (b & 7);
  const last = bytes[bytes.length - 1];
  let unused = 0;
  while (!((last >> unused) & 1)) unused++;
  return bitString(bytes, unused);
}
export const KU = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5, cRLSign: 6 } as const;

export function basicConstraintsValue(ca: boolean, pathLength?: number): Buffer {
  return ca ? seq(bool(true), ...(pathLength === undefined ? [] : [int(pathLength)])) : seq();
}

export const extKeyUsageValue = (oids: string[]) => seq(...oids.map(oid));

/** The 4 or 16 bytes of an IPv4/IPv6 address (IPv6 may end in a dotted quad). */
export function ipBytes(ip: string): Buffer {
  if (isIPv4Text(ip)) return Buffer.from(ip.split(".").map(Number));
  if (!isIPv6Text(ip)) throw new DerError(`invalid IP address ${ip.slice(0, 60)}`);
  let s = ip;
  const tail: number[] = [];
  const m = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (m) {
    tail.push((+m[1] << 8) | +m[2], (+m[3] << 8) | +m[4]);
    s = s.slice(0, m.index);
    if (s.endsWith(":") && !s.endsWith("::")) s = s.slice(0, -1);
  }
  const words = (t: string) => (t ? t.split(":").map((w) => parseInt(w, 16)) : []);
  let all: number[];
  if (s.includes("::")) {
    const [h, r] = s.split("::");
    const hw = words(h);
    const rw = [...words(r), ...tail];
    all = [...hw, ...new Array(8 - hw.length - rw.length).fill(0), ...rw];
  } else all = [...words(s), ...tail];
  const out = Buffer.alloc(16);
  all.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}

/** GeneralNames of a subjectAltName: dNSName, iPAddress, URI, rfc822Name, in that order. */
export function sanValue(s: { domains: string[]; ips: string[]; uris?: string[]; emails?: string[] }): Buffer {
  return seq(
    ...s.domains.map((d) => ctxPrim(2, Buffer.from(d, "latin1"))),
    ...s.ips.map((ip) => ctxPrim(7, ipBytes(ip))),
    ...(s.uris ?? []).map((u) => ctxPrim(6, Buffer.from(u, "latin1"))),
    ...(s.emails ?? []).map((e) => ctxPrim(1, Buffer.from(e, "latin1"))),
  );
}

/** RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING's bits. */
export function keyIdOfSpki(spki: Uint8Array): Buffer {
  const [, bits] = children(spki, readTlv(spki));
  return hash("sha1", value(spki, bits).subarray(1), "buffer");
}

export const OID_RSA = "1.2.840.113549.1.1.1";

/** The algorithm OID of a SubjectPublicKeyInfo. */
export function spkiAlgorithm(spki: Uint8Array): string {
  const [alg] = children(spki, readTlv(spki));
  return oidText(value(spki, children(spki, alg)[0]));
}

export const akiValue = (keyId: Uint8Array) => seq(ctxPrim(0, keyId));

export interface Signer { algorithm: Buffer; sign(data: Buffer): Buffer }

const signers = new WeakMap<object, Signer>();

/** The signatureAlgorithm and signing function for a private key of `spec` (one per key: a CA signs hundreds). */
export function signerOf(spec: KeySpec, key: KeyObject | CryptoKey | HeldKey): Signer {
  let s = signers.get(key);
  if (!s) {
    s = isHeldKey(key) ? heldSigner(spec, key) : makeSigner(spec, key instanceof KeyObject ? key : KeyObject.from(key));
    signers.set(key, s);
  }
  return s;
}

/** The signatureAlgorithm a key of `spec` signs with, and the digest it signs over (Ed25519: none). */
export function signatureAlgorithm(spec: KeySpec): { algorithm: Buffer; hash: string | null } {
  switch (spec.type) {
    case "ecdsa": {
      const p384 = spec.curve === "P-384";
      const algorithm = seq(oid(p384 ? "1.2.840.10045.4.3.3" : "1.2.840.10045.4.3.2"));
      return { algorithm, hash: p384 ? "sha384" : "sha256" };
    }
    case "rsa": return { algorithm: seq(oid("1.2.840.113549.1.1.11"), NULL), hash: "sha256" };
    case "ed25519": return { algorithm: seq(oid("1.3.101.112")), hash: null };
  }
}

/** A held key signs the digest computed here: tokens offer CKM_ECDSA and CKM_RSA_PKCS, not hash-and-sign. */
function heldSigner(spec: KeySpec, k: HeldKey): Signer {
  const { algorithm, hash: h } = signatureAlgorithm(spec);
  if (h !== "sha256" && h !== "sha384") throw new Error(`a ${spec.type} key cannot be held in a token`);
  return { algorithm, sign: (d) => k.signDigest(hash(h, d, "buffer"), h) };
}

function makeSigner(spec: KeySpec, k: KeyObject): Signer {
  const { algorithm, hash } = signatureAlgorithm(spec);
  return { algorithm, sign: (d) => nodeSign(hash, d, k) };
}

/** SubjectPublicKeyInfo DER of a public key. */
export function spkiOf(key: KeyObject | CryptoKey): Buffer {
  const k = key instanceof KeyObject ? key : KeyObject.from(key);
  return (k.type === "private" ? createPublicKey(k) : k).export({ format: "der", type: "spki" });
}

export interface TbsOptions {
  serial: string; issuer: Uint8Array; subject: Uint8Array; notBefore: Date; notAfter: Date;
  spki: Uint8Array; extensions: RawExtension[];
}

/** A v3 TBSCertificate whose signature will be `algorithm`. */
export function tbsCertificate(o: TbsOptions, algorithm: Buffer): Buffer {
  const exts = o.extensions.length ? [ctxCons(3, seq(...o.extensions.map(extensionDer)))] : [];
  return seq(
    ctxCons(0, int(2)), int(o.serial), algorithm, Buffer.from(o.issuer),
    seq(time(o.notBefore), time(o.notAfter)), Buffer.from(o.subject), Buffer.from(o.spki), ...exts,
  );
}

/** The certificate of a TBSCertificate written for `algorithm`; the signer must sign with that algorithm. */
export function signTbs(tbs: Buffer, algorithm: Buffer, signer: Signer): Buffer {
  if (!signer.algorithm.equals(algorithm))
    throw new Error("the issuer's key does not sign with its certificate's algorithm");
  return seq(tbs, algorithm, bitString(signer.sign(tbs)));
}

/** A signed v3 certificate. */
export function buildCertificate(o: TbsOptions, signer: Signer): Buffer {
  return signTbs(tbsCertificate(o, signer.algorithm), signer.algorithm, signer);
}

/** A signed PKCS#10 request; extensions go in one extensionRequest attribute (none: empty attributes). */
export function buildCsr(
  o: { subject: Uint8Array; spki: Uint8Array; extensions: RawExtension[] },
  signer: Signer,
): Buffer {
  const attrs = o.extensions.length
    ? [seq(oid(OIDS.extensionRequest), set(seq(...o.extensions.map(extensionDer))))]
    : [];
  const info = seq(int(0), Buffer.from(o.subject), Buffer.from(o.spki), ctxCons(0, ...attrs));
  return seq(info, signer.algorithm, bitString(signer.sign(info)));
}

/** Parts of a certificate's DER that issuance reuses byte for byte. */
export interface CertParts { subject: Buffer; spki: Buffer; extensions: Map<string, Buffer> }

/** Splits a DER certificate (already accepted by @peculiar/x509) into its subject, SPKI and extension values. */
export function certParts(der: Uint8Array): CertParts {
  const tbs = children(der, readTlv(der))[0];
  let f = children(der, tbs);
  if (f[0]?.tag === 0xa0) f = f.slice(1);
  if (f.length < 6) throw new DerError("not a certificate");
  const extensions = new Map<string, Buffer>();
  const extsTag = f.slice(6).find((t) => t.tag === 0xa3);
  if (extsTag) {
    for (const e of children(der, readTlv(der, extsTag.valueStart, extsTag.end))) {
      const c = children(der, e);
      extensions.set(oidText(value(der, c[0])), value(der, c[c.length - 1]));
    }
  }
  return { subject: whole(der, f[4]), spki: whole(der, f[5]), extensions };
}

/** The subject Name DER of a PKCS#10 request. */
export function csrSubject(der: Uint8Array): Buffer {
  const info = children(der, readTlv(der))[0];
  return whole(der, children(der, info)[1]);
}

/** The keyIdentifier an issuer's certificates carry in AKI: its SKI, or the SHA-1 of its key. */
export function issuerKeyId(p: CertParts): Buffer {
  const ski = p.extensions.get(OIDS.subjectKeyId);
  if (ski) {
    const t = readTlv(ski);
    if (t.tag === 0x04) return value(ski, t);
  }
  return keyIdOfSpki(p.spki);
}
