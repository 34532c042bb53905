/**
 * `pki sign` on the record store: NAME's filed request signed by its issuer (a key the depot holds: the request
 * read back is cross-checked against what the entry records and, when the passphrase opens NAME's key, against
 * that key, so a request swapped in the database cannot choose what the CA certifies), or a request made
 * elsewhere (an external-key entry, new or filed by `new-cert --csr`). One write each, the serial reserved in it.
 */
import type { CertInfo } from "../../lib/x509/certinfo.js";
import { csrViewOf, sameSans, type CsrView } from "../../lib/x509/csrinfo.js";
import type { Profile, RawExtension, Sans } from "../../lib/x509/issuance.js";
import { checkDomain, checkEmail, checkIp, checkName, checkUri, InputError, quote } from "../../lib/x509/validate.js";
import { DepotError } from "../fsutil.js";
import { isKeyOf } from "../../lib/x509/keys.js";
import { certFields, profileFields, profileOf } from "./fields.js";
import type { EntryRecord, RecordStore, WriteTx } from "../records/schema.js";
import { checkFree, issuerPath, signUnder, validityOf } from "./issue.js";
import { csrDer, externalEntry, type ForeignCsr } from "./request.js";
import { ROOT, type Session } from "./session.js";

export interface SignOptions {
  issuer?: string;
  profile?: Profile;
  notAfter: (from: Date) => Date;
  notBefore?: Date;
  extensions?: RawExtension[];
}
export interface Signed { entry: EntryRecord; cert: CertInfo; warnings: string[] }

async function readCsr(name: string, der: Uint8Array): Promise<CsrView> {
  try { return await csrViewOf(der); }
  catch (e) { throw new DepotError(`the request of "${name}" is not a valid CSR (${(e as Error).message})`); }
}

/** The request asks for exactly the subject and SANs the entry records (re-validated as the CLI's own). */
function checkCsrAgainstEntry(e: EntryRecord, csr: CsrView): void {
  const what = `the request of "${e.name}"`;
  if (!csr.verified) throw new DepotError(`${what} does not verify: refusing to sign`);
  if (csr.subject !== e.subject)
    throw new DepotError(
      `${what} asks for the subject ${quote(csr.subject)}, but the depot records ${quote(e.subject)}: refusing to sign`,
    );
  const { ips, domains, uris, emails } = csr.sans;
  const asked: Sans = {
    ips: ips.map(checkIp), domains: domains.map(checkDomain),
    uris: uris?.map(checkUri), emails: emails?.map(checkEmail),
  };
  if (!sameSans(asked, e.sans))
    throw new DepotError(`${what} asks for other names (SANs) than the depot records: refusing to sign`);
}

/** When the session's passphrase opens NAME's key too, the request must carry that key. */
async function checkCsrKey(s: Session, name: string, key: Uint8Array | undefined, csr: CsrView): Promise<void> {
  const keys = key && (await s.ownKey(name, key));
  if (keys && !(await isKeyOf(keys, csr.publicKey.rawData)))
    throw new DepotError(`the request of "${name}" does not carry the key of "${name}": refusing to sign`);
}

async function unsigned(tx: WriteTx, name: string): Promise<EntryRecord> {
  const e = await tx.entry(name);
  if (!e) throw new InputError(`unknown name "${name}": see 'pki list'`);
  if (e.status !== "unsigned") throw new InputError(`"${name}" is already signed`);
  return e;
}

/**
 * What signRequest does before it needs the depot's key: NAME's request read and checked against its entry. A
 * command runs it while the KDF derives, and hands it to signRequest.
 */
export async function prepareSign(store: RecordStore, name: string) {
  checkName(name);
  const pre = await store.read(async (tx) => ({
    e: await tx.entry(name), csr: await tx.blob({ name, kind: "csr" }), key: await tx.blob({ name, kind: "key" }),
  }));
  if (!pre.e) throw new InputError(`unknown name "${name}": see 'pki list'`);
  if (pre.e.status !== "unsigned") throw new InputError(`"${name}" is already signed`);
  if (!pre.csr) throw new DepotError(`"${name}" has no request in the depot: run 'pki doctor'`);
  const csr = await readCsr(name, pre.csr);
  checkCsrAgainstEntry(pre.e, csr);
  return { pre: { ...pre, e: pre.e, csr: pre.csr }, csr };
}

