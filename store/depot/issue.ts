/**
 * `depot.issue(name, ...)` on the record store: a new key, its CSR and a certificate from a CA of the depot, with
 * the rules every issuance applies: the name free in any case, the issuer a signed CA, SANs checked and counted,
 * every CA's name constraints on the path, validity clamped to the issuer's. The key is made and sealed before
 * the transaction; everything recorded (serial, entry, key, CSR, certificate) is one write transaction, the serial
 * reserved by the database's constraint in it: nothing handed out unrecorded.
 */
import { parseKeyOption, parseWhen, type KeyOption, type When } from "../../lib/api/options.js";
import { CertInfo } from "../../lib/x509/certinfo.js";
import { CRL_DP_OID, crlDistributionPoints } from "../../lib/x509/crl-dp.js";
import {
  clampToIssuer, createCsrDer, prepareCertificateDer, randomSerial, subjectText,
} from "../../lib/x509/issuance.js";
import type { Profile, RawExtension, Sans, Subject, Usage } from "../../lib/x509/issuance.js";
import { describeKey, generateKeyDer, keyObjectsOf, type KeySpec } from "../../lib/x509/keys.js";
import { toPem } from "../../lib/x509/pem.js";
import {
  checkDomain, checkEmail, checkIp, checkName, checkPathLength, checkSubjectValue, checkUri, checkX509Date, InputError,
  sanList,
} from "../../lib/x509/validate.js";
import { DepotError } from "../fsutil.js";
import { checkPathConstraints } from "../../lib/x509/path-constraints.js";
import { checkSanCount } from "./fields.js";
import type { TokenCaKey } from "../keys/index.js";
import { tokenKeyRecord } from "../keys/ref.js";
import { certFields, profileFields } from "./fields.js";
import { SerialTakenError, type EntryRecord, type ReadTx, type RecordStore, type WriteTx } from "../records/schema.js";
import { certOf, ROOT, type Session } from "./session.js";

export interface IssueOptions {
  domains?: string[];
  ips?: string[];
  uris?: string[];
  emails?: string[];
  /** "ecdsa" (P-256, the default), "ecdsa-p384", "rsa", "rsa-3072", "rsa-4096", "ed25519", or a KeySpec */
  key?: KeyOption;
  /** how long it is valid ("90d", "1 year": the default) or until when (a Date, an ISO date); never past the CA */
  lifetime?: When;
  /** the CA that signs it (default: the root, "ca") */
  issuer?: string;
  /** extendedKeyUsage: serverAuth, clientAuth or both ("peer", the default) */
  usage?: Usage;
  commonName?: string;
  organization?: string;
}

/** An entry of the depot with its certificate (PEM) and encrypted key (PKCS#8 PEM, the depot's passphrase). */
export interface DepotCert extends EntryRecord {
  certificate?: string;
  key?: string;
  /** a CA whose key is in a PKCS#11 token: the token's URI (no PIN); the depot holds no key for it */
  keyUri?: string;
}
export interface Issued extends DepotCert { certificate: string; key: string; warnings: string[] }

const USAGES: Usage[] = ["server", "client", "peer"];

/** The options as `pki issue` checks its flags. */
function checkOptions(name: string, o: IssueOptions) {
  checkName(name);
  if (name === ROOT) throw new InputError(`the name "${ROOT}" is reserved for the root CA`);
  const ips = sanList(o.ips, "ips").map(checkIp), domains = sanList(o.domains, "domains").map(checkDomain);
  const sans: Sans = { ips, domains };
  const uris = sanList(o.uris, "uris").map(checkUri), emails = sanList(o.emails, "emails").map(checkEmail);
  if (uris.length) sans.uris = uris;
  if (emails.length) sans.emails = emails;
  checkSanCount(sans);
  if (o.usage !== undefined && !USAGES.includes(o.usage))
    throw new InputError(`unknown usage ${JSON.stringify(o.usage)}: use ${USAGES.join(", ")}`);
  const subject: Subject = { commonName: checkSubjectValue("common name", o.commonName ?? name) };
  if (o.organization !== undefined) subject.organization = checkSubjectValue("organization", o.organization);
  const issuer = o.issuer === undefined ? ROOT : checkName(o.issuer);
  const notAfter = checkX509Date(parseWhen(o.lifetime ?? "1 year"), "notAfter");
  if (notAfter.getTime() <= Date.now()) throw new InputError(`lifetime ends in the past (${notAfter.toISOString()})`);
  const profile: Profile = { kind: "leaf", usage: o.usage ?? "peer" };
  return { sans, subject, issuer, notAfter, profile, key: parseKeyOption(o.key) };
}

