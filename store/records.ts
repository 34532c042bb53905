/** What the index records of a profile and a certificate, and the checks of a new name and its issuer. */
import type { Profile, Usage } from "../lib/x509/cert.js";
import { InputError } from "../lib/x509/validate.js";
import type { Entry, Index } from "./depot.js";

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

/** Refuses a name taken (case-insensitively: "Web" and "web" are one file on macOS) unless `allow` says yes. */
export function checkFree(idx: Index, name: string, allow: (e: Entry) => boolean): Entry | undefined {
  const taken = Object.keys(idx.entries).find((n) => n.toLowerCase() === name.toLowerCase());
  if (!taken) return undefined;
  if (taken === name && allow(idx.entries[name])) return idx.entries[name];
  throw new InputError(
    `"${name}" already exists in the depot${taken === name ? "" : ` (as "${taken}": names may not differ only in case)`}`,
  );
}

export function checkIssuerEntry(idx: Index, issuer: string): void {
  const ie = idx.entries[issuer];
  if (!ie) throw new InputError(`unknown issuer "${issuer}": see 'pki list'`);
  if (ie.kind !== "ca")
    throw new InputError(`"${issuer}" is not a CA: issue from the root or an intermediate (pki init --intermediate)`);
}
