/**
 * Issuing: `pki new-cert` (key and CSR), `pki sign`, `pki init --intermediate`, and the issuer checks and
 * clamping every issuance path shares (renew, external-key and ACME certificates too). Depot keeps one-line
 * methods for each.
 */
import { x509 } from "../lib/x509/peculiar.js";
import { WrongPassphraseError } from "../lib/formats/pkcs8.js";
import { describeKey, generateKeyPair, type KeyPair } from "../lib/x509/keys.js";
import { clampToIssuer, createCsr, issueCertificate, sanCount } from "../lib/x509/cert.js";
import type { Profile, RawExtension, Sans } from "../lib/x509/cert.js";
import { checkNameConstraints, checkNestedConstraints, constraintsExtension } from "../lib/x509/constraints.js";
import type { NameConstraints } from "../lib/x509/constraints.js";
import {
  checkName,
  checkPathLength,
  checkX509Date,
  INTERMEDIATE_PATH_LENGTH,
  InputError,
} from "../lib/x509/validate.js";
import { writeAtomic } from "./fsutil.js";
import { checkCsrAgainstEntry, checkCsrKey, checkIssuerKey } from "./crosscheck.js";
import { MAX_SANS } from "./integrity.js";
import { certFields, checkFree, checkIssuerEntry, profileFields, profileOf } from "./records.js";
import { ROOT } from "./view.js";
import type { Depot, Entry, Index, NewCertOptions, SignOptions } from "./depot.js";

export type IntermediateOptions = NewCertOptions &
  SignOptions & { issuer: string; pathLength?: number; constraints?: NameConstraints };
export interface IssueOptions {
  subject: x509.Name | string;
  publicKey: x509.PublicKey;
  sans: Sans;
  issuer: string;
  issuerCert: x509.X509Certificate;
  issuerKeys: KeyPair;
  profile: Profile;
  notAfter: (from: Date) => Date;
  notBefore?: Date;
  extensions?: RawExtension[];
}

/** `pki new-cert`: a key (encrypted) and a CSR, recorded as unsigned. */
export async function newCertEntry(depot: Depot, name: string, o: NewCertOptions): Promise<Entry> {
  checkName(name);
  if (name === ROOT) throw new InputError(`the name "${ROOT}" is reserved for the root CA`);
  if (sanCount(o.sans) > MAX_SANS)
    throw new InputError(`${sanCount(o.sans)} subject alternative names: at most ${MAX_SANS}`);
  const keys = await generateKeyPair(o.key);
  const csr = await createCsr(o.subject, o.sans, keys);
  const keyPem = await depot.sealKey(keys.privateKey, o.passphrase);
  return depot.withLock(async () => {
    const idx = depot.readIndex();
    checkFree(idx, name, () => false);
    if (o.issuer) checkIssuerEntry(idx, o.issuer);
    const entry: Entry = {
      name,
      kind: o.profile?.kind ?? "leaf",
      issuer: o.issuer,
      subject: csr.subject,
      keyType: describeKey(o.key),
      sans: o.sans,
      status: "unsigned",
      created: new Date().toISOString(),
      ...profileFields(o.profile),
    };
    // Order: key, CSR, then the index entry that makes them visible.
    writeAtomic(depot.keyPath(name), keyPem, 0o600);
    writeAtomic(depot.csrPath(name), csr.toString("pem") + "\n", 0o644);
    idx.entries[name] = entry;
    depot.writeIndex(idx);
    return entry;
  });
}

/** `pki sign`: NAME's issuer (--issuer, the one chosen at new-cert, or the root) signs NAME's CSR. */
export async function signEntry(
  depot: Depot,
  name: string,
  o: SignOptions,
): Promise<{ entry: Entry; cert: x509.X509Certificate }> {
  const pre = depot.entry(name);
  if (pre.status !== "unsigned") throw new InputError(`"${name}" is already signed`);
  const csr = depot.readCsr(name);
  await checkCsrAgainstEntry(depot, pre, csr);
  const issuer = o.issuer ?? pre.issuer ?? ROOT;
  const profile: Profile = o.profile ?? profileOf(pre);
  const { issuerCert, issuerKeys } = await depot.unlockIssuer(issuer, profile, o.caPassphrase);
  // When the CA passphrase also opens NAME's key, the CSR must carry that key (a replaced CSR is refused).
  const own = await depot.unlockKey(name, o.caPassphrase).catch((e) => {
    if (e instanceof WrongPassphraseError) return undefined;
    throw e;
  });
  if (own) {
    own.der.fill(0);
    await checkCsrKey(depot, name, csr, own.keys);
  }
  return depot.withLock(async () => {
    const idx = depot.readIndex();
    const entry = idx.entries[name];
    if (!entry || entry.status !== "unsigned") throw new InputError(`"${name}" is already signed`);
    await checkCsrAgainstEntry(depot, entry, csr); // exactly what the index records: subject and SANs
    const cert = await depot.issue(idx, {
      subject: csr.subjectName,
      publicKey: csr.publicKey,
      sans: entry.sans,
      issuer,
      issuerCert,
      issuerKeys,
      profile,
      notAfter: o.notAfter,
      notBefore: o.notBefore,
      extensions: o.extensions,
    });
    writeAtomic(depot.certPath(name), cert.toString("pem") + "\n", 0o644);
    Object.assign(entry, {
      status: "signed",
      issuer,
      ...certFields(cert),
      ...profileFields(profile),
    } satisfies Partial<Entry>);
    depot.writeIndex(idx);
    return { entry, cert };
  });
}