/** Refuses a name taken, maybe in another case ("Web" and "web" are one file on macOS), as the CLI does. */
export async function checkFree(tx: ReadTx, name: string): Promise<void> {
  const taken = (await tx.entryFolded(name))?.name;
  if (taken === undefined) return;
  const as = taken === name ? "" : ` (as "${taken}": names may not differ only in case)`;
  throw new InputError(`"${name}" already exists in the depot${as}`);
}

/** The CA `issuer` able to sign, with its certificate and those of the CAs above it (issuer first). */
export async function issuerPath(tx: ReadTx, issuer: string): Promise<CertInfo[]> {
  const ie = await tx.entry(issuer);
  if (!ie) throw new InputError(`unknown issuer "${issuer}": see 'pki list'`);
  if (ie.kind !== "ca")
    throw new InputError(`"${issuer}" is not a CA: issue from the root or an intermediate (pki init --intermediate)`);
  if (ie.status !== "signed") throw new InputError(`the CA "${issuer}" is ${ie.status}: it cannot issue`);
  const path = [await certOf(tx, issuer)];
  for (let n = ie; n.name !== ROOT; ) {
    const up = n.issuer ?? ROOT;
    const next = await tx.entry(up);
    if (!next || path.length > 16) throw new DepotError(`the issuer chain of "${issuer}" is broken: run 'pki doctor'`);
    path.push(await certOf(tx, up));
    n = next;
  }
  return path;
}

/** Draws serials until the database takes one (a collision of 127 random bits: never, but never twice either). */
export async function reserveFreshSerial(tx: WriteTx): Promise<string> {
  for (;;) {
    const serial = randomSerial();
    try {
      await tx.reserveSerial(serial);
      return serial;
    } catch (e) {
      if (!(e instanceof SerialTakenError)) throw e;
    }
  }
}

export interface SignUnder {
  issuer: string;
  subject: Subject | Uint8Array;
  publicKey: Uint8Array;
  sans: Sans;
  profile: Profile;
  notAfter: Date;
  notBefore?: Date;
  extensions?: RawExtension[];
  /** A certificate that ends before now is a warning (the CLI makes expired fixtures on purpose), not refused. */
  pastOk?: boolean;
}

/**
 * Inside a write: the certificate `issuer` signs (as issueUnder does for the CLI): the issuer a signed CA, every
 * CA's name constraints on the path (checked again when a CA changed since `checked`), the expiry clamped to the
 * issuer's, and a fresh serial reserved by the database in this transaction.
 */
export async function signUnder(
  s: Session, tx: WriteTx, o: SignUnder, checked: CertInfo[] | undefined, warnings: string[],
): Promise<CertInfo> {
  const path = await issuerPath(tx, o.issuer);
  if (!checked || path.some((p, i) => p.serialNumber !== checked[i]?.serialNumber))
    await checkPathConstraints(o.subject, o.sans, path, o.profile.kind === "leaf");
  if (o.profile.kind === "ca") checkPathLength(o.issuer, path[0].basicConstraints?.pathLength, o.profile.pathLength);
  const issuerKeys = await s.caKeys(tx, o.issuer, path[0]);
  const clamp = clampToIssuer(o.notAfter, path[0]);
  if (clamp.warning) warnings.push(clamp.warning);
  if (o.notBefore && o.notBefore >= clamp.notAfter)
    throw new InputError(
      `--not-before ${o.notBefore.toISOString()} is not before the expiry ${clamp.notAfter.toISOString()}`,
    );
  if (clamp.notAfter.getTime() <= Date.now()) {
    if (!o.pastOk)
      throw new InputError(`the CA "${o.issuer}" has expired (${clamp.notAfter.toISOString()}): it cannot issue`);
    warnings.push(`the certificate is already expired (notAfter ${clamp.notAfter.toISOString()})`);
  }
  const serial = await reserveFreshSerial(tx);
  const extensions = await withCrlUrl(tx, o.issuer, o.extensions);
  const sign = prepareCertificateDer({ ...o, extensions, issuerCert: path[0], serial, notAfter: clamp.notAfter });
  return new CertInfo(sign(issuerKeys));
}

/** The issuer's CRL distribution point (`pki init --crl-url`), as recorded now, in what it signs. */
async function withCrlUrl(tx: ReadTx, issuer: string, given: RawExtension[] = []): Promise<RawExtension[]> {
  const url = (await tx.entry(issuer))?.crlUrl;
  if (url === undefined || given.some((e) => e.oid === CRL_DP_OID)) return given;
  return [...given, crlDistributionPoints(url)];
}

