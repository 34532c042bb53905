/**
 * Issuing on DepotCore, without @peculiar/x509 (its ASN.1 stack is a third of these commands' time): `pki new-cert`
 * (key and CSR), `pki sign`, and `pki issue` (key, CSR and certificate in one process). issue checks what new-cert
 * and sign check, in an order that writes nothing until the issuer's key has opened: one passphrase protects both
 * keys, so the depot's KDF (salt + passphrase, cached per process) runs once for the CA key and the new key.
 */
import type { NewCertOptions, SignOptions, Entry } from "./depot.js";
import type { DepotCore } from "./core.js";
import { checkName, InputError } from "../lib/x509/validate.js";
import { createCsrDer, subjectText } from "../lib/x509/issuance.js";
import type { CertInfo } from "../lib/x509/certinfo.js";
import type { Profile, Sans } from "../lib/x509/issuance.js";
import { describeKey, generateKeyDer, keyObjectsOf } from "../lib/x509/keys.js";
import { toPem } from "../lib/x509/pem.js";
import { writeAtomicAll } from "./fsutil.js";
import { checkPathConstraints, checkSanCount, inspectIssuer, issueUnder, unlockIssuer } from "./issuer.js";
import { checkCsrAgainstEntry, checkCsrKey, readCsrView } from "./csr-file.js";
import { WrongPassphraseError } from "../lib/formats/pkcs8.js";
import { certFields, checkFree, checkIssuerEntry, profileFields, profileOf } from "./records.js";
import { ROOT } from "./view.js";

/**
 * A new key as PKCS#8 DER and its CSR, and the key's encryption under way: it waits for the depot's KDF (started by
 * the CLI), which the caller spends taking the lock and checking the index. The DER is zeroed once encrypted.
 */
async function newKeyAndCsr(depot: DepotCore, o: NewCertOptions) {
  const keys = await generateKeyDer(o.key);
  const csrPem = toPem("CERTIFICATE REQUEST", createCsrDer(o.subject, o.sans, keyObjectsOf(keys)));
  const keyPem = depot.encryptKey(keys.pkcs8, o.keyPassphrase ?? o.passphrase).finally(() => keys.pkcs8.fill(0));
  keyPem.catch(() => {}); // awaited under the lock, which reports its error
  return { spki: keys.spki, csrPem, keyPem };
}

/** `pki new-cert`: a key (encrypted) and a CSR, recorded as unsigned. */
export async function newCertEntry(depot: DepotCore, name: string, o: NewCertOptions): Promise<Entry> {
  checkNewName(name, o.sans);
  // Names outside the issuing CA's name constraints are refused now, as sign would refuse them, not a step later.
  const issuer = o.issuer ?? ROOT, ie = depot.readIndex().entries[issuer];
  if (ie?.kind === "ca" && ie.status === "signed") {
    const path = [issuer, ...depot.issuerNames(issuer)].map((n) => depot.readCertInfo(n));
    await checkPathConstraints(o.subject, o.sans, path, (o.profile?.kind ?? "leaf") === "leaf");
  }
  const { csrPem, keyPem } = await newKeyAndCsr(depot, o);
  // The depot's passphrase opens the key of the CA that will sign (the same KDF run as the new key's sealing).
  const checking = o.keyPassphrase === undefined ? depot.checkPassphrase(issuer, o.passphrase) : undefined;
  checking?.catch(() => {});
  return depot.withLock(async () => {
    const idx = depot.readIndex();
    checkFree(idx, name, () => false);
    if (o.issuer) checkIssuerEntry(idx, o.issuer);
    if (!idx.entries[issuer]?.external) await checking; // a CA whose key is held elsewhere: nothing to check against
    const entry: Entry = {
      name,
      kind: o.profile?.kind ?? "leaf",
      issuer: o.issuer,
      subject: subjectText(o.subject),
      keyType: describeKey(o.key),
      sans: o.sans,
      status: "unsigned",
      created: new Date().toISOString(),
      ...profileFields(o.profile),
    };
    idx.entries[name] = entry;
    // Order: key, CSR, then the index entry that makes them visible.
    await writeAtomicAll([
      { path: depot.keyPath(name), data: await keyPem, mode: 0o600 },
      { path: depot.csrPath(name), data: csrPem },
      depot.indexWrite(idx),
    ]);
    return entry;
  });
}

function checkNewName(name: string, sans: Sans): void {
  checkName(name);
  if (name === ROOT) throw new InputError(`the name "${ROOT}" is reserved for the root CA`);
  checkSanCount(sans);
}

