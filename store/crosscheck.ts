/**
 * Cross-checks at the point of use: what a command is about to sign, renew or revoke must agree across the
 * files that describe it (index entry, CSR, certificate, issuer certificate, decrypted key), so that a file
 * replaced by someone without the passphrase cannot choose what the CA certifies.
 */
import { existsSync } from "node:fs";
import { x509 } from "../lib/x509/peculiar.js";
import { DepotError, readText } from "./fsutil.js";
import { quote } from "../lib/x509/validate.js";
import type { Depot, Entry, Index } from "./depot.js";

const ROOT = "ca";
const same = (a: ArrayBuffer | Uint8Array, b: ArrayBuffer | Uint8Array) =>
  Buffer.from(a as ArrayBuffer).equals(Buffer.from(b as ArrayBuffer));
const who = (name: string) => (name === ROOT ? "the root CA" : `"${name}"`);

export { checkIssuerKey, checkKeyMatchesCert } from "./issuer.js";

/**
 * `renew`: the current certificate is the one whose serial the index records, for the recorded subject,
 * signed by its issuer, and for NAME's key (the key in its CSR).
 */
export async function checkCurrentCert(
  depot: Depot,
  e: Entry,
  cert: x509.X509Certificate,
  issuerCert: x509.X509Certificate,
): Promise<void> {
  const file = relCert(depot, e.name);
  if (cert.serialNumber.toLowerCase() !== e.serial)
    throw new DepotError(
      `${file} has serial ${cert.serialNumber.toLowerCase().slice(0, 40)}, but index.json records ${e.serial}: refusing to renew`,
    );
  if (cert.subject !== e.subject)
    throw new DepotError(
      `${file} is for ${quote(cert.subject)}, but index.json records ${quote(e.subject)}: refusing to renew`,
    );
  const signed =
    cert.issuer === issuerCert.subject &&
    (await cert.verify({ publicKey: issuerCert.publicKey, signatureOnly: true }).catch(() => false));
  if (!signed)
    throw new DepotError(`${file} does not verify against its issuer ${who(e.issuer ?? ROOT)}: refusing to renew`);
  if (existsSync(depot.csrPath(e.name)) && !same(depot.readCsr(e.name).publicKey.rawData, cert.publicKey.rawData)) {
    throw new DepotError(`${file} does not carry the key of "${e.name}" (its CSR's): refusing to renew`);
  }
}

/** The serial a certificate file of NAME carries (current, or history/NAME.SERIAL.crt), checked against the index. */
export async function serialFromFile(
  depot: Depot,
  name: string,
  serial: string,
  issuerCert: x509.X509Certificate,
  current: boolean,
): Promise<string> {
  const path = current ? depot.certPath(name) : depot.historyPath(name, serial, "crt");
  const file = path.slice(depot.dir.length + 1);
  if (!existsSync(path))
    throw new DepotError(`${file} is missing: cannot confirm the serial ${serial} index.json records for "${name}"`);
  const cert = current ? depot.readCert(name) : new x509.X509Certificate(readText(path, file));
  const actual = cert.serialNumber.toLowerCase();
  if (actual !== serial)
    throw new DepotError(
      `${file} has serial ${actual.slice(0, 40)}, but index.json records ${serial} for "${name}": refusing`,
    );
  const signed =
    cert.issuer === issuerCert.subject &&
    (await cert.verify({ publicKey: issuerCert.publicKey, signatureOnly: true }).catch(() => false));
  if (!signed) throw new DepotError(`${file} is not signed by the CA that would revoke it: refusing`);
  return actual;
}

/** Whether `key` is one a certificate of NAME was revoked for keyCompromise with (current, or in history/). */
export function keyCompromised(depot: Depot, e: Entry, current: x509.X509Certificate, key: x509.PublicKey): boolean {
  const is = (k: x509.PublicKey) => same(k.rawData, key.rawData);
  if (e.status === "revoked" && e.revoked?.reason === "keyCompromise" && is(current.publicKey)) return true;
  return (e.history ?? []).some((h) => {
    if (h.revoked?.reason !== "keyCompromise") return false;
    const p = depot.historyPath(e.name, h.serial, "crt");
    // Without the old certificate its key cannot be told apart: assume it is the current one.
    if (!existsSync(p)) return is(current.publicKey);
    try { return is(new x509.X509Certificate(readText(p, p)).publicKey); } catch { return is(current.publicKey); }
  });
}

/** How many certificates `ca` issued that are still valid (neither expired nor revoked). */
export function stillValidUnder(idx: Index, ca: string, now = new Date()): number {
  let n = 0;
  for (const e of Object.values(idx.entries)) {
    if (
      (e.issuer ?? ROOT) === ca &&
      e.name !== ROOT &&
      e.status === "signed" &&
      e.notAfter &&
      new Date(e.notAfter) > now
    )
      n++;
    for (const h of e.history ?? []) if (h.issuer === ca && !h.revoked && new Date(h.notAfter) > now) n++;
  }
  return n;
}

function relCert(depot: Depot, name: string): string {
  return depot.certPath(name).slice(depot.dir.length + 1);
}
