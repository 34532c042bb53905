/**
 * `pki rm NAME` on the record store, with the layout-1 command's rules (store/remove.ts): only an entry that can
 * no longer be used (unsigned, expired or revoked), never the root, never a CA that issued anything still in the
 * depot. Its certificates are recorded as removed (their serials stay reserved, their revocations stay on the
 * issuer's CRL); its certificate, key and CSR stay in the depot under the serial they went with. One write.
 */
import { checkName, InputError } from "../../lib/x509/validate.js";
import type { EntryRecord, RemovedCert, WriteTx } from "../records/schema.js";
import { ROOT } from "../records/schema.js";
import { stateOf } from "./read.js";
import type { Records } from "./session.js";

export interface Removed { name: string; serial?: string; kept: boolean }

/** Entries whose current or a past certificate `ca` signed (at most a few, for the message). */
async function issuedBy(tx: WriteTx, ca: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of tx.list({ issuer: ca })) if (e.name !== ca && names.push(e.name) >= 5) return names;
  // Past certificates have no index by issuer: only a CA's removal (rare) pays for this scan.
  for await (const e of tx.list())
    if (e.name !== ca && !names.includes(e.name) && (await tx.history(e.name)).some((h) => h.issuer === ca))
      if (names.push(e.name) >= 5) break;
  return names;
}

export async function remove(s: Records, name: string, now = new Date()): Promise<Removed> {
  s.check();
  checkName(name);
  if (name === ROOT) throw new InputError("the root CA cannot be removed: retire the depot instead");
  return s.store.write(async (tx) => {
    const e = await tx.entry(name);
    if (!e) throw new InputError(`unknown name "${name}": see 'pki list'`);
    const state = stateOf(e, now);
    if (state === "valid" || state === "not-yet-valid")
      throw new InputError(
        `"${name}" is ${state} until ${e.notAfter}: revoke it first ('pki revoke ${name}') or wait until it expires`,
      );
    if (e.kind === "ca") {
      const dependants = await issuedBy(tx, name);
      if (dependants.length)
        throw new InputError(`"${name}" issued ${dependants.map((d) => `"${d}"`).join(", ")}: remove those first`);
    }
    for (const r of await retired(tx, e)) await tx.addRemoved(r);
    if (e.serial) for (const kind of ["cert", "key", "csr"] as const) await tx.retireBlob(name, kind, e.serial);
    await tx.deleteEntry(name);
    return { name, serial: e.serial, kept: Boolean(e.serial) };
  });
}

/** What must outlive the entry: every certificate it had, so the CRL keeps listing the revoked ones. */
async function retired(tx: WriteTx, e: EntryRecord): Promise<RemovedCert[]> {
  const issuer = e.issuer ?? ROOT;
  const current: RemovedCert[] = e.serial
    ? [{ name: e.name, serial: e.serial, issuer, notBefore: e.notBefore!, notAfter: e.notAfter!, revoked: e.revoked }]
    : [];
  return [...current, ...(await tx.history(e.name)).map((h) => ({ name: e.name, ...h }))];
}
