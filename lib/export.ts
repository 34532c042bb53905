/** What `pki export` puts in the tar: member names, modes and contents (no depot knowledge). */
import { toPem } from "./pem.js";
import type { TarMember } from "./tar.js";

export const MODE_PUBLIC = 0o644;
export const MODE_SECRET = 0o600;

export interface ExportMaterial {
  name: string;            // file stem: "ca" or the cert's name
  certPem: string;
  encryptedKeyPem: string; // as stored in the depot
  keyDer?: Uint8Array;     // the decrypted PKCS#8, when an option needs it
  chainPems?: string[];    // issuers, nearest first, root last (empty for the root itself)
  crl?: { name: string; pem: string }; // the CRL of NAME (a CA) or of its issuer, for --crl
}

export interface ExportOptions {
  insecure?: boolean;
  crl?: boolean;                                                      // ISSUER.crl: ca.crl, or an intermediate's
}

/** Which options need the key decrypted (and so a passphrase). */
export function needsKey(o: ExportOptions): boolean {
  return Boolean(o.insecure);
}

/** The tar members, as etcd-ca names them: NAME.crt and NAME.key, or NAME.key.insecure. */
export function exportMembers(m: ExportMaterial, o: ExportOptions): TarMember[] {
  const out: TarMember[] = [{ name: `${m.name}.crt`, data: m.certPem, mode: MODE_PUBLIC }];
  if (o.insecure) {
    if (!m.keyDer) throw new Error("internal: the insecure export needs the decrypted key");
    out.push({ name: `${m.name}.key.insecure`, data: toPem("PRIVATE KEY", m.keyDer), mode: MODE_SECRET });
  } else {
    out.push({ name: `${m.name}.key`, data: m.encryptedKeyPem, mode: MODE_SECRET });
  }
  if (o.crl) {
    if (!m.crl) throw new Error("internal: the CRL export needs the CRL");
    out.push({ name: `${m.crl.name}.crl`, data: m.crl.pem, mode: MODE_PUBLIC });
  }
  return out;
}
