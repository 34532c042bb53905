/** What `pki export` puts in the tar: member names, modes and contents (no depot knowledge). */
import { createPrivateKey } from "node:crypto";
import { toPem, parsePemAll } from "../x509/pem.js";
import { InputError } from "../x509/validate.js";
import type { TarMember } from "./tar.js";

export const MODE_PUBLIC = 0o644;
export const MODE_SECRET = 0o600;

export interface ExportMaterial {
  name: string;            // file stem: "ca" or the cert's name
  certPem: string;
  encryptedKeyPem?: string; // as stored in the depot; none for an external key (held elsewhere)
  keyDer?: Uint8Array;     // the decrypted PKCS#8, when an option needs it
  chainPems?: string[];    // issuers, nearest first, root last (empty for the root itself)
  crl?: { name: string; pem: string }; // the CRL of NAME (a CA) or of its issuer, for --crl
}

export type KeyFormat = "pkcs8" | "pkcs1" | "sec1";

export interface ExportOptions {
  insecure?: boolean;
  keyFormat?: KeyFormat; // of NAME.key.insecure: "traditional" PEM for old software
  crl?: boolean;                                                      // ISSUER.crl: ca.crl, or an intermediate's
  bundle?: boolean;                                                   // ca.pem (the root) and NAME.chain.pem
  p12?: { password: string; legacy?: boolean };                       // NAME.p12: key, cert, CA chain
  jks?: { password: string; alias?: string; type?: "jks" | "pkcs12" }; // NAME.jks, or NAME.ks as PKCS#12
}

export type KeystoreMembers = (m: ExportMaterial, o: ExportOptions, chainDer: Uint8Array[]) => TarMember[];

/** Which options need the key decrypted (and so a passphrase). */
export function needsKey(o: ExportOptions): boolean {
  return Boolean(o.insecure || o.p12 || o.jks);
}

/**
 * The tar members, as etcd-ca names them: NAME.crt and NAME.key, or NAME.key.insecure; then as
 * asked: ca.pem and NAME.chain.pem (PEM, 0644), NAME.p12 and NAME.jks / NAME.ks (0600).
 */
/**
 * `keystores` (keystores.ts's keystoreMembers) makes NAME.p12 and the Java keystore; it is passed in so that an
 * export without them never loads their ASN.1 stack.
 */
export function exportMembers(m: ExportMaterial, o: ExportOptions, keystores?: KeystoreMembers): TarMember[] {
  const out: TarMember[] = [{ name: `${m.name}.crt`, data: m.certPem, mode: MODE_PUBLIC }];
  if (o.insecure) {
    if (!m.keyDer) throw new Error("internal: the insecure export needs the decrypted key");
    out.push({
      name: `${m.name}.key.insecure`,
      data: plainKeyPem(m.keyDer, o.keyFormat ?? "pkcs8"),
      mode: MODE_SECRET,
    });
  } else if (m.encryptedKeyPem !== undefined) {
    out.push({ name: `${m.name}.key`, data: m.encryptedKeyPem, mode: MODE_SECRET });
  }
  if (o.crl) {
    if (!m.crl) throw new Error("internal: the CRL export needs the CRL");
    out.push({ name: `${m.crl.name}.crl`, data: m.crl.pem, mode: MODE_PUBLIC });
  }
  out.push(...clientMembers(m, o, keystores));
  return out;
}

/** ca.pem and NAME.chain.pem (with --bundle, and always for the root itself), NAME.p12, the Java keystore. */
function clientMembers(m: ExportMaterial, o: ExportOptions, keystores?: KeystoreMembers): TarMember[] {
  const out: TarMember[] = [];
  const chainDer = [m.certPem, ...(m.chainPems ?? [])] // leaf first, root last
    .flatMap((pem) => parsePemAll(pem).filter((b) => b.label === "CERTIFICATE").map((b) => b.der));
  if (o.bundle || m.chainPems?.length === 0) {
    out.push({ name: "ca.pem", data: toPem("CERTIFICATE", chainDer[chainDer.length - 1]), mode: MODE_PUBLIC });
    if (chainDer.length > 1)
      out.push({
        name: `${m.name}.chain.pem`,
        data: chainDer.map((d) => toPem("CERTIFICATE", d)).join(""),
        mode: MODE_PUBLIC,
      });
  }
  if (!o.p12 && !o.jks) return out;
  if (!keystores) throw new Error("internal: PKCS#12 and keystore exports need keystoreMembers (keystores.ts)");
  return [...out, ...keystores(m, o, chainDer)];
}

/**
 * An unencrypted key as PEM: PKCS#8 ("PRIVATE KEY"), or the traditional forms some software still insists on:
 * PKCS#1 ("RSA PRIVATE KEY", RSA only) and SEC1 ("EC PRIVATE KEY", ECDSA only). Ed25519 has PKCS#8 alone.
 */
export function plainKeyPem(pkcs8Der: Uint8Array, format: KeyFormat): string {
  if (format === "pkcs8") return toPem("PRIVATE KEY", pkcs8Der);
  const key = createPrivateKey({ key: Buffer.from(pkcs8Der), format: "der", type: "pkcs8" });
  const type = key.asymmetricKeyType;
  if ((format === "pkcs1") !== (type === "rsa") || (format === "sec1") !== (type === "ec")) {
    throw new InputError(
      `--key-format ${format} needs ${format === "pkcs1" ? "an RSA" : "an ECDSA"} key, not ${type === "ec" ? "ECDSA" : type === "rsa" ? "RSA" : "Ed25519"} (use pkcs8)`,
    );
  }
  return key.export({ type: format, format: "pem" }) as string;
}