/** `pki sign NAME`: NAME's issuer (--issuer, the one chosen at new-cert, or the root) signs its request. */
export async function signRequest(
  s: Session, name: string, o: SignOptions, prepared?: ReturnType<typeof prepareSign>,
): Promise<Signed> {
  s.check();
  const { pre, csr } = await (prepared ?? prepareSign(s.store, name));
  await checkCsrKey(s, name, pre.key, csr);
  const issuer = o.issuer ?? pre.e.issuer ?? ROOT;
  const profile: Profile = o.profile ?? profileOf(pre.e as Parameters<typeof profileOf>[0]);
  const warnings: string[] = [];
  return s.store.write(async (tx) => {
    const e = await unsigned(tx, name);
    const der = await tx.blob({ name, kind: "csr" });
    if (!der || !Buffer.from(der).equals(Buffer.from(pre.csr)) || e.subject !== pre.e.subject)
      throw new InputError(`"${name}" changed while signing: try again`);
    const cert = await signUnder(s, tx, {
      issuer, subject: csr.subjectDer, publicKey: new Uint8Array(csr.publicKey.rawData), sans: e.sans, profile,
      ...validity(o), extensions: o.extensions, pastOk: true,
    }, undefined, warnings);
    const entry: EntryRecord = {
      ...e, status: "signed", issuer,
      ...(profileFields(profile) as Partial<EntryRecord>),
      ...(certFields(cert) as Pick<EntryRecord, "serial" | "notBefore" | "notAfter">),
    };
    if (entry.kind === "ca") delete entry.usage;
    await tx.putEntry(entry);
    await tx.putBlob({ name, kind: "cert" }, new Uint8Array(cert.rawData));
    return { entry, cert, warnings };
  });
}

const validity = (o: SignOptions) => validityOf(o.notAfter, o.notBefore);

/** `pki sign --csr` (a new external-key entry NAME) or `pki sign NAME` of a request new-cert --csr filed. */
export async function signForeign(s: Session, name: string, req: ForeignCsr, o: SignOptions): Promise<Signed> {
  s.check();
  checkName(name);
  if (name === ROOT) throw new InputError(`the name "${ROOT}" is reserved for the root CA`);
  const pre = await s.store.read((tx) => tx.entry(name));
  const issuer = o.issuer ?? pre?.issuer ?? ROOT;
  const profile: Profile = o.profile ?? (pre ? profileOf(pre as Parameters<typeof profileOf>[0]) : { kind: "leaf" });
  if (profile.kind === "ca")
    throw new InputError(
      "a CA certificate for a key outside the depot is not supported: the depot only holds CAs whose keys it holds",
    );
  const subject = new Uint8Array(req.subject.toArrayBuffer());
  const path = await s.store.read((tx) => issuerPath(tx, issuer));
  const warnings: string[] = [];
  return s.store.write(async (tx) => {
    const old = await tx.entryFolded(name);
    if (old && (old.name !== name || !old.external)) await checkFree(tx, name);
    if (old && old.status !== "unsigned") throw new InputError(`"${name}" is already signed`);
    if (Boolean(old) !== Boolean(pre)) throw new InputError(`"${name}" changed while signing: try again`);
    const cert = await signUnder(s, tx, {
      issuer, subject, publicKey: new Uint8Array(req.publicKey.rawData), sans: req.sans, profile,
      ...validity(o), pastOk: true,
    }, path, warnings);
    const entry: EntryRecord = {
      ...externalEntry(name, req, profile, issuer),
      created: old?.created ?? new Date().toISOString(),
      status: "signed",
      ...(certFields(cert) as Pick<EntryRecord, "serial" | "notBefore" | "notAfter">),
    };
    await tx.putEntry(entry);
    await tx.putBlob({ name, kind: "csr" }, csrDer(req));
    await tx.putBlob({ name, kind: "cert" }, new Uint8Array(cert.rawData));
    return { entry, cert, warnings };
  });
}
