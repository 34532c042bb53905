/**
 * `pki inspect`: what a certificate, CSR, CRL or key holds, as data (for --json) and as text in the spirit of
 * `step certificate inspect` (field names as `openssl x509 -text` prints them). Never a private key's secret.
 */
import { createHash, createPublicKey, KeyObject } from "node:crypto";
import { x509 } from "./peculiar.js";
import { sansOf } from "./cert.js";
import { REASON_CODES } from "./reasons.js";

export type Hash = "sha256" | "sha1" | "sha384" | "sha512";

export interface KeyInfo {
  type: string;
  bits: number;
  curve?: string;
  spkiFingerprint: string;
}
export interface CertInfo {
  subject: string;
  issuer: string;
  serial: string;
  version: number;
  notBefore: string;
  notAfter: string;
  state: string;
  selfSigned: boolean;
  signatureAlgorithm: string;
  publicKey: KeyInfo;
  basicConstraints?: string;
  keyUsage?: string[];
  extendedKeyUsage?: string[];
  subjectAltNames?: string[];
  subjectKeyId?: string;
  authorityKeyId?: string;
  fingerprint: string;
}
export interface CsrInfo {
  subject: string;
  signatureAlgorithm: string;
  signatureValid: boolean;
  publicKey: KeyInfo;
  subjectAltNames?: string[];
  requestsCa: boolean;
}
export interface CrlInfo {
  issuer: string;
  thisUpdate: string;
  nextUpdate?: string;
  crlNumber?: string;
  signatureAlgorithm: string;
  revoked: Array<{ serial: string; date: string; reason?: string }>;
}

const KU_NAMES: Array<[number, string]> = [
  [1, "Digital Signature"],
  [2, "Non Repudiation"],
  [4, "Key Encipherment"],
  [8, "Data Encipherment"],
  [16, "Key Agreement"],
  [32, "Certificate Sign"],
  [64, "CRL Sign"],
  [128, "Encipher Only"],
  [256, "Decipher Only"],
];
const EKU_NAMES: Record<string, string> = {
  "1.3.6.1.5.5.7.3.1": "TLS Web Server Authentication",
  "1.3.6.1.5.5.7.3.2": "TLS Web Client Authentication",
  "1.3.6.1.5.5.7.3.3": "Code Signing",
  "1.3.6.1.5.5.7.3.4": "E-mail Protection",
  "1.3.6.1.5.5.7.3.8": "Time Stamping",
  "1.3.6.1.5.5.7.3.9": "OCSP Signing",
};

export const hex = (b: ArrayBuffer | Uint8Array) => Buffer.from(b as ArrayBuffer).toString("hex");
export const colons = (h: string) => h.toUpperCase().match(/../g)?.join(":") ?? "";
export const fingerprint = (der: ArrayBuffer | Uint8Array, hash: Hash = "sha256") =>
  createHash(hash)
    .update(Buffer.from(der as ArrayBuffer))
    .digest("hex");

/** A public key's algorithm, size and SHA-256 fingerprint of its SubjectPublicKeyInfo. */
export function keyInfo(key: KeyObject | ArrayBuffer | Uint8Array, hash: Hash = "sha256"): KeyInfo {
  const pub =
    key instanceof KeyObject
      ? key.type === "private"
        ? createPublicKey(key)
        : key
      : createPublicKey({ key: Buffer.from(key as ArrayBuffer), format: "der", type: "spki" });
  const d = pub.asymmetricKeyDetails ?? {};
  const spki = pub.export({ format: "der", type: "spki" });
  const curve =
    ({ prime256v1: "P-256", secp384r1: "P-384", secp521r1: "P-521" } as Record<string, string>)[d.namedCurve ?? ""] ??
    d.namedCurve;
  const t = pub.asymmetricKeyType;
  const bits =
    t === "rsa" || t === "rsa-pss"
      ? (d.modulusLength ?? 0)
      : t === "ec"
        ? Number(/\d+/.exec(curve ?? "")?.[0] ?? 0)
        : t === "ed25519"
          ? 256
          : t === "ed448"
            ? 456
            : 0;
  return {
    type: t === "ec" ? "ECDSA" : t === "rsa" ? "RSA" : t === "ed25519" ? "Ed25519" : String(t),
    bits,
    ...(t === "ec" ? { curve } : {}),
    spkiFingerprint: fingerprint(spki, hash),
  };
}

/** The signature algorithm as openssl names it. */
function sigName(alg: Algorithm & { hash?: { name: string } }): string {
  const h = alg.hash?.name.replace("SHA-", "SHA") ?? "";
  if (alg.name === "ECDSA") return `ecdsa-with-${h}`;
  if (alg.name === "RSASSA-PKCS1-v1_5") return `${h.toLowerCase()}WithRSAEncryption`;
  if (alg.name === "RSA-PSS") return "rsassaPss";
  return alg.name.toUpperCase();
}

export function sanList(item: x509.X509Certificate | x509.Pkcs10CertificateRequest): string[] | undefined {
  const s = sansOf(item);
  const all = [
    ...s.domains.map((d) => `DNS:${d}`),
    ...s.ips.map((i) => `IP Address:${i.toUpperCase()}`),
    ...(s.uris ?? []).map((u) => `URI:${u}`),
    ...(s.emails ?? []).map((e) => `email:${e}`),
  ];
  return all.length ? all : undefined;
}

