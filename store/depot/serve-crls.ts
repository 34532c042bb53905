/**
 * The CRLs `pki serve --name NAME` checks client certificates against, on the record store, each CA's latest CRL
 * read from its record (`pki crl` keeps it). All the chain's CAs or none: node's TLS has OpenSSL check every
 * certificate on a client's path once it is given any CRL. A CA that revoked something or published a CRL needs
 * a CRL it signed, not past its nextUpdate, that lists every revocation the store records for it; else the server
 * does not start (fail closed), with the command that mends it.
 */
import { createPublicKey } from "node:crypto";
import { readCrl, type CrlView } from "../../lib/x509/crl-read.js";
import { toPem } from "../../lib/x509/pem.js";
import { checkName, InputError } from "../../lib/x509/validate.js";
import { DepotError } from "../fsutil.js";
import type { ReadTx } from "../records/schema.js";
import { certOf, ROOT, who, type Records } from "./session.js";

const fix = (ca: string) => `run 'pki crl${ca === ROOT ? "" : ` --issuer ${ca}`}'`;
const num = (hex: string) => BigInt(`0x${hex || "0"}`);

/** NAME's issuing CAs, nearest first, up to the root. */
async function issuersOf(tx: ReadTx, name: string): Promise<string[]> {
  const e = await tx.entry(name);
  if (!e) throw new InputError(`unknown name "${name}": see 'pki list'`);
  const cas: string[] = [];
  for (let n = e; n.name !== ROOT; ) {
    const up = n.issuer ?? ROOT;
    const next = await tx.entry(up);
    if (!next || cas.length > 16) throw new DepotError(`the issuer chain of "${name}" is broken: run 'pki doctor'`);
    cas.push(up);
    n = next;
  }
  return cas;
}

/** The PEM CRLs of NAME's issuing CAs and which CAs they are; `crlPem` undefined when there is nothing to check. */
export async function clientCrls(
  s: Records, name: string, now = new Date(),
): Promise<{ crlPem?: string; issuers: string[] }> {
  s.check();
  checkName(name);
  const read = await s.store.read(async (tx) => {
    const cas = await issuersOf(tx, name);
    const out = [];
    for (const ca of cas) {
      const revoked: Array<{ serial: string }> = [];
      for await (const r of tx.revokedBy(ca)) revoked.push({ serial: r.serial });
      out.push({ ca, revoked, crl: await tx.crl(ca), cert: await certOf(tx, ca) });
    }
    return out;
  });
  if (read.every((c) => !c.crl?.der && !c.revoked.length)) return { issuers: [] };
  const pems: string[] = [];
  for (const { ca, revoked, crl: rec, cert } of read) {
    if (!rec?.der) {
      const what = revoked.length ? "has revoked certificates but no CRL" : "has no CRL yet";
      throw new DepotError(
        `${who(ca)} ${what}, and client certificates are checked against every CA's CRL: ${fix(ca)}`,
      );
    }
    let crl: CrlView;
    try {
      crl = readCrl(rec.der);
    } catch {
      throw new DepotError(`the recorded CRL of ${who(ca)} is not a valid CRL: ${fix(ca)}`);
    }
    if (!crl.issuerDer.equals(cert.subjectDer) || !crl.signedBy(createPublicKey({
      key: Buffer.from(cert.publicKey.rawData), format: "der", type: "spki",
    })))
      throw new DepotError(`the recorded CRL of ${who(ca)} is not signed by it: ${fix(ca)}`);
    if (crl.nextUpdate && crl.nextUpdate <= now)
      throw new DepotError(`the CRL of ${who(ca)} expired on ${crl.nextUpdate.toISOString()}: ${fix(ca)}`);
    const listed = new Set(crl.serials.map(num));
    const missing = revoked.find((r) => !listed.has(num(r.serial)));
    if (missing) {
      const holder = await s.store.read((tx) => tx.entryBySerial(missing.serial));
      const what = holder ? `"${holder.name}"` : `serial ${missing.serial}`;
      throw new DepotError(`the CRL of ${who(ca)} predates the revocation of ${what}: ${fix(ca)}`);
    }
    pems.push(toPem("X509 CRL", rec.der));
  }
  return { crlPem: pems.join(""), issuers: read.map((c) => c.ca) };
}
