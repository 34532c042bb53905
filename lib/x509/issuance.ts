/**
 * Certificate profiles and issuance as DER (RFC 5280, RFC 2986): self-signed root, CSRs, leaf and CA
 * certificates. Nothing here loads @peculiar/x509 (~50 ms of start-up): `pki issue` goes through this module
 * alone, and cert.ts wraps it with the parsed forms the rest of pki uses.
 */
import { KeyObject, randomBytes } from "node:crypto";
import { specOfSpki, type KeyObjects, type KeyPair, type KeySpec, type SigningKey } from "./keys.js";
import {
  akiValue,
  basicConstraintsValue,
  buildCertificate,
  signatureAlgorithm,
  signTbs,
  tbsCertificate,
  buildCsr,
  certParts,
  extKeyUsageValue,
  issuerKeyId,
  keyIdOfSpki,
  KU,
  keyUsageValue,
  nameDer,
  OID_RSA,
  OIDS,
  RawExtension,
  sanValue,
  signerOf,
  spkiAlgorithm,
  spkiOf,
} from "./build.js";
import { octets } from "./der.js";
import { nameText } from "./name-text.js";
import { InputError } from "./validate.js";

export type { RawExtension };

/** A parsed certificate as issuance needs it: its DER and expiry (a CertInfo or an @peculiar/x509 certificate). */
export interface CertLike { rawData: ArrayBuffer; notAfter: Date }
/** A Name that can give its DER (@peculiar/x509's Name). */
export interface NameLike { toArrayBuffer(): ArrayBuffer }

export const EKU = { serverAuth: "1.3.6.1.5.5.7.3.1", clientAuth: "1.3.6.1.5.5.7.3.2" } as const;
export type Usage = "server" | "client" | "peer";
export const OID_SAN = "2.5.29.17";

export interface Subject {
  commonName: string;
  organization?: string;
  organizationalUnit?: string;
  country?: string;
  locality?: string;
  state?: string;
}
/** Subject alternative names; uris and emails are optional so older index entries stay valid. */
export interface Sans { ips: string[]; domains: string[]; uris?: string[]; emails?: string[] }

export function sanCount(s: Sans): number {
  return s.ips.length + s.domains.length + (s.uris?.length ?? 0) + (s.emails?.length ?? 0);
}

/** Clock-skew allowance: certificates start this long before "now" (as cfssl does). */
export const BACKDATE_MS = 5 * 60_000;

/** A random positive serial of 127 bits, as lowercase hex (first byte 0x40..0x7f: positive, minimal DER). */
export function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] & 0x3f) | 0x40;
  return b.toString("hex");
}

const sanExtension = (sans: Sans): RawExtension => ({
  oid: OIDS.subjectAltName,
  critical: false,
  value: sanValue(sans),
});

export interface RootOptions {
  subject: Subject;
  /** a key pair, or a key that gives its SPKI (one held in a token) */
  keys: KeyPair | (SigningKey & { spki: Uint8Array });
  notBefore?: Date;
  notAfter: Date;
  pathLength?: number;
  serial?: string;
  extensions?: RawExtension[];
}

/** `ours` with any extension of the same OID replaced by the caller's, then the caller's others. */
function mergeExtensions(ours: RawExtension[], theirs: RawExtension[] = []): RawExtension[] {
  const given = new Set(theirs.map((e) => e.oid));
  return [...ours.filter((e) => !given.has(e.oid)), ...theirs];
}

const caExtensions = (pathLength?: number): RawExtension[] => [
  { oid: OIDS.basicConstraints, critical: true, value: basicConstraintsValue(true, pathLength) },
  { oid: OIDS.keyUsage, critical: true, value: keyUsageValue([KU.keyCertSign, KU.cRLSign]) },
];