export function certInfo(c: x509.X509Certificate, hash: Hash = "sha256", now = new Date()): CertInfo {
  const bc = c.getExtension(x509.BasicConstraintsExtension);
  const ku = c.getExtension(x509.KeyUsagesExtension);
  const eku = c.getExtension(x509.ExtendedKeyUsageExtension);
  const ski = c.getExtension(x509.SubjectKeyIdentifierExtension);
  const aki = c.getExtension(x509.AuthorityKeyIdentifierExtension);
  const state = c.notBefore > now ? "not yet valid" : c.notAfter <= now ? "expired" : "valid";
  return {
    subject: c.subject,
    issuer: c.issuer,
    serial: c.serialNumber.toLowerCase(),
    version: 3,
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
    state,
    selfSigned: c.subject === c.issuer,
    signatureAlgorithm: sigName(c.signatureAlgorithm),
    publicKey: keyInfo(c.publicKey.rawData, hash),
    ...(bc
      ? {
          basicConstraints: `${bc.critical ? "critical, " : ""}CA:${bc.ca ? "TRUE" : "FALSE"}${bc.pathLength !== undefined ? `, pathlen:${bc.pathLength}` : ""}`,
        }
      : {}),
    ...(ku ? { keyUsage: KU_NAMES.filter(([f]) => ku.usages & f).map(([, n]) => n) } : {}),
    ...(eku ? { extendedKeyUsage: eku.usages.map((u) => EKU_NAMES[String(u)] ?? String(u)) } : {}),
    ...(sanList(c) ? { subjectAltNames: sanList(c) } : {}),
    ...(ski ? { subjectKeyId: colons(ski.keyId) } : {}),
    ...(aki?.keyId ? { authorityKeyId: colons(aki.keyId) } : {}),
    fingerprint: fingerprint(c.rawData, hash),
  };
}

export async function csrInfo(r: x509.Pkcs10CertificateRequest, hash: Hash = "sha256"): Promise<CsrInfo> {
  let signatureValid = false;
  try {
    signatureValid = await r.verify();
  } catch {
    /* an unsupported algorithm does not verify */
  }
  const bc = r.extensions.find((e) => e.type === "2.5.29.19");
  return {
    subject: r.subject,
    signatureAlgorithm: sigName(r.signatureAlgorithm),
    signatureValid,
    publicKey: keyInfo(r.publicKey.rawData, hash),
    ...(sanList(r) ? { subjectAltNames: sanList(r) } : {}),
    requestsCa: Boolean(bc && new x509.BasicConstraintsExtension(bc.rawData).ca),
  };
}

export function crlInfo(c: x509.X509Crl): CrlInfo {
  const num = c.extensions.find((e) => e.type === "2.5.29.20");
  return {
    issuer: c.issuer,
    thisUpdate: c.thisUpdate.toISOString(),
    ...(c.nextUpdate ? { nextUpdate: c.nextUpdate.toISOString() } : {}),
    ...(num ? { crlNumber: BigInt(`0x${hex(num.value).slice(4) || "0"}`).toString() } : {}),
    signatureAlgorithm: sigName(c.signatureAlgorithm),
    revoked: c.entries.map((e) => ({
      serial: e.serialNumber.toLowerCase(),
      date: new Date(e.revocationDate).toISOString(),
      ...(e.reason !== undefined ? { reason: REASON_CODES[e.reason] } : {}),
    })),
  };
}

/** Lines "Label: value" with values aligned, nested lists indented: the text form of any inspected item. */
export function render(title: string, fields: Array<[string, unknown]>, indent = ""): string {
  const shown = fields.filter(([, v]) => v !== undefined && !(Array.isArray(v) && !v.length));
  const w = Math.max(0, ...shown.map(([k]) => k.length)) + 1;
  let out = `${indent}${title}\n`;
  for (const [k, v] of shown) {
    const text = Array.isArray(v) ? v.join(", ") : String(v);
    out += `${indent}  ${`${k}:`.padEnd(w + 1)} ${text}\n`;
  }
  return out;
}

export function keyText(k: KeyInfo): string {
  return `${k.type} ${k.curve ?? `${k.bits} bit`}`;
}

export function certFields(i: CertInfo, hash: Hash = "sha256"): Array<[string, unknown]> {
  return [
    ["Subject", i.subject],
    ["Issuer", i.issuer + (i.selfSigned ? " (self-signed)" : "")],
    ["Serial Number", colons(i.serial)],
    ["Not Before", i.notBefore],
    ["Not After", `${i.notAfter} (${i.state})`],
    ["Public Key", keyText(i.publicKey)],
    ["Signature Algorithm", i.signatureAlgorithm],
    ["Basic Constraints", i.basicConstraints],
    ["Key Usage", i.keyUsage],
    ["Extended Key Usage", i.extendedKeyUsage],
    ["Subject Alternative Name", i.subjectAltNames],
    ["Subject Key Identifier", i.subjectKeyId],
    ["Authority Key Identifier", i.authorityKeyId],
    [`Fingerprint (${hash.toUpperCase()})`, colons(i.fingerprint)],
  ];
}
