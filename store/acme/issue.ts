/**
 * A certificate from a finalized ACME order, inside the order's write transaction on the record store: signed by
 * signUnder (the issuer a signed CA, every name constraint on its path, the expiry clamped to the issuer's, a
 * serial reserved by the database), recorded as an external-key entry acme-SERIAL carrying the account, the order
 * and the entry the order replaces (RFC 9773), with its CSR and certificate. The order's own record lands in the
 * same transaction: all or nothing.
 */
import { x509 } from "../../lib/x509/peculiar.js";
import type { Sans } from "../../lib/x509/cert.js";
import { OIDS, sanValue } from "../../lib/x509/build.js";
import { describeKey, specOfSpki } from "../../lib/x509/keys.js";
import { InputError } from "../../lib/x509/validate.js";
import type { IssuedCert, IssueRequest } from "../../lib/acme/backend.js";
import { problem } from "../../lib/acme/protocol.js";
import { NameTakenError, type EntryRecord, type WriteTx } from "../records/schema.js";
import { signUnder } from "../depot/issue.js";
import type { Session } from "../depot/session.js";
import { ACME_PROFILE, commonNameFor } from "./names.js";

export interface AcmeIssuer {
  name: string;
  lifetimeMs: number;
}

export async function issueForOrder(s: Session, tx: WriteTx, is: AcmeIssuer, r: IssueRequest): Promise<IssuedCert> {
  const csr = new x509.Pkcs10CertificateRequest(new Uint8Array(r.csrDer));
  const sans: Sans = {
    domains: r.identifiers.filter((i) => i.type === "dns").map((i) => i.value),
    ips: r.identifiers.filter((i) => i.type === "ip").map((i) => i.value),
  };
  const cn = commonNameFor(csr.subjectName.getField("CN")[0], r.identifiers);
  const subject = new x509.Name(cn ? [{ CN: [cn] }] : []);
  const spki = new Uint8Array(csr.publicKey.rawData);
  let cert;
  try {
    cert = await signUnder(s, tx, {
      issuer: is.name,
      subject: new Uint8Array(subject.toArrayBuffer()),
      publicKey: spki,
      sans,
      profile: ACME_PROFILE,
      notAfter: new Date(Date.now() + is.lifetimeMs),
      // RFC 5280 4.2.1.6: with an empty subject the names are in a critical subjectAltName.
      extensions: cn ? undefined : [{ oid: OIDS.subjectAltName, critical: true, value: sanValue(sans) }],
    }, undefined, []);
  } catch (e) {
    if (e instanceof InputError) throw problem("rejectedIdentifier", e.message, 403);
    throw e;
  }
  const serial = cert.serialNumber.toLowerCase();
  const e: EntryRecord = {
    name: `acme-${serial.slice(0, 16)}`,
    kind: "leaf",
    issuer: is.name,
    subject: subject.toString(),
    keyType: describeKey(specOfSpki(spki)),
    sans,
    status: "signed",
    created: new Date().toISOString(),
    serial: cert.serialNumber,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    usage: ACME_PROFILE.kind === "leaf" ? ACME_PROFILE.usage : undefined,
    external: true,
    acme: { account: r.account, order: r.order, ...(r.replaces ? { replaces: r.replaces } : {}) },
  };
  // the short name, unless an entry holds it: then the whole serial's (unique among serials)
  const name = (await tx.addEntry(e)) ? e.name : `acme-${serial}`;
  if (name !== e.name && !(await tx.addEntry({ ...e, name })))
    throw new NameTakenError(name, name);
  await tx.putBlob({ name, kind: "csr" }, new Uint8Array(r.csrDer));
  await tx.putBlob({ name, kind: "cert" }, new Uint8Array(cert.rawData));
  return { name, serial };
}

