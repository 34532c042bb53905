/**
 * The CRLs `pki serve --name NAME` checks client certificates against. Given any CRL, node's TLS has OpenSSL check
 * every certificate on a client's path (X509_V_FLAG_CRL_CHECK_ALL), so it is all the chain's CAs or none:
 * - no CA of NAME's chain has revoked anything or published a CRL: none (there is nothing to refuse);
 * - otherwise every one of them needs the CRL `pki crl` wrote, signed by that CA, not past its nextUpdate, and listing
 *   every revocation the index records for it; any that falls short stops the server with the command that mends it
 *   (fail closed: a test server that accepts a revoked client proves nothing about the mTLS rules).
 * The CRLs are signed, the index is not: a revocation listed in a CRL counts even if index.json lost it.
 */
import { existsSync } from "node:fs";
import { x509 } from "../lib/x509/peculiar.js";
import type { Depot } from "./depot.js";
import { DepotError, readText } from "./fsutil.js";

const ROOT = "ca";
const fix = (ca: string) => `run 'pki crl${ca === ROOT ? "" : ` --issuer ${ca}`}'`;
const num = (hex: string) => BigInt(`0x${hex || "0"}`);

/** Serial and name of every certificate the index records as revoked by `ca`. */
function revokedBy(depot: Depot, ca: string): Array<{ serial: bigint; name: string }> {
  const idx = depot.readIndex();
  return [
    ...Object.values(idx.entries).flatMap((e) => [
      ...(e.status === "revoked" && (e.issuer ?? ROOT) === ca && e.serial ? [{ serial: e.serial, name: e.name }] : []),
      ...(e.history ?? []).filter((h) => h.issuer === ca && h.revoked).map((h) => ({ serial: h.serial, name: e.name })),
    ]),
    ...(idx.removed ?? []).filter((r) => r.issuer === ca && r.revoked).map((r) => ({ serial: r.serial, name: r.name })),
  ].map((r) => ({ serial: num(r.serial), name: r.name }));
}

/** The PEM CRLs of NAME's issuing CAs and which CAs they are; `crlPem` undefined when there is nothing to check. */
export async function clientCrls(
  depot: Depot,
  name: string,
  now = new Date(),
): Promise<{ crlPem?: string; issuers: string[] }> {
  const cas = depot.issuerNames(name);
  const revoked = new Map(cas.map((ca) => [ca, revokedBy(depot, ca)]));
  if (cas.every((ca) => !existsSync(depot.crlPath(ca)) && !revoked.get(ca)!.length)) return { issuers: [] };
  const pems: string[] = [];
  for (const ca of cas) {
    const path = depot.crlPath(ca);
    const who = ca === ROOT ? "the root CA" : `the CA "${ca}"`;
    if (!existsSync(path)) {
      const what = revoked.get(ca)!.length ? "has revoked certificates but no CRL" : "has no CRL yet";
      throw new DepotError(`${who} ${what}, and client certificates are checked against every CA's CRL: ${fix(ca)}`);
    }
    const pem = readText(path, depot.rel(path));
    let crl: x509.X509Crl;
    try {
      crl = new x509.X509Crl(pem);
    } catch {
      throw new DepotError(`${depot.rel(path)} is not a valid CRL: ${fix(ca)}`);
    }
    const cert = depot.readCert(ca);
    if (crl.issuer !== cert.subject || !(await crl.verify({ publicKey: cert.publicKey }).catch(() => false)))
      throw new DepotError(`${depot.rel(path)} is not signed by ${who}: ${fix(ca)}`);
    if (crl.nextUpdate && crl.nextUpdate <= now)
      throw new DepotError(`the CRL of ${who} expired on ${crl.nextUpdate.toISOString()}: ${fix(ca)}`);
    const listed = new Set(crl.entries.map((e) => num(e.serialNumber)));
    const missing = revoked.get(ca)!.find((r) => !listed.has(r.serial));
    if (missing)
      throw new DepotError(`the CRL of ${who} predates the revocation of "${missing.name}": ${fix(ca)}`);
    pems.push(pem);
  }
  return { crlPem: pems.join(""), issuers: cas };
}