export type IssueNewOptions = NewCertOptions & Omit<SignOptions, "caPassphrase" | "profile" | "issuer">;

export async function issueNew(
  depot: DepotCore,
  name: string,
  o: IssueNewOptions,
): Promise<{ entry: Entry; cert: CertInfo }> {
  checkNewName(name, o.sans);
  const issuer = o.issuer ?? ROOT;
  const profile = o.profile ?? { kind: "leaf" as const, usage: "peer" as const };
  checkFree(depot.readIndex(), name, () => false);
  const issuerCert = inspectIssuer(depot, issuer, profile);
  const notAfter = o.notAfter(o.notBefore ?? new Date());
  if (o.notBefore && o.notBefore >= (notAfter < issuerCert.notAfter ? notAfter : issuerCert.notAfter)) {
    throw new InputError(`--not-before ${o.notBefore.toISOString()} is not before the expiry`);
  }
  // Refused before a key is made (issueUnder checks again under the lock).
  const path = [issuerCert, ...depot.issuerNames(issuer).map((n) => depot.readCertInfo(n))];
  await checkPathConstraints(o.subject, o.sans, path, profile.kind === "leaf");
  // The new key and its CSR while the depot's KDF (started by the CLI) runs on the pool, then the lock and the
  // index; the CA key opens when the KDF is done. A wrong passphrase is reported under the lock, having written nothing.
  const { spki, csrPem, keyPem } = await newKeyAndCsr(depot, o);
  const unlocking = unlockIssuer(depot, issuer, issuerCert, o.passphrase);
  unlocking.catch(() => {});
  return depot.withLock(async () => {
    const idx = depot.readIndex();
    checkFree(idx, name, () => false);
    checkIssuerEntry(idx, issuer);
    const cert = await issueUnder(depot, idx, {
      subject: o.subject,
      publicKey: spki,
      sans: o.sans,
      issuer,
      issuerCert,
      issuerKeys: unlocking,
      profile,
      notAfter: o.notAfter,
      notBefore: o.notBefore,
    });
    const entry: Entry = {
      name,
      kind: profile.kind,
      issuer,
      subject: subjectText(o.subject),
      keyType: describeKey(o.key),
      sans: o.sans,
      status: "signed",
      created: new Date().toISOString(),
      ...profileFields(profile),
      ...certFields(cert),
    };
    idx.entries[name] = entry;
    // Order: key, CSR, certificate, then the index entry that makes them visible.
    await writeAtomicAll([
      { path: depot.keyPath(name), data: await keyPem, mode: 0o600 },
      { path: depot.csrPath(name), data: csrPem },
      { path: depot.certPath(name), data: cert.toString("pem") + "\n" },
      depot.indexWrite(idx),
    ]);
    return { entry, cert };
  });
}

/** `pki sign`: NAME's issuer (--issuer, the one chosen at new-cert, or the root) signs NAME's CSR. */
export async function signEntry(
  depot: DepotCore,
  name: string,
  o: SignOptions,
): Promise<{ entry: Entry; cert: CertInfo }> {
  const pre = depot.entry(name);
  if (pre.status !== "unsigned") throw new InputError(`"${name}" is already signed`);
  const csr = await readCsrView(depot, name);
  checkCsrAgainstEntry(pre, csr);
  const issuer = o.issuer ?? pre.issuer ?? ROOT;
  const profile: Profile = o.profile ?? profileOf(pre);
  const issuerCert = inspectIssuer(depot, issuer, profile);
  // The keys open when the depot's KDF is done; meanwhile the lock is taken and the index checked (as in issueNew).
  const unlocking = (async () => {
    const issuerKeys = await unlockIssuer(depot, issuer, issuerCert, o.caPassphrase);
    // When the CA passphrase also opens NAME's key, the CSR must carry that key (a replaced CSR is refused).
    const own = await depot.unlockKeyObjects(name, o.caPassphrase).catch((e) => {
      if (e instanceof WrongPassphraseError) return undefined;
      throw e;
    });
    if (own) await checkCsrKey(name, csr, own);
    return issuerKeys;
  })();
  unlocking.catch(() => {});
  return depot.withLock(async () => {
    const idx = depot.readIndex();
    const entry = idx.entries[name];
    if (!entry || entry.status !== "unsigned") throw new InputError(`"${name}" is already signed`);
    checkCsrAgainstEntry(entry, csr); // exactly what the index records: subject and SANs
    const cert = await issueUnder(depot, idx, {
      subject: csr.subjectDer,
      publicKey: csr.publicKey,
      sans: entry.sans,
      issuer,
      issuerCert,
      issuerKeys: unlocking,
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
