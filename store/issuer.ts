/**
 * Opening a CA of the depot and issuing under it: the checks every issuance path shares (sign, issue, renew,
 * external-key and ACME certificates), on DepotCore and the DER reader. @peculiar/x509 loads only when a CA on
 * the path carries name constraints, so `pki issue` under an unconstrained CA never pays for it.
 */
import type { KeyObjects, KeyPair, SigningKey } from "../lib/x509/keys.js";
import { subtle } from "../lib/x509/keys.js";
import { CertInfo } from "../lib/x509/certinfo.js";
import { checkPathConstraints } from "../lib/x509/path-constraints.js";
export { checkPathConstraints };
import { clampToIssuer, prepareCertificateDer, sanCount } from "../lib/x509/issuance.js";
import type { CertLike, IssueOptions as DerIssueOptions, Profile, Sans } from "../lib/x509/issuance.js";
import { checkPathLength, checkX509Date, InputError } from "../lib/x509/validate.js";
import { DepotError } from "./fsutil.js";
import { MAX_SANS } from "./integrity.js";
import { ROOT } from "./view.js";
import type { DepotCore } from "./core.js";
import type { Index } from "./depot.js";

export interface IssueUnderOptions
  extends Omit<DerIssueOptions, "serial" | "notAfter" | "profile" | "issuerCert" | "issuerKeys"> {
  /** a promise when the key is still opening: the certificate is written meanwhile, and signed when it opens */
  issuerKeys: SigningKey | Promise<SigningKey>;
  issuer: string;
  issuerCert: CertLike;
  profile: Profile;
  notAfter: (from: Date) => Date;
}

export function checkSanCount(sans: Sans): void {
  if (sanCount(sans) > MAX_SANS)
    throw new InputError(`${sanCount(sans)} subject alternative names: at most ${MAX_SANS}`);
}

const who = (name: string) => (name === ROOT ? "the root CA" : `"${name}"`);

/**
 * Whether `key` (KeyObjects, a KeyPair or a public CryptoKey) is the key whose SPKI DER is `spki` (a certificate's
 * or a CSR's).
 */
export async function isKeyOf(key: KeyObjects | KeyPair | CryptoKey, spki: ArrayBuffer): Promise<boolean> {
  if ("spki" in key) return key.spki.equals(Buffer.from(spki));
  const own = await subtle.exportKey("spki", "publicKey" in key ? key.publicKey : key);
  return Buffer.from(own).equals(Buffer.from(spki));
}

/** After decrypting an issuer's key: its public key is the one in the issuer's certificate. */
export async function checkIssuerKey(
  depot: DepotCore,
  issuer: string,
  cert: { publicKey: { rawData: ArrayBuffer } },
  keys: KeyPair | KeyObjects,
): Promise<void> {
  if (!(await isKeyOf(keys, cert.publicKey.rawData))) {
    const file = depot.rel(depot.certPath(issuer));
    throw new DepotError(`the key of ${who(issuer)} does not match its certificate ${file}: refusing to use it`);
  }
}

/** export, serve: the decrypted key is the certificate's. */
export async function checkKeyMatchesCert(
  name: string,
  cert: { publicKey: { rawData: ArrayBuffer } },
  publicKey: CryptoKey,
): Promise<void> {
  if (!(await isKeyOf(publicKey, cert.publicKey.rawData))) {
    throw new DepotError(`the key of ${who(name)} does not match its certificate: run 'pki doctor'`);
  }
}

/** Reads a CA's certificate; refuses a leaf, an unsigned or revoked CA, or a path length it forbids. */
export function inspectIssuer(depot: DepotCore, issuer: string, profile: Profile): CertInfo {
  const ie = depot.entry(issuer);
  if (ie.kind !== "ca")
    throw new InputError(`"${issuer}" is not a CA: issue from the root or an intermediate (pki init --intermediate)`);
  if (ie.status !== "signed") throw new InputError(`the CA "${issuer}" is ${ie.status}: it cannot issue`);
  const issuerCert = depot.readCertInfo(issuer);
  if (profile.kind === "ca") checkPathLength(issuer, issuerCert.basicConstraints?.pathLength, profile.pathLength);
  return issuerCert;
}

/** Decrypts the key of the CA whose certificate is `issuerCert`; it must be that certificate's key. */
export async function unlockIssuer(
  depot: DepotCore,
  issuer: string,
  issuerCert: CertInfo,
  passphrase: string,
): Promise<KeyObjects> {
  const issuerKeys = await depot.unlockKeyObjects(issuer, passphrase);
  await checkIssuerKey(depot, issuer, issuerCert, issuerKeys);
  return issuerKeys;
}

/** inspectIssuer, then unlockIssuer. */
export async function openIssuerInfo(
  depot: DepotCore,
  issuer: string,
  profile: Profile,
  passphrase: string,
): Promise<{ issuerCert: CertInfo; issuerKeys: KeyObjects }> {
  const issuerCert = inspectIssuer(depot, issuer, profile);
  return { issuerCert, issuerKeys: await unlockIssuer(depot, issuer, issuerCert, passphrase) };
}

/** Issues under the lock: a fresh serial (recorded in idx), validity clamped to the issuer's. Store-internal. */
export async function issueUnder(depot: DepotCore, idx: Index, o: IssueUnderOptions): Promise<CertInfo> {
  const sans = o.sans ?? { ips: [], domains: [] };
  checkSanCount(sans);
  // Every CA on the path, as their certificates say (an imported CA's constraints count too).
  const path = [o.issuerCert, ...depot.issuerNames(o.issuer).map((n) => depot.readCertInfo(n))];
  await checkPathConstraints(o.subject, sans, path, o.profile.kind === "leaf");
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
  const sign = prepareCertificateDer({ ...o, sans, serial, notAfter: clamp.notAfter });
  const cert = new CertInfo(sign(await o.issuerKeys));
  idx.serials.push(serial);
  return cert;
}
