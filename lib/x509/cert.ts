/** Certificate profiles: self-signed root, CSRs, leaf and CA issuance (RFC 5280). */
import { randomBytes } from "node:crypto";
import { x509 } from "./peculiar.js";
import { KeyPair, keyAlgorithm, KeySpec, specOfSpki } from "./keys.js";
import { checkDomain, checkEmail, checkIp, checkUri, InputError } from "./validate.js";

export const EKU = { serverAuth: "1.3.6.1.5.5.7.3.1", clientAuth: "1.3.6.1.5.5.7.3.2" } as const;
export type Usage = "server" | "client" | "peer";
export const OID_SAN = "2.5.29.17";

export interface Subject { commonName: string; organization?: string; organizationalUnit?: string; country?: string; locality?: string; state?: string }
/** Subject alternative names; uris and emails are optional so older index entries stay valid. */
export interface Sans { ips: string[]; domains: string[]; uris?: string[]; emails?: string[] }

export function sanCount(s: Sans): number {
  return s.ips.length + s.domains.length + (s.uris?.length ?? 0) + (s.emails?.length ?? 0);
}

export type ValidityState = "valid" | "expired" | "not-yet-valid" | "revoked";

/** A certificate's state at `now` from its dates (and whether its issuer revoked it). */
export function validityState(notBefore: Date | undefined, notAfter: Date | undefined, revoked: boolean, now = new Date()): ValidityState {
  if (revoked) return "revoked";
  if (notBefore && notBefore > now) return "not-yet-valid";
  if (notAfter && notAfter <= now) return "expired";
  return "valid";
}

/** Clock-skew allowance: certificates start this long before "now" (as cfssl does). */
export const BACKDATE_MS = 5 * 60_000;

export function subjectName(s: Subject): x509.Name {
  const rdns: x509.JsonName = [];
  if (s.country) rdns.push({ C: [s.country] });
  if (s.state) rdns.push({ ST: [s.state] });
  if (s.locality) rdns.push({ L: [s.locality] });
  if (s.organization) rdns.push({ O: [s.organization] });
  if (s.organizationalUnit) rdns.push({ OU: [s.organizationalUnit] });
  rdns.push({ CN: [s.commonName] });
  return new x509.Name(rdns);
}

/** A random positive serial of 127 bits, as lowercase hex (first byte 0x40..0x7f: positive, minimal DER). */
export function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] & 0x3f) | 0x40;
  return b.toString("hex");
}

function sanExtension(sans: Sans): x509.SubjectAlternativeNameExtension {
  return new x509.SubjectAlternativeNameExtension([
    ...sans.domains.map((value) => ({ type: "dns" as const, value })),
    ...sans.ips.map((value) => ({ type: "ip" as const, value })),
    ...(sans.uris ?? []).map((value) => ({ type: "url" as const, value })),
    ...(sans.emails ?? []).map((value) => ({ type: "email" as const, value })),
  ]);
}

/** The SANs a certificate or CSR carries. */
export function sansOf(item: x509.X509Certificate | x509.Pkcs10CertificateRequest): Sans {
  const ext = item.extensions.find((e) => e.type === OID_SAN);
  const out: Sans = { ips: [], domains: [] };
  if (!ext) return out;
  const san = new x509.SubjectAlternativeNameExtension(ext.rawData);
  for (const n of san.names.items) {
    if (n.type === "ip") out.ips.push(n.value);
    else if (n.type === "dns") out.domains.push(n.value);
    else if (n.type === "url") (out.uris ??= []).push(n.value);
    else if (n.type === "email") (out.emails ??= []).push(n.value);
  }
  return out;
}

/** An extra extension for issuance; value is the DER inside extnValue. */
export interface RawExtension { oid: string; critical: boolean; value: Uint8Array }
const toExtension = (e: RawExtension) => new x509.Extension(e.oid, e.critical, new Uint8Array(e.value));

export interface RootOptions { subject: Subject; keys: KeyPair; notBefore?: Date; notAfter: Date; pathLength?: number; serial?: string; extensions?: RawExtension[] }

/** A self-signed root CA: basicConstraints CA:TRUE critical, keyUsage keyCertSign+cRLSign critical, SKI. */
export async function createRootCertificate(o: RootOptions): Promise<x509.X509Certificate> {
  const name = subjectName(o.subject);
  return x509.X509CertificateGenerator.create({
    serialNumber: o.serial ?? randomSerial(),
    subject: name,
    issuer: name,
    notBefore: o.notBefore ?? new Date(Date.now() - BACKDATE_MS),
    notAfter: o.notAfter,
    signingAlgorithm: keyAlgorithm(o.keys.spec).sign,
    publicKey: o.keys.publicKey,
    signingKey: o.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(true, o.pathLength, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(o.keys.publicKey),
      ...(o.extensions ?? []).map(toExtension),
    ],
  });
}

/** A PKCS#10 request carrying the subject and SANs, signed by the new key. */
export async function createCsr(subject: Subject | x509.Name, sans: Sans, keys: KeyPair): Promise<x509.Pkcs10CertificateRequest> {
  const extensions = sanCount(sans) ? [sanExtension(sans)] : [];
  return x509.Pkcs10CertificateRequestGenerator.create({
    name: subject instanceof x509.Name ? subject : subjectName(subject),
    keys: { privateKey: keys.privateKey, publicKey: keys.publicKey },
    signingAlgorithm: keyAlgorithm(keys.spec).sign,
    extensions,
  });
}

