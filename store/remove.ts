/**
 * `pki rm NAME`: retires an entry that can no longer be used (unsigned, expired or revoked). Its files move to
 * history/; its serials stay in the index's list of issued serials (never reused), and its revocations stay on
 * the issuer's CRL (recorded under `removed`). A CA that issued anything still in the depot stays.
 */
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { InputError } from "../lib/x509/validate.js";
import { Depot, Entry, ROOT, stateOf } from "./depot.js";
import { readText, writeAtomic } from "./fsutil.js";

export interface Removed {
  name: string;
  files: string[];
  serial?: string;
}

export async function removeEntry(depot: Depot, name: string, now = new Date()): Promise<Removed> {
  if (name === ROOT) throw new InputError("the root CA cannot be removed: retire the depot instead");
  depot.entry(name);
  return depot.withLock(async () => {
    const idx = depot.readIndex();
    const e = idx.entries[name];
    if (!e) throw new InputError(`unknown name "${name}": see 'pki list'`);
    const state = stateOf(e, now);
    if (state === "valid" || state === "not-yet-valid") {
      throw new InputError(
        `"${name}" is ${state} until ${e.notAfter}: revoke it first ('pki revoke ${name}') or wait until it expires`,
      );
    }
    const dependants = Object.values(idx.entries).filter(
      (o) => o.name !== name && (o.issuer === name || o.history?.some((h) => h.issuer === name)),
    );
    if (dependants.length)
      throw new InputError(`"${name}" issued ${dependants.map((d) => `"${d.name}"`).join(", ")}: remove those first`);
    const stem = e.serial ?? `unsigned-${now.toISOString().replace(/[-:.]/g, "")}`;
    const files = [depot.certPath(name), depot.keyPath(name), depot.csrPath(name), depot.crlPath(name)];
    const moved: string[] = [];
    mkdirSync(depot.path("history"), { recursive: true, mode: 0o700 });
    // Copy first, then the index, then delete: a crash leaves either the entry or copies 'pki doctor' explains.
    for (const p of files) {
      if (!existsSync(p)) continue;
      const ext = p.slice(p.lastIndexOf(".") + 1);
      const to = depot.path("history", `${name}.${stem}.${ext}`);
      writeAtomic(to, readText(p), ext === "key" ? 0o600 : 0o644);
      moved.push(to.slice(depot.dir.length + 1));
    }
    (idx.removed ??= []).push(...retiredCerts(e));
    delete idx.entries[name];
    if (idx.crlNumbers) delete idx.crlNumbers[name];
    depot.writeIndex(idx);
    for (const p of files) rmSync(p, { force: true });
    return { name, files: moved, serial: e.serial };
  });
}

/** What must outlive the entry: every certificate it had, so the CRL keeps listing the revoked ones. */
function retiredCerts(e: Entry) {
  const issuer = e.issuer ?? ROOT;
  const current = e.serial
    ? [{ name: e.name, serial: e.serial, issuer, notBefore: e.notBefore!, notAfter: e.notAfter!, revoked: e.revoked }]
    : [];
  return [...current, ...(e.history ?? []).map((h) => ({ name: e.name, ...h }))];
}