/** A self-signed root CA (DER): basicConstraints CA:TRUE critical, keyUsage keyCertSign+cRLSign critical, SKI. */
export function createRootCertificateDer(o: RootOptions): Buffer {
  const name = nameDer(o.subject as unknown as Record<string, string>);
  const spki = "spki" in o.keys ? Buffer.from(o.keys.spki) : spkiOf(o.keys.publicKey);
  const extensions = mergeExtensions([
    ...caExtensions(o.pathLength),
    { oid: OIDS.subjectKeyId, critical: false, value: octets(keyIdOfSpki(spki)) },
  ], o.extensions);
  return buildCertificate(
    {
      serial: o.serial ?? randomSerial(),
      issuer: name,
      subject: name,
      notBefore: o.notBefore ?? new Date(Date.now() - BACKDATE_MS),
      notAfter: o.notAfter,
      spki,
      extensions,
    },
    signerOf(o.keys.spec, o.keys.privateKey),
  );
}

/** A PKCS#10 request (DER) carrying the subject and SANs, signed by the new key. */
export function createCsrDer(
  subject: Subject | NameLike | Uint8Array,
  sans: Sans,
  keys: KeyPair | KeyObjects | (SigningKey & { spki: Uint8Array }),
): Buffer {
  return buildCsr(
    {
      subject: subjectDer(subject),
      spki: "spki" in keys ? keys.spki : spkiOf(keys.publicKey),
      extensions: sanCount(sans) ? [sanExtension(sans)] : [],
    },
    signerOf(keys.spec, keys.privateKey),
  );
}

export type Profile =
  | { kind: "leaf"; usage?: Usage; eku?: string[] }
  | { kind: "ca"; pathLength?: number };

export interface IssueOptions {
  /** raw DER is copied byte for byte (e.g. a CSR's subject) */
  subject: Subject | NameLike | Uint8Array;
  /** a CryptoKey/KeyObject, SPKI DER, or anything holding it as rawData (@peculiar/x509's PublicKey) */
  publicKey: CryptoKey | KeyObject | Uint8Array | { rawData: ArrayBuffer };
  sans?: Sans;
  issuerCert: CertLike;
  issuerKeys: SigningKey;
  serial?: string;
  notBefore?: Date;
  notAfter: Date;
  profile: Profile;
  /** extra extensions (e.g. nameConstraints); one with the OID of a built-in extension replaces it */
  extensions?: RawExtension[];
}

const EKU_NAMES: Record<string, string> = {
  serverAuth: EKU.serverAuth, clientAuth: EKU.clientAuth, codeSigning: "1.3.6.1.5.5.7.3.3",
  emailProtection: "1.3.6.1.5.5.7.3.4", timeStamping: "1.3.6.1.5.5.7.3.8", OCSPSigning: "1.3.6.1.5.5.7.3.9",
};

/**
 * --eku values: names (serverAuth, clientAuth, codeSigning, emailProtection, timeStamping, OCSPSigning) or dotted OIDs.
 */
export function checkEku(values: string[]): string[] {
  return values.map((v) => {
    const name = Object.keys(EKU_NAMES).find((k) => k.toLowerCase() === v.toLowerCase());
    if (name) return EKU_NAMES[name];
    if (/^[0-2](\.(0|[1-9]\d{0,8})){2,20}$/.test(v)) return v;
    throw new InputError(
      `invalid extended key usage ${JSON.stringify(v).slice(0, 80)}: use ${Object.keys(EKU_NAMES).join(", ")} or a dotted OID`,
    );
  });
}

export function ekuFor(usage: Usage = "peer", explicit: string[] = []): string[] {
  if (explicit.length) return explicit;
  return usage === "server"
    ? [EKU.serverAuth]
    : usage === "client"
      ? [EKU.clientAuth]
      : [EKU.serverAuth, EKU.clientAuth];
}

function spkiBytes(k: IssueOptions["publicKey"]): Uint8Array {
  if (k instanceof Uint8Array) return k;
  if ("rawData" in k) return new Uint8Array(k.rawData);
  return spkiOf(k);
}