export type Profile =
  | { kind: "leaf"; usage?: Usage; eku?: string[] }
  | { kind: "ca"; pathLength?: number };

export interface IssueOptions {
  subject: x509.Name | string;
  publicKey: x509.PublicKey;
  sans?: Sans;
  issuerCert: x509.X509Certificate;
  issuerKeys: KeyPair;
  serial?: string;
  notBefore?: Date;
  notAfter: Date;
  profile: Profile;
  extensions?: RawExtension[];
}

const EKU_NAMES: Record<string, string> = {
  serverAuth: EKU.serverAuth, clientAuth: EKU.clientAuth, codeSigning: "1.3.6.1.5.5.7.3.3",
  emailProtection: "1.3.6.1.5.5.7.3.4", timeStamping: "1.3.6.1.5.5.7.3.8", OCSPSigning: "1.3.6.1.5.5.7.3.9",
};

/** --eku values: names (serverAuth, clientAuth, codeSigning, emailProtection, timeStamping, OCSPSigning) or dotted OIDs. */
export function checkEku(values: string[]): string[] {
  return values.map((v) => {
    const name = Object.keys(EKU_NAMES).find((k) => k.toLowerCase() === v.toLowerCase());
    if (name) return EKU_NAMES[name];
    if (/^[0-2](\.(0|[1-9]\d{0,8})){2,20}$/.test(v)) return v;
    throw new InputError(`invalid extended key usage ${JSON.stringify(v).slice(0, 80)}: use ${Object.keys(EKU_NAMES).join(", ")} or a dotted OID`);
  });
}

export function ekuFor(usage: Usage = "peer", explicit: string[] = []): string[] {
  if (explicit.length) return explicit;
  return usage === "server" ? [EKU.serverAuth] : usage === "client" ? [EKU.clientAuth] : [EKU.serverAuth, EKU.clientAuth];
}

/** Issues a certificate under `issuerCert` with the given profile. */
export async function issueCertificate(o: IssueOptions): Promise<x509.X509Certificate> {
  const spec = await specOfSpki(o.publicKey.rawData);
  const extensions: x509.Extension[] = [];
  if (o.profile.kind === "ca") {
    extensions.push(
      new x509.BasicConstraintsExtension(true, o.profile.pathLength, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    );
  } else {
    // RFC 5280 / RFC 8410: keyEncipherment only makes sense for RSA key transport.
    const ku = x509.KeyUsageFlags.digitalSignature | (spec.type === "rsa" ? x509.KeyUsageFlags.keyEncipherment : 0);
    extensions.push(
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(ku, true),
      new x509.ExtendedKeyUsageExtension(ekuFor(o.profile.usage, o.profile.eku), false),
    );
  }
  const sans = o.sans ?? { ips: [], domains: [] };
  if (sanCount(sans)) extensions.push(sanExtension(sans));
  extensions.push(
    await x509.SubjectKeyIdentifierExtension.create(o.publicKey),
    await authorityKeyId(o.issuerCert),
    ...(o.extensions ?? []).map(toExtension),
  );
  return x509.X509CertificateGenerator.create({
    serialNumber: o.serial ?? randomSerial(),
    subject: o.subject,
    issuer: o.issuerCert.subjectName,
    notBefore: o.notBefore ?? new Date(Date.now() - BACKDATE_MS),
    notAfter: o.notAfter,
    signingAlgorithm: keyAlgorithm(o.issuerKeys.spec).sign,
    publicKey: o.publicKey,
    signingKey: o.issuerKeys.privateKey,
    extensions,
  });
}

/** Verifies a CSR's self-signature and re-validates its SANs; returns them. */
export async function checkCsr(csr: x509.Pkcs10CertificateRequest): Promise<Sans> {
  if (!(await csr.verify())) throw new InputError("the CSR's signature does not verify");
  const sans = sansOf(csr);
  const out: Sans = { ips: sans.ips.map(checkIp), domains: sans.domains.map(checkDomain) };
  if (sans.uris?.length) out.uris = sans.uris.map(checkUri);
  if (sans.emails?.length) out.emails = sans.emails.map(checkEmail);
  return out;
}

/** Keeps `notAfter` within the issuer's lifetime; says so when it clamps. */
export function clampToIssuer(notAfter: Date, issuer: x509.X509Certificate): { notAfter: Date; warning?: string } {
  if (notAfter.getTime() <= issuer.notAfter.getTime()) return { notAfter };
  return { notAfter: issuer.notAfter, warning: `expiry clamped to the issuer's notAfter ${issuer.notAfter.toISOString()}` };
}

const akiCache = new WeakMap<x509.X509Certificate, Promise<x509.AuthorityKeyIdentifierExtension>>();

/** The AKI extension naming `issuer`, computed once per issuer certificate (a fixture set signs hundreds). */
export function authorityKeyId(issuer: x509.X509Certificate): Promise<x509.AuthorityKeyIdentifierExtension> {
  let aki = akiCache.get(issuer);
  if (!aki) akiCache.set(issuer, (aki = x509.AuthorityKeyIdentifierExtension.create(issuer)));
  return aki;
}

export function keySpecOfCert(cert: x509.X509Certificate): Promise<KeySpec> {
  return specOfSpki(cert.publicKey.rawData);
}
