/**
 * `depot.revoke(name, ...)` and `depot.crl(issuer?)` on the record store, with `pki revoke` and `pki crl`'s rules
 * (store/revoke.ts): the root is never revoked by itself, a certificate is revoked once, the serial the record
 * names is the one its certificate carries, and a CRL lists every revocation its issuer signed (current, past and
 * removed certificates) under the next cRLNumber. Each is one write transaction.
 */
import { parseWhen, type When } from "../../lib/api/options.js";
import { createCrlDer, type RevokedCert } from "../../lib/x509/crl-der.js";
import { toPem } from "../../lib/x509/pem.js";
import { checkReason, type RevocationReason } from "../../lib/x509/reasons.js";
import { checkName, checkX509Date, InputError } from "../../lib/x509/validate.js";
import { DepotError } from "../fsutil.js";
import type { Revocation } from "../records/schema.js";
import { certOf, ROOT, type Records, type Session } from "./session.js";

export interface RevokeOptions {
  /** RFC 5280's reason (default "unspecified"): keyCompromise, superseded, cessationOfOperation, ... */
  reason?: RevocationReason;
  /** an earlier certificate of NAME (its serial in hex), instead of the current one */
  serial?: string;
}
export interface Revoked { name: string; serial: string; issuer: string; revoked: Revocation }

export async function revoke(s: Records, name: string, o: RevokeOptions = {}): Promise<Revoked> {
  s.check();
  checkName(name);
  if (name === ROOT) throw new InputError("the root CA cannot be revoked by itself: retire the depot instead");
  const reason = checkReason(String(o.reason ?? "unspecified"));
  const serial = o.serial?.toLowerCase().replace(/^0x/, "").replace(/:/g, "");
  return s.store.write(async (tx) => {
    const entry = await tx.entry(name);
    if (!entry) throw new InputError(`unknown name "${name}": see 'pki list'`);
    const revoked: Revocation = { date: new Date().toISOString(), reason };
    if (serial === undefined || serial === entry.serial) {
      if (entry.status === "unsigned") throw new InputError(`"${name}" is not signed: nothing to revoke`);
      if (entry.status === "revoked") throw new InputError(`"${name}" is already revoked (serial ${entry.serial})`);
      // The serial the row names is the one its certificate carries (a row edited alone revokes nothing).
      const cert = await certOf(tx, name);
      if (cert.serialNumber !== entry.serial)
        throw new DepotError(`the certificate of "${name}" has serial ${cert.serialNumber}, not the recorded ` +
          `${entry.serial}: run 'pki doctor'`);
      await tx.revoke(name, entry.serial, revoked);
      return { name, serial: entry.serial, issuer: entry.issuer ?? ROOT, revoked };
    }
    const past = (await tx.history(name)).find((h) => h.serial === serial);
    if (!past) throw new InputError(`"${name}" never had the serial ${o.serial}: see 'pki status ${name} --json'`);
    if (past.revoked) throw new InputError(`serial ${serial} of "${name}" is already revoked`);
    await tx.revoke(name, serial, revoked);
    return { name, serial, issuer: past.issuer, revoked };
  });
}

export interface CrlOptions {
  /** when the next CRL is due: a duration ("30d", the default, as `pki crl`) or a date */
  nextUpdate?: When;
}
export interface Crl { issuer: string; number: number; pem: string; der: Buffer; revoked: number; nextUpdate: Date }

export async function crl(s: Session, issuer = ROOT, o: CrlOptions = {}): Promise<Crl> {
  s.check();
  checkName(issuer);
  const now = new Date();
  const nextUpdate = checkX509Date(parseWhen(o.nextUpdate ?? "30d", now), "nextUpdate");
  return s.store.write(async (tx) => {
    const ie = await tx.entry(issuer);
    if (!ie) throw new InputError(`unknown issuer "${issuer}": see 'pki list'`);
    if (ie.kind !== "ca") throw new InputError(`"${issuer}" is not a CA: only a CA publishes a CRL`);
    const issuerCert = await certOf(tx, issuer);
    const issuerKeys = await s.caKeys(tx, issuer, issuerCert);
    // A current entry's recorded serial is the one its certificate carries (a row edited alone would put another
    // serial on the CRL and leave the certificate unrevoked).
    for await (const e of tx.list({ status: "revoked", issuer })) {
      const cert = await certOf(tx, e.name);
      if (cert.serialNumber !== e.serial)
        throw new DepotError(`the certificate of "${e.name}" has serial ${cert.serialNumber}, not the recorded ` +
          `${e.serial}: run 'pki doctor'`);
    }
    const revoked: RevokedCert[] = [];
    for await (const r of tx.revokedBy(issuer))
      revoked.push({ serial: r.serial, reason: r.revoked.reason, date: new Date(r.revoked.date) });
    const number = await tx.nextCrlNumber(issuer);
    const der = createCrlDer({ issuerCert, issuerKeys, revoked, crlNumber: number, thisUpdate: now, nextUpdate });
    await tx.putCrl(issuer, der);
    return { issuer, number, der, pem: toPem("X509 CRL", der), revoked: revoked.length, nextUpdate };
  });
}
