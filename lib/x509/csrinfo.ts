/**
 * What `pki sign` reads of a PKCS#10 request (RFC 2986) it made itself: the subject (DER and text), the key, the
 * SANs, and whether the self-signature verifies, read with the DER reader and node:crypto instead of
 * @peculiar/x509 (whose ASN.1 stack takes ~50 ms to load). Only the plain forms are read here; anything else
 * (another string type or SAN kind, an unknown signature algorithm, DER this reader refuses) gives undefined,
 * and the caller asks @peculiar/x509, so both readers always agree (test/light-issuance.test.js).
 */
import { children, oidText, readTlv, value, whole, type Tlv } from "./der.js";
import type { Sans } from "./issuance.js";
import { nameText } from "./name-text.js";

export interface CsrView {
  /** the subject as @peculiar/x509's Name.toString() writes it */
  subject: string;
  subjectDer: Uint8Array;
  publicKey: { rawData: ArrayBuffer };
  /** as the request writes them (not yet re-validated) */
  sans: Sans;
  verified: boolean;
}

const OID_EXTENSION_REQUEST = "1.2.840.113549.1.9.14";
const OID_SAN = "2.5.29.17";
/** signature algorithm -> digest for crypto.verify (null: the key type decides, as for Ed25519) */
export const SIGNATURES: Record<string, string | null> = {
  "1.2.840.10045.4.3.2": "sha256", "1.2.840.10045.4.3.3": "sha384", "1.2.840.10045.4.3.4": "sha512",
  "1.2.840.113549.1.1.11": "sha256", "1.2.840.113549.1.1.12": "sha384", "1.2.840.113549.1.1.13": "sha512",
  "1.3.101.112": null,
};

function ipText(b: Buffer): string | undefined {
  if (b.length === 4) return [...b].join(".");
  if (b.length === 16) return Array.from({ length: 8 }, (_, i) => b.readUInt16BE(2 * i).toString(16)).join(":");
  return undefined;
}

/** The SANs of a SubjectAltName extension value, or undefined if it holds any other kind of name. */
function sansText(ext: Buffer): Sans | undefined {
  const out: Sans = { ips: [], domains: [] };
  for (const n of children(ext, readTlv(ext))) {
    const v = value(ext, n);
    if (n.tag === 0x82) out.domains.push(v.toString("latin1"));
    else if (n.tag === 0x87) {
      const ip = ipText(v);
      if (ip === undefined) return undefined;
      out.ips.push(ip);
    } else if (n.tag === 0x86) (out.uris ??= []).push(v.toString("latin1"));
    else if (n.tag === 0x81) (out.emails ??= []).push(v.toString("latin1"));
    else return undefined;
  }
  return out;
}

/** The request's fields, or undefined when this reader does not cover it (the caller then asks @peculiar/x509). */
export function csrView(der: Uint8Array): CsrView | undefined {
  try {
    const top = readTlv(der);
    if (top.tag !== 0x30 || top.end !== der.length) return undefined;
    const [info, alg, sig, ...rest] = children(der, top);
    if (rest.length || info?.tag !== 0x30 || alg?.tag !== 0x30 || sig?.tag !== 0x03) return undefined;
    const [version, subject, spki, attrs, ...more] = children(der, info);
    if (more.length || version?.tag !== 0x02 || subject?.tag !== 0x30 || spki?.tag !== 0x30 || attrs?.tag !== 0xa0)
      return undefined;
    const subjectDer = whole(der, subject);
    const text = nameText(subjectDer);
    const digest = SIGNATURES[oidText(value(der, children(der, alg)[0]))];
    const sigBits = value(der, sig);
    if (text === undefined || digest === undefined || sigBits[0] !== 0) return undefined;
    const sans = requestedSans(der, attrs);
    if (!sans) return undefined;
    const { verify } = process.getBuiltinModule("node:crypto") as typeof import("node:crypto");
    const key = { key: whole(der, spki), format: "der" as const, type: "spki" as const };
    const verified = verify(digest, whole(der, info), key, sigBits.subarray(1));
    const publicKey = { rawData: Uint8Array.from(whole(der, spki)).buffer };
    return { subject: text, subjectDer, publicKey, sans, verified };
  } catch {
    return undefined;
  }
}

/** The SANs asked for in the extensionRequest attribute (none: empty), or undefined for anything unusual. */
function requestedSans(der: Uint8Array, attrs: Tlv): Sans | undefined {
  let sans: Sans = { ips: [], domains: [] };
  let seen = false;
  for (const attr of children(der, attrs)) {
    const [type, values] = children(der, attr);
    if (oidText(value(der, type)) !== OID_EXTENSION_REQUEST) return undefined;
    for (const exts of children(der, values)) {
      for (const ext of children(der, exts)) {
        const parts = children(der, ext);
        if (oidText(value(der, parts[0])) !== OID_SAN) continue;
        const got = sansText(value(der, parts[parts.length - 1]));
        if (!got || seen) return undefined; // a second SAN extension: let @peculiar/x509 decide
        sans = got;
        seen = true;
      }
    }
  }
  return sans;
}

/**
 * The request's fields by this reader, else by @peculiar/x509 (loaded only then); throws @peculiar/x509's error
 * for a request neither reads.
 */
export async function csrViewOf(der: Uint8Array): Promise<CsrView> {
  const light = csrView(der);
  if (light) return light;
  const [{ x509 }, { sansOf }] = await Promise.all([import("./peculiar.js"), import("./cert.js")]);
  const csr = new x509.Pkcs10CertificateRequest(Uint8Array.from(der));
  return {
    subject: csr.subject,
    subjectDer: new Uint8Array(csr.subjectName.toArrayBuffer()),
    publicKey: csr.publicKey,
    sans: sansOf(csr),
    verified: await csr.verify(),
  };
}

/** The same SANs, whatever their order. */
export function sameSans(a: Sans, b: Sans): boolean {
  const key = (s: Sans) => JSON.stringify([s.ips, s.domains, s.uris ?? [], s.emails ?? []].map((x) => [...x].sort()));
  return key(a) === key(b);
}
