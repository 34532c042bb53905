/** What the index records of a profile and a certificate, and a certificate file parsed. */
import { x509 } from "../lib/x509/peculiar.js";
import { parsePem } from "../lib/x509/pem.js";
import type { Profile, Usage } from "../lib/x509/cert.js";
import { DepotError } from "./fsutil.js";
import type { Entry } from "./depot.js";

/** The profile an entry was (or is to be) issued with. */
export function profileOf(e: Entry): Profile {
  return e.kind === "ca"
    ? { kind: "ca", pathLength: e.pathLength }
    : { kind: "leaf", usage: (e.usage as Usage | undefined) ?? "peer", eku: e.eku };
}

export function profileFields(p?: Profile): Partial<Entry> {
  if (!p) return {};
  return p.kind === "ca"
    ? { kind: "ca", pathLength: p.pathLength, usage: undefined }
    : { kind: "leaf", usage: p.usage ?? "peer", eku: p.eku?.length ? p.eku : undefined };
}

export function certFields(cert: x509.X509Certificate): Partial<Entry> {
  return { serial: cert.serialNumber, notBefore: cert.notBefore.toISOString(), notAfter: cert.notAfter.toISOString() };
}

export function parseCertPem(pem: string, what: string): x509.X509Certificate {
  try { return new x509.X509Certificate(parsePem(pem, "CERTIFICATE", what)); }
  catch (e) { throw new DepotError(`${what}: not a valid certificate (${(e as Error).message})`); }
}
