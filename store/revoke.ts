/** `pki revoke` and `pki crl`: revocations recorded in the index, and the CRL a CA publishes from them. */
import type { x509 } from "../lib/x509/peculiar.js";
import { createCrl, crlToPem, type RevocationReason } from "../lib/x509/crl.js";
import { checkX509Date, InputError } from "../lib/x509/validate.js";
import { writeAtomic } from "./fsutil.js";
import { checkIssuerKey, serialFromFile } from "./crosscheck.js";
import { ROOT } from "./view.js";
import type { Depot, Entry, Revocation } from "./depot.js";

/** `pki revoke`: marks NAME's current certificate (or an earlier one, by serial) revoked in the index. */
export async function revokeCert(
  depot: Depot,
  name: string,
  o: { reason: RevocationReason; serial?: string; date?: Date },
): Promise<{ serial: string; issuer: string }> {
  if (name === ROOT) throw new InputError("the root CA cannot be revoked by itself: retire the depot instead");
  depot.entry(name);
  return depot.withLock(async () => {
    const idx = depot.readIndex();
    const entry = idx.entries[name];
    const serial = o.serial?.toLowerCase().replace(/^0x/, "").replace(/:/g, "");
    const revoked: Revocation = { date: (o.date ?? new Date()).toISOString(), reason: o.reason };
    let target: { serial: string; issuer: string };
    const fromFile = async (s: string, issuer: string, current: boolean) =>
      serialFromFile(depot, name, s, depot.readCert(issuer), current);
    if (serial === undefined || serial === entry.serial) {
      if (entry.status === "unsigned") throw new InputError(`"${name}" is not signed: nothing to revoke`);
      if (entry.status === "revoked") throw new InputError(`"${name}" is already revoked (serial ${entry.serial})`);
      target = { serial: await fromFile(entry.serial!, entry.issuer ?? ROOT, true), issuer: entry.issuer ?? ROOT };
      Object.assign(entry, { status: "revoked", revoked } satisfies Partial<Entry>);
    } else {
      const past = entry.history?.find((h) => h.serial === serial);
      if (!past) throw new InputError(`"${name}" never had the serial ${o.serial}: see 'pki status ${name} --json'`);
      if (past.revoked) throw new InputError(`serial ${serial} of "${name}" is already revoked`);
      target = { serial: await fromFile(serial, past.issuer, false), issuer: past.issuer };
      past.revoked = revoked;
    }
    depot.writeIndex(idx);
    return target;
  });
}

/** `pki crl`: a CRL of everything `issuer` has revoked, written to the depot; cRLNumber increments. */
export async function publishCrl(
  depot: Depot,
  issuer: string,
  o: { passphrase: string; nextUpdate: (from: Date) => Date },
): Promise<{ pem: string; crl: x509.X509Crl; number: number; path: string }> {
  const ie = depot.entry(issuer);
  if (ie.kind !== "ca") throw new InputError(`"${issuer}" is not a CA: only a CA publishes a CRL`);
  const issuerCert = depot.readCert(issuer);
  const issuerKeys = await depot.unlockKeyObjects(issuer, o.passphrase);
  await checkIssuerKey(depot, issuer, issuerCert, issuerKeys);
  return depot.withLock(async () => {
    const idx = depot.readIndex();
    const listed = Object.values(idx.entries).flatMap((e) => [
      ...(e.status === "revoked" && (e.issuer ?? ROOT) === issuer && e.revoked
        ? [{ name: e.name, current: true, serial: e.serial!, ...e.revoked }]
        : []),
      ...(e.history ?? [])
        .filter((h) => h.issuer === issuer && h.revoked)
        .map((h) => ({ name: e.name, current: false, serial: h.serial, ...h.revoked! })),
    ]);
    // Each serial as the certificate file carries it (signed by this CA): an index that disagrees is refused.
    // Removed entries (pki rm, imported CRLs) have no file left to ask: their serials come from the checked index.
    const revoked = (idx.removed ?? [])
      .filter((h) => h.issuer === issuer && h.revoked)
      .map((h) => ({ serial: h.serial, reason: h.revoked!.reason, date: new Date(h.revoked!.date) }));
    for (const r of listed)
      revoked.push({
        serial: await serialFromFile(depot, r.name, r.serial, issuerCert, r.current),
        reason: r.reason,
        date: new Date(r.date),
      });
    const number = (idx.crlNumbers?.[issuer] ?? 0) + 1;
    const now = new Date();
    const crl = await createCrl({
      issuerCert,
      issuerKeys,
      revoked,
      crlNumber: number,
      thisUpdate: now,
      nextUpdate: checkX509Date(o.nextUpdate(now), "nextUpdate"),
    });
    const pem = crlToPem(crl);
    writeAtomic(depot.crlPath(issuer), pem, 0o644);
    (idx.crlNumbers ??= {})[issuer] = number;
    depot.writeIndex(idx);
    return { pem, crl, number, path: depot.crlPath(issuer) };
  });
}