/**
 * `pki init --intermediate`: a key, CSR and CA certificate for NAME under `issuer`, checked before anything is
 * written.
 */
export async function issueIntermediate(
  depot: Depot,
  name: string,
  o: IntermediateOptions,
): Promise<{ entry: Entry; cert: x509.X509Certificate }> {
  const profile: Profile = { kind: "ca", pathLength: o.pathLength ?? INTERMEDIATE_PATH_LENGTH };
  const { issuerCert } = await depot.unlockIssuer(o.issuer, profile, o.caPassphrase);
  const path = [issuerCert, ...depot.issuerChain(o.issuer).map((c) => c.cert)];
  checkNestedConstraints(o.constraints, path);
  await depot.newCert(name, { ...o, profile });
  return depot.sign(name, {
    ...o,
    profile,
    extensions: o.constraints ? [constraintsExtension(o.constraints)] : undefined,
  });
}

/**
 * Reads and decrypts a CA's certificate and key; refuses a leaf, an unsigned or revoked CA, or a path length it
 * forbids.
 */
export async function openIssuer(
  depot: Depot,
  issuer: string,
  profile: Profile,
  passphrase: string,
): Promise<{ issuerCert: x509.X509Certificate; issuerKeys: KeyPair }> {
  const ie = depot.entry(issuer);
  if (ie.kind !== "ca")
    throw new InputError(`"${issuer}" is not a CA: issue from the root or an intermediate (pki init --intermediate)`);
  if (ie.status !== "signed") throw new InputError(`the CA "${issuer}" is ${ie.status}: it cannot issue`);
  const issuerCert = depot.readCert(issuer);
  if (profile.kind === "ca") {
    const bc = issuerCert.getExtension(x509.BasicConstraintsExtension);
    checkPathLength(issuer, bc?.pathLength, profile.pathLength);
  }
  const { der, keys: issuerKeys } = await depot.unlockKey(issuer, passphrase);
  der.fill(0); // the CryptoKey is all that is needed: no plain key bytes linger
  await checkIssuerKey(depot, issuer, issuerCert, issuerKeys);
  return { issuerCert, issuerKeys };
}

/** Issues under the lock: a fresh serial (recorded in idx), validity clamped to the issuer's. Store-internal. */
export async function issueUnderLock(depot: Depot, idx: Index, o: IssueOptions): Promise<x509.X509Certificate> {
  // Every CA on the path, as their certificates say (an imported CA's constraints count too).
  if (sanCount(o.sans) > MAX_SANS)
    throw new InputError(`${sanCount(o.sans)} subject alternative names: at most ${MAX_SANS}`);
  checkNameConstraints(o.subject, o.sans, [o.issuerCert, ...depot.issuerChain(o.issuer).map((c) => c.cert)], {
    leaf: o.profile.kind === "leaf",
  });
  if (o.notBefore) checkX509Date(o.notBefore, "notBefore");
  const clamp = clampToIssuer(checkX509Date(o.notAfter(o.notBefore ?? new Date()), "notAfter"), o.issuerCert);
  if (clamp.warning) depot.warnings.push(clamp.warning);
  if (o.notBefore && o.notBefore >= clamp.notAfter)
    throw new InputError(
      `--not-before ${o.notBefore.toISOString()} is not before the expiry ${clamp.notAfter.toISOString()}`,
    );
  if (clamp.notAfter <= new Date())
    depot.warnings.push(`the certificate is already expired (notAfter ${clamp.notAfter.toISOString()})`);
  const serial = depot.freshSerial(idx);
  const cert = await issueCertificate({ ...o, serial, notAfter: clamp.notAfter });
  idx.serials.push(serial);
  return cert;
}
