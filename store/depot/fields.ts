/** What an entry records of a profile and a certificate, and the SAN count every issuance path checks. */
import type { Profile, Usage } from "../../lib/x509/cert.js";
import { sanCount, type Sans } from "../../lib/x509/issuance.js";
import { InputError } from "../../lib/x509/validate.js";
import { MAX_SANS } from "../records/integrity.js";
import type { Entry } from "../records/schema.js";

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

export function certFields(cert: { serialNumber: string; notBefore: Date; notAfter: Date }): Partial<Entry> {
  return { serial: cert.serialNumber, notBefore: cert.notBefore.toISOString(), notAfter: cert.notAfter.toISOString() };
}

export function checkSanCount(sans: Sans): void {
  if (sanCount(sans) > MAX_SANS)
    throw new InputError(`${sanCount(sans)} subject alternative names: at most ${MAX_SANS}`);
}