/** Subject DER from our Subject fields, a Name, or raw DER (copied byte for byte). */
export function subjectDer(s: Subject | NameLike | Uint8Array): Uint8Array {
  if (s instanceof Uint8Array) return s;
  if ("toArrayBuffer" in s) return new Uint8Array(s.toArrayBuffer());
  return nameDer(s as unknown as Record<string, string>);
}

/** The subject as @peculiar/x509 writes it (name-text.ts): index.json records that text. */
export function subjectText(s: Subject): string {
  return nameText(nameDer(s as unknown as Record<string, string>))!;
}

/** Issues a certificate (DER) under `issuerCert` with the given profile; the issuer Name is its subject's bytes. */
export function issueCertificateDer(o: IssueOptions): Buffer {
  return prepareCertificateDer(o)(o.issuerKeys);
}

/**
 * issueCertificateDer in two steps: the TBSCertificate now, for the issuer certificate's key type; the signature when
 * the issuer's key is open (`pki issue` writes it while the depot's KDF runs). A key of another type is refused.
 */
export function prepareCertificateDer(o: Omit<IssueOptions, "issuerKeys">): (issuerKeys: SigningKey) => Buffer {
  const spki = spkiBytes(o.publicKey);
  const issuer = issuerInfo(o.issuerCert);
  const ext: RawExtension[] = [];
  if (o.profile.kind === "ca") ext.push(...caExtensions(o.profile.pathLength));
  else {
    // RFC 5280 / RFC 8410: keyEncipherment only makes sense for RSA key transport.
    const rsa = spkiAlgorithm(spki) === OID_RSA;
    ext.push(
      { oid: OIDS.basicConstraints, critical: true, value: basicConstraintsValue(false) },
      {
        oid: OIDS.keyUsage,
        critical: true,
        value: keyUsageValue(rsa ? [KU.digitalSignature, KU.keyEncipherment] : [KU.digitalSignature]),
      },
      { oid: OIDS.extKeyUsage, critical: false, value: extKeyUsageValue(ekuFor(o.profile.usage, o.profile.eku)) },
    );
  }
  const sans = o.sans ?? { ips: [], domains: [] };
  if (sanCount(sans)) ext.push(sanExtension(sans));
  ext.push(
    { oid: OIDS.subjectKeyId, critical: false, value: octets(keyIdOfSpki(spki)) },
    { oid: OIDS.authorityKeyId, critical: false, value: akiValue(issuer.keyId) },
  );
  const { algorithm } = signatureAlgorithm(issuer.spec);
  const tbs = tbsCertificate(
    {
      serial: o.serial ?? randomSerial(),
      issuer: issuer.subject,
      subject: subjectDer(o.subject),
      notBefore: o.notBefore ?? new Date(Date.now() - BACKDATE_MS),
      notAfter: o.notAfter,
      spki,
      extensions: mergeExtensions(ext, o.extensions),
    },
    algorithm,
  );
  return (keys) => signTbs(tbs, algorithm, signerOf(keys.spec, keys.privateKey));
}

/** Keeps `notAfter` within the issuer's lifetime; says so when it clamps. */
export function clampToIssuer(notAfter: Date, issuer: { notAfter: Date }): { notAfter: Date; warning?: string } {
  if (notAfter.getTime() <= issuer.notAfter.getTime()) return { notAfter };
  return {
    notAfter: issuer.notAfter,
    warning: `expiry clamped to the issuer's notAfter ${issuer.notAfter.toISOString()}`,
  };
}

interface IssuerInfo { subject: Buffer; keyId: Buffer; spec: KeySpec }
const issuerCache = new WeakMap<CertLike, IssuerInfo>();

/** An issuer's subject DER, key identifier and key type, read once per certificate (a fixture set signs hundreds). */
export function issuerInfo(cert: CertLike): IssuerInfo {
  let i = issuerCache.get(cert);
  if (!i) {
    const p = certParts(new Uint8Array(cert.rawData));
    issuerCache.set(cert, (i = { subject: p.subject, keyId: issuerKeyId(p), spec: specOfSpki(p.spki) }));
  }
  return i;
}
