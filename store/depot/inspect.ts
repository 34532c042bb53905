/**
 * What the depot knows of an item `pki inspect` reads, on the record store: which of its CAs is or issued a
 * certificate (and whether that CA's chain verifies, which entry it is, whether it is revoked), which CA signed a
 * CRL, which entry a key belongs to. One read; no passphrase.
 */
import { fingerprint, type Hash } from "../../lib/x509/inspect.js";
import { x509 } from "../../lib/x509/peculiar.js";
import { validityState } from "../../lib/x509/validity.js";
import type { EntryRecord, ReadTx, RecordStore } from "../records/schema.js";
import { verifiedChain } from "./export.js";
import { ROOT } from "./session.js";

interface Known { entries: EntryRecord[]; certs: Map<string, x509.X509Certificate>; removedRevoked: Set<string> }

async function known(store: RecordStore): Promise<Known> {
  return store.read(async (tx: ReadTx) => {
    const entries: EntryRecord[] = [];
    const certs = new Map<string, x509.X509Certificate>();
    for await (const e of tx.list()) {
      if (e.status === "unsigned") continue;
      entries.push(e);
      const der = await tx.blob({ name: e.name, kind: "cert" });
      try {
        if (der) certs.set(e.name, new x509.X509Certificate(new Uint8Array(der)));
      } catch {
        /* unreadable: it relates to nothing (pki doctor names it) */
      }
    }
    const removedRevoked = new Set<string>();
    for await (const r of tx.removed()) if (r.revoked) removedRevoked.add(r.serial);
    return { entries, certs, removedRevoked };
  });
}

const stateOf = (e: EntryRecord, now: Date) =>
  validityState(
    e.notBefore ? new Date(e.notBefore) : undefined, e.notAfter ? new Date(e.notAfter) : undefined,
    e.status === "revoked", now,
  );

/** One line per certificate: is it a depot CA, issued by one (and is that CA's chain valid), revoked? */
export async function certVerdicts(store: RecordStore, ders: Uint8Array[], now = new Date()): Promise<string[]> {
  const k = await known(store);
  const cas = k.entries.filter((e) => e.kind === "ca" && k.certs.has(e.name)).map((e) => e.name);
  return Promise.all(
    ders.map(async (der) => {
      const c = new x509.X509Certificate(new Uint8Array(der));
      const fp = fingerprint(c.rawData);
      const self = cas.find((n) => fingerprint(k.certs.get(n)!.rawData) === fp);
      if (self) return `the depot's CA "${self}"${self === ROOT ? " (its root)" : ""}`;
      for (const name of cas) {
        const ca = k.certs.get(name)!;
        if (ca.subject !== c.issuer || !(await c.verify({ publicKey: ca, signatureOnly: true }))) continue;
        let chain = "";
        try {
          chain = (await verifiedChain(store, name, now)).length > 1 ? ` (chain to the root verifies)` : "";
        } catch (e) {
          return `signed by the depot's CA "${name}", but ${(e as Error).message}`;
        }
        const serial = c.serialNumber.toLowerCase();
        const entry = k.entries.find((e) => e.serial === serial && (e.issuer ?? ROOT) === name);
        const revoked = entry?.status === "revoked" || k.removedRevoked.has(serial);
        const dates = c.notAfter <= now ? "; expired" : c.notBefore > now ? "; not yet valid" : "";
        const which = entry ? `; entry "${entry.name}" (${stateOf(entry, now)})` : "";
        const gone = revoked && !entry ? "; REVOKED" : "";
        return `verifies: issued by the depot's CA "${name}"${chain}${which}${gone}${dates}`;
      }
      return "does not verify against the depot's CAs";
    }),
  );
}

export async function crlVerdict(store: RecordStore, der: Uint8Array): Promise<string> {
  const crl = new x509.X509Crl(new Uint8Array(der));
  const k = await known(store);
  for (const e of k.entries) {
    const ca = k.certs.get(e.name);
    if (e.kind === "ca" && ca && ca.subject === crl.issuer && (await crl.verify({ publicKey: ca.publicKey })))
      return `signed by the depot's CA "${e.name}"`;
  }
  return "not signed by any of the depot's CAs";
}

/** The depot entry whose certificate carries this public key (by SubjectPublicKeyInfo fingerprint). */
export async function keyVerdict(store: RecordStore, spki: string, hash: Hash = "sha256"): Promise<string | undefined> {
  const k = await known(store);
  for (const [name, cert] of k.certs)
    if (fingerprint(cert.publicKey.rawData, hash) === spki) return `the key of the depot's entry "${name}"`;
  return undefined;
}
