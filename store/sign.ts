/**
 * Issuing: `pki new-cert` (key and CSR), `pki sign`, `pki init --intermediate`, and the issuer checks and
 * clamping every issuance path shares (renew, external-key and ACME certificates too). Depot keeps one-line
 * methods for each.
 */
import { x509 } from "../lib/x509/peculiar.js";
import { WrongPassphraseError } from "../lib/formats/pkcs8.js";
import type { KeyPair } from "../lib/x509/keys.js";
import { subjectDer } from "../lib/x509/cert.js";
import type { Profile, RawExtension, Sans } from "../lib/x509/cert.js";
import { checkNestedConstraints, constraintsExtension } from "../lib/x509/constraints.js";
import type { NameConstraints } from "../lib/x509/constraints.js";
import { INTERMEDIATE_PATH_LENGTH, InputError } from "../lib/x509/validate.js";
import { writeAtomicAll } from "./fsutil.js";
import { checkCsrAgainstEntry, checkCsrKey } from "./crosscheck.js";
import { issueUnder, openIssuerInfo } from "./issuer.js";
export { newCertEntry } from "./issue.js";
import { parseCertDer } from "./cert-file.js";
import { certFields, profileFields, profileOf } from "./records.js";
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
    Object.assign(entry, {
      status: "signed",
      issuer,
      ...certFields(cert),
      ...profileFields(profile),
    } satisfies Partial<Entry>);
    // The certificate, then the index entry that makes it visible, fsynced together.
    await writeAtomicAll([{ path: depot.certPath(name), data: cert.toString("pem") + "\n" }, depot.indexWrite(idx)]);
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

/** openIssuerInfo (store/issuer.ts), with the issuer's certificate parsed for the callers that need it whole. */
export async function openIssuer(
  depot: Depot,
  issuer: string,
  profile: Profile,
  passphrase: string,
): Promise<{ issuerCert: x509.X509Certificate; issuerKeys: KeyPair }> {
  const { issuerCert, issuerKeys } = await openIssuerInfo(depot, issuer, profile, passphrase);
  return { issuerCert: parseCertDer(issuerCert.rawData, depot.rel(depot.certPath(issuer))), issuerKeys };
}

/** issueUnder (store/issuer.ts), the certificate parsed. Store-internal. */
export async function issueUnderLock(depot: Depot, idx: Index, o: IssueOptions): Promise<x509.X509Certificate> {
  const subject = typeof o.subject === "string" ? subjectDer(o.subject) : o.subject;
  return new x509.X509Certificate((await issueUnder(depot, idx, { ...o, subject })).rawData);
}
