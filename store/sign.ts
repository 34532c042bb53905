/**
 * Issuing with parsed certificates: `pki init --intermediate`, and openIssuer/issueUnderLock, the issuer checks
 * and clamping of store/issuer.ts with @peculiar/x509 certificates for the paths that need them whole (renew,
 * external-key and ACME certificates). new-cert, sign and issue live in store/issue.ts. Depot keeps one-line
 * methods for each.
 */
import { x509 } from "../lib/x509/peculiar.js";
import type { KeyObjects, SigningKey } from "../lib/x509/keys.js";
import { subjectDer } from "../lib/x509/cert.js";
import type { Profile, RawExtension, Sans } from "../lib/x509/cert.js";
import { checkNestedConstraints, constraintsExtension } from "../lib/x509/constraints.js";
import type { NameConstraints } from "../lib/x509/constraints.js";
import { INTERMEDIATE_PATH_LENGTH } from "../lib/x509/validate.js";
import { issueUnder, openIssuerInfo } from "./issuer.js";
export { newCertEntry, signEntry } from "./issue.js";
import { parseCertDer } from "./cert-file.js";
import type { Depot, Entry, Index, NewCertOptions, SignOptions } from "./depot.js";

export type IntermediateOptions = NewCertOptions &
  SignOptions & { issuer: string; pathLength?: number; constraints?: NameConstraints };
export interface IssueOptions {
  subject: x509.Name | string;
  publicKey: x509.PublicKey;
  sans: Sans;
  issuer: string;
  issuerCert: x509.X509Certificate;
  issuerKeys: SigningKey;
  profile: Profile;
  notAfter: (from: Date) => Date;
  notBefore?: Date;
  extensions?: RawExtension[];
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
  const { entry, cert } = await depot.sign(name, {
    ...o,
    profile,
    extensions: o.constraints ? [constraintsExtension(o.constraints)] : undefined,
  });
  return { entry, cert: new x509.X509Certificate(cert.rawData) };
}

/** openIssuerInfo (store/issuer.ts), with the issuer's certificate parsed for the callers that need it whole. */
export async function openIssuer(
  depot: Depot,
  issuer: string,
  profile: Profile,
  passphrase: string,
): Promise<{ issuerCert: x509.X509Certificate; issuerKeys: KeyObjects }> {
  const { issuerCert, issuerKeys } = await openIssuerInfo(depot, issuer, profile, passphrase);
  return { issuerCert: parseCertDer(issuerCert.rawData, depot.rel(depot.certPath(issuer))), issuerKeys };
}

/** issueUnder (store/issuer.ts), the certificate parsed. Store-internal. */
export async function issueUnderLock(depot: Depot, idx: Index, o: IssueOptions): Promise<x509.X509Certificate> {
  const subject = typeof o.subject === "string" ? subjectDer(o.subject) : o.subject;
  return new x509.X509Certificate((await issueUnder(depot, idx, { ...o, subject })).rawData);
}
