/**
 * Requests on the record store, waiting for `pki sign`: `pki new-cert` (a key made here, sealed, and its CSR) and
 * `pki new-cert --csr` (a verified request made elsewhere, filed as an unsigned external-key entry). A name
 * outside the issuing CA's name constraints is refused when filed, as sign would refuse it. One write each.
 */
import { createCsrDer, subjectText, type Profile, type Sans, type Subject } from "../../lib/x509/issuance.js";
import { describeKey, generateKeyDer, keyObjectsOf, type KeySpec } from "../../lib/x509/keys.js";
import { parsePem } from "../../lib/x509/pem.js";
import { checkName, InputError } from "../../lib/x509/validate.js";
import { checkPathConstraints } from "../../lib/x509/path-constraints.js";
import { checkSanCount } from "./fields.js";
import { profileFields } from "./fields.js";
import type { EntryRecord, ReadTx, RecordStore } from "../records/schema.js";
import { checkFree, issuerPath } from "./issue.js";
import { ROOT, type Session } from "./session.js";

/** A request made elsewhere, verified and validated (lib/x509/csr.ts), as `pki sign --csr` and new-cert take it. */
export interface ForeignCsr {
  subject: { toString(): string; toArrayBuffer(): ArrayBuffer };
  publicKey: { rawData: ArrayBuffer };
  sans: Sans;
  keyType: string;
  csrPem: string;
}

export function checkNewName(name: string, sans: Sans): void {
  checkName(name);
  if (name === ROOT) throw new InputError(`the name "${ROOT}" is reserved for the root CA`);
  checkSanCount(sans);
}

/** An issuer named at new-cert: it must exist and be a CA (it may be unsigned yet). */
async function checkIssuer(tx: ReadTx, issuer: string): Promise<void> {
  const ie = await tx.entry(issuer);
  if (!ie) throw new InputError(`unknown issuer "${issuer}": see 'pki list'`);
  if (ie.kind !== "ca")
    throw new InputError(`"${issuer}" is not a CA: issue from the root or an intermediate (pki init --intermediate)`);
}

/** The name free, the issuer a CA; under a signed CA, the name constraints on its path. */
async function checkRequest(
  store: RecordStore, name: string, subject: Subject | Uint8Array, sans: Sans, leaf: boolean, issuer?: string,
): Promise<void> {
  const path = await store.read(async (tx) => {
    await checkFree(tx, name);
    if (issuer !== undefined) await checkIssuer(tx, issuer);
    const ie = await tx.entry(issuer ?? ROOT);
    return ie?.kind === "ca" && ie.status === "signed" ? issuerPath(tx, ie.name) : [];
  });
  await checkPathConstraints(subject, sans, path, leaf);
}

export interface NewRequest {
  subject: Subject;
  sans: Sans;
  keyType: KeySpec;
  profile?: Profile;
  issuer?: string;
  /** the key's own passphrase (--key-passphrase-file); default the session's, which opens the issuer's key */
  keyPassphrase?: string;
}

/**
 * What newRequest does before it needs the depot's key (the checks, the new key and its CSR): a command runs it
 * while the KDF derives, and hands it to newRequest.
 */
export async function prepareRequest(store: RecordStore, name: string, o: NewRequest) {
  checkNewName(name, o.sans);
  await checkRequest(store, name, o.subject, o.sans, (o.profile?.kind ?? "leaf") === "leaf", o.issuer);
  const keys = await generateKeyDer(o.keyType);
  return { keys, csr: createCsrDer(o.subject, o.sans, keyObjectsOf(keys)) };
}

/** `pki new-cert`: a key (sealed) and its CSR, recorded as unsigned. */
export async function newRequest(
  s: Session, name: string, o: NewRequest, prepared?: ReturnType<typeof prepareRequest>,
): Promise<EntryRecord> {
  s.check();
  const { keys, csr } = await (prepared ?? prepareRequest(s.store, name, o));
  const sealed = await s.sealKeyFor(keys.pkcs8, o.keyPassphrase);
  keys.pkcs8.fill(0);
  const entry: EntryRecord = {
    name,
    kind: o.profile?.kind ?? "leaf",
    ...(o.issuer !== undefined ? { issuer: o.issuer } : {}),
    subject: subjectText(o.subject),
    keyType: describeKey(o.keyType),
    sans: o.sans,
    status: "unsigned",
    created: new Date().toISOString(),
    ...(profileFields(o.profile) as Partial<EntryRecord>),
  };
  await s.store.write(async (tx) => {
    await checkFree(tx, name);
    if (o.issuer !== undefined) await checkIssuer(tx, o.issuer);
    await tx.putEntry(entry);
    await tx.putBlob({ name, kind: "key" }, sealed);
    await tx.putBlob({ name, kind: "csr" }, csr);
  });
  return entry;
}

/** The entry an external-key request makes (unsigned until signed). */
export function externalEntry(name: string, req: ForeignCsr, profile?: Profile, issuer?: string): EntryRecord {
  const p: Profile = profile ?? { kind: "leaf", usage: "peer" };
  return {
    name,
    kind: "leaf",
    ...(issuer !== undefined ? { issuer } : {}),
    subject: req.subject.toString(),
    keyType: req.keyType,
    sans: req.sans,
    status: "unsigned",
    created: new Date().toISOString(),
    external: true,
    ...(p.kind === "leaf" ? { usage: p.usage ?? "peer", ...(p.eku?.length ? { eku: p.eku } : {}) } : {}),
  };
}

export const csrDer = (req: ForeignCsr) => parsePem(req.csrPem, "CERTIFICATE REQUEST", "the CSR");

/** `pki new-cert --csr`: files a verified foreign request as an unsigned external-key entry (no passphrase). */
export async function fileRequest(
  store: RecordStore, name: string, req: ForeignCsr, o: { profile?: Profile; issuer?: string } = {},
): Promise<EntryRecord> {
  if (name === ROOT) throw new InputError(`the name "${ROOT}" is reserved for the root CA`);
  checkSanCount(req.sans);
  const subject = new Uint8Array(req.subject.toArrayBuffer());
  await checkRequest(store, name, subject, req.sans, true, o.issuer);
  const entry = externalEntry(name, req, o.profile, o.issuer);
  await store.write(async (tx) => {
    await checkFree(tx, name);
    if (o.issuer !== undefined) await checkIssuer(tx, o.issuer);
    await tx.putEntry(entry);
    await tx.putBlob({ name, kind: "csr" }, csrDer(req));
  });
  return entry;
}

/** NAME's entry and filed request (DER), as `pki sign NAME` reads them. */
export async function filedRequest(store: RecordStore, name: string) {
  checkName(name);
  return store.read(async (tx) => {
    const entry = await tx.entry(name);
    if (!entry) throw new InputError(`unknown name "${name}": see 'pki list'`);
    return { entry, csr: await tx.blob({ name, kind: "csr" }) };
  });
}
