/** Certificate profiles: self-signed root, CSRs, leaf and CA issuance (RFC 5280). */
import { x509 } from "./peculiar.js";
import { KeySpec, specOfSpki } from "./keys.js";
import { subjectDer as subjectDerOf, type NameLike } from "./issuance.js";
import type { KeyPair } from "./keys.js";
import type { IssueOptions as DerIssueOptions, RootOptions, Sans, Subject } from "./issuance.js";
import { checkDomain, checkEmail, checkIp, checkUri, InputError } from "./validate.js";
import { createCsrDer, createRootCertificateDer, issueCertificateDer as issueDer, OID_SAN } from "./issuance.js";

export * from "./issuance.js";
export { validityState, type ValidityState } from "./validity.js";

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

/** Subject DER from our Subject fields, a Name, RFC 4514 text, or raw DER (copied byte for byte). */
export function subjectDer(s: Subject | NameLike | string | Uint8Array): Uint8Array {
  return subjectDerOf(typeof s === "string" ? new x509.Name(s) : s);
}

/** Issuance options as the store passes them: the subject may also be RFC 4514 text. */
export type IssueOptions = Omit<DerIssueOptions, "subject"> & { subject: DerIssueOptions["subject"] | string };

/** Issues a certificate (DER) under `issuerCert` with the given profile; the issuer Name is its subject's bytes. */
export function issueCertificateDer(o: IssueOptions): Buffer {
  return issueDer({ ...o, subject: subjectDer(o.subject) });
}

export async function createRootCertificate(o: RootOptions): Promise<x509.X509Certificate> {
  return new x509.X509Certificate(new Uint8Array(createRootCertificateDer(o)));
}

export async function createCsr(
  subject: Subject | x509.Name | Uint8Array,
  sans: Sans,
  keys: KeyPair,
): Promise<x509.Pkcs10CertificateRequest> {
  return new x509.Pkcs10CertificateRequest(new Uint8Array(createCsrDer(subject, sans, keys)));
}

export async function issueCertificate(o: IssueOptions): Promise<x509.X509Certificate> {
  return new x509.X509Certificate(new Uint8Array(issueCertificateDer(o)));
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

export async function keySpecOfCert(cert: x509.X509Certificate): Promise<KeySpec> {
  return specOfSpki(cert.publicKey.rawData);
}
