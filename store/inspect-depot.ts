/** What the depot knows of an inspected item: which of its CAs issued a certificate or CRL, which entry a key is. */
import { x509 } from "../lib/x509/peculiar.js";
import { fingerprint, type Hash } from "../lib/x509/inspect.js";
import { Depot, ROOT, stateOf } from "./depot.js";

export function depotCas(depot: Depot): Array<{ name: string; cert: x509.X509Certificate }> {
  return depot
    .list()
    .filter((e) => e.kind === "ca" && e.status !== "unsigned")
    .flatMap((e) => {
      try {
        return [{ name: e.name, cert: depot.readCert(e.name) }];
      } catch {
        return [];
      }
    });
}

/** One line per certificate: is it a depot CA, issued by one (and is that CA's chain valid), revoked in the index? */
export async function certVerdicts(depot: Depot, ders: Uint8Array[], now = new Date()): Promise<string[]> {
  const cas = depotCas(depot);
  const idx = depot.readIndex();
  return Promise.all(
    ders.map(async (der) => {
      const c = new x509.X509Certificate(new Uint8Array(der));
      const fp = fingerprint(c.rawData);
      const self = cas.find((ca) => fingerprint(ca.cert.rawData) === fp);
      if (self) return `the depot's CA "${self.name}"${self.name === ROOT ? " (its root)" : ""}`;
      for (const ca of cas) {
        if (ca.cert.subject !== c.issuer || !(await c.verify({ publicKey: ca.cert, signatureOnly: true }))) continue;
        let chain = "";
        try {
          chain = (await depot.verifiedChain(ca.name, now)).length > 1 ? ` (chain to the root verifies)` : "";
        } catch (e) {
          return `signed by the depot's CA "${ca.name}", but ${(e as Error).message}`;
        }
        const entry = Object.values(idx.entries).find(
          (e) => e.serial === c.serialNumber.toLowerCase() && (e.issuer ?? ROOT) === ca.name,
        );
        const revoked =
          entry?.status === "revoked" ||
          (idx.removed ?? []).some((r) => r.serial === c.serialNumber.toLowerCase() && r.revoked);
        const dates = c.notAfter <= now ? "; expired" : c.notBefore > now ? "; not yet valid" : "";
        return `verifies: issued by the depot's CA "${ca.name}"${chain}${entry ? `; entry "${entry.name}" (${stateOf(entry, now)})` : ""}${revoked && !entry ? "; REVOKED" : ""}${dates}`;
      }
      return "does not verify against the depot's CAs";
    }),
  );
}

export async function crlVerdict(depot: Depot, der: Uint8Array): Promise<string> {
  const crl = new x509.X509Crl(new Uint8Array(der));
  for (const ca of depotCas(depot))
    if (ca.cert.subject === crl.issuer && (await crl.verify({ publicKey: ca.cert.publicKey })))
      return `signed by the depot's CA "${ca.name}"`;
  return "not signed by any of the depot's CAs";
}

/** The depot entry whose certificate carries this public key (by SubjectPublicKeyInfo fingerprint). */
export function keyVerdict(depot: Depot, spkiFingerprint: string, hash: Hash = "sha256"): string | undefined {
  for (const e of depot.list()) {
    if (e.status === "unsigned") continue;
    try {
      if (fingerprint(depot.readCert(e.name).publicKey.rawData, hash) === spkiFingerprint)
        return `the key of the depot's entry "${e.name}"`;
    } catch {
      /* unreadable: skip */
    }
  }
  return undefined;
}