export async function issue(s: Session, name: string, o: IssueOptions = {}): Promise<Issued> {
  s.check();
  const c = checkOptions(name, o);
  const { entry, cert, sealed, warnings } = await issueNew(s, name, { ...c, keyType: c.key });
  const certificate = toPem("CERTIFICATE", new Uint8Array(cert.rawData));
  return { ...entry, certificate, key: toPem("ENCRYPTED PRIVATE KEY", sealed), warnings };
}

/**
 * A command's validity: --not-before checked first (it is the start --expires counts from), then the expiry;
 * each within the dates a certificate can carry.
 */
export function validityOf(notAfter: (from: Date) => Date, notBefore?: Date): { notAfter: Date; notBefore?: Date } {
  if (notBefore) checkX509Date(notBefore, "notBefore");
  const end = checkX509Date(notAfter(notBefore ?? new Date()), "notAfter");
  return notBefore ? { notAfter: end, notBefore } : { notAfter: end };
}

/** What issueNew makes: checked values (the API's options, or the CLI's flags). */
export interface NewKeyed {
  subject: Subject;
  sans: Sans;
  keyType: KeySpec;
  issuer: string;
  profile: Profile;
  notAfter: Date;
  notBefore?: Date;
  pastOk?: boolean;
  extensions?: RawExtension[];
  /** the key's own passphrase (--key-passphrase-file): it seals the new key instead of the session's */
  keyPassphrase?: string;
  /** a key held in a PKCS#11 token instead of a new one: the depot records where it is, never the key */
  held?: TokenCaKey;
  /** a CA's CRL distribution point: recorded, put in what it signs */
  crlUrl?: string;
}

/**
 * What issueNew does before it needs the depot's key (the name free, the issuer able to sign, the path's
 * constraints, the new key and its CSR): a command runs it while the KDF derives, and hands it to issueNew.
 */
export async function prepareNew(store: RecordStore, name: string, c: NewKeyed) {
  const prepath = await store.read(async (tx) => {
    await checkFree(tx, name);
    return issuerPath(tx, c.issuer);
  });
  await checkPathConstraints(c.subject, c.sans, prepath, c.profile.kind === "leaf");
  if (c.profile.kind === "ca") checkPathLength(c.issuer, prepath[0].basicConstraints?.pathLength, c.profile.pathLength);
  const made = c.held ? undefined : await generateKeyDer(c.keyType);
  const keys = c.held ?? keyObjectsOf(made!);
  return { prepath, made, keys, csr: createCsrDer(c.subject, c.sans, keys) };
}
export type PreparedNew = Awaited<ReturnType<typeof prepareNew>>;

/**
 * A new key, its CSR and its certificate (a leaf, or with a CA profile an intermediate) under `issuer`, one write:
 * the name and issuer checked before the key is made (prepareNew, or `prepared` from it) and again inside the write.
 */
export async function issueNew(s: Session, name: string, c: NewKeyed, prepared?: Promise<PreparedNew>) {
  s.check();
  const { prepath, made, keys, csr } = await (prepared ?? prepareNew(s.store, name, c));
  const sealed = c.held ? tokenKeyRecord(c.held.uri) : await s.sealKeyFor(made!.pkcs8, c.keyPassphrase);
  made?.pkcs8.fill(0);
  const warnings: string[] = [];
  const { entry, cert } = await s.store.write(async (tx) => {
    await checkFree(tx, name);
    const cert = await signUnder(s, tx, {
      issuer: c.issuer, subject: c.subject, publicKey: keys.spki, sans: c.sans, profile: c.profile,
      notAfter: c.notAfter, notBefore: c.notBefore, pastOk: c.pastOk, extensions: c.extensions,
    }, prepath, warnings);
    const e: EntryRecord = {
      name,
      kind: c.profile.kind,
      issuer: c.issuer,
      subject: subjectText(c.subject),
      keyType: describeKey(keys.spec),
      sans: c.sans,
      status: "signed",
      created: new Date().toISOString(),
      ...(profileFields(c.profile) as Partial<EntryRecord>),
      ...(certFields(cert) as Pick<EntryRecord, "serial" | "notBefore" | "notAfter">),
      ...(c.crlUrl === undefined ? {} : { crlUrl: c.crlUrl }),
    };
    await tx.putEntry(e);
    await tx.putBlob({ name, kind: "key" }, sealed);
    await tx.putBlob({ name, kind: "csr" }, csr);
    await tx.putBlob({ name, kind: "cert" }, new Uint8Array(cert.rawData));
    return { entry: e, cert };
  });
  return { entry, cert, sealed, warnings };
}
