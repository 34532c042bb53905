/** `pki inspect`: recognises what a file holds (PEM or DER) and describes it; never prints a secret. */
import { createPrivateKey, createPublicKey, KeyObject } from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import { EncryptedPrivateKeyInfo } from "@peculiar/asn1-pkcs8";
import { x509 } from "../x509/peculiar.js";
import { parsePemAll } from "../x509/pem.js";
import {
  certInfo,
  crlInfo,
  csrInfo,
  Hash,
  keyInfo,
  type CertInfo,
  type CrlInfo,
  type CsrInfo,
  type KeyInfo,
} from "../x509/inspect.js";
import { InputError } from "../x509/validate.js";
import { isEncryptedPem, openForeignKey, repairStepPrf } from "./foreign-keys.js";
import { describePbe, readJks, readPkcs12 } from "./read-stores.js";
import { checkEncryptedKeyDer } from "./pbe-limits.js";
import { IterationLimitError } from "./kdf.js";

export interface KeyFileInfo {
  format: string;
  encrypted: boolean;
  encryption?: string;
  key?: KeyInfo;
  note?: string;
}
export interface StoreInfo {
  format: string;
  integrity: string;
  verified?: boolean;
  encryption: string[];
  certificates: Array<CertInfo & { alias?: string }>;
  keys: Array<{ alias?: string; encryption: string; key?: KeyInfo; matches?: string }>;
  unreadable: string[];
}
export type Inspected =
  | { kind: "certificate"; certificate: CertInfo; der: Buffer }
  | { kind: "chain"; certificates: CertInfo[]; ders: Buffer[] }
  | { kind: "csr"; csr: CsrInfo }
  | { kind: "crl"; crl: CrlInfo; der: Buffer }
  | { kind: "key"; key: KeyFileInfo }
  | { kind: "pkcs12" | "keystore"; store: StoreInfo; ders: Buffer[] };

export interface InspectOptions {
  hash?: Hash;
  passphrase?: string;
  password?: string;
}

const KEY_LABELS: Record<string, string> = {
  "PRIVATE KEY": "PKCS#8",
  "ENCRYPTED PRIVATE KEY": "PKCS#8",
  "RSA PRIVATE KEY": "PKCS#1",
  "EC PRIVATE KEY": "SEC1",
  "PUBLIC KEY": "SubjectPublicKeyInfo",
};

/** Whether the bytes look like a PKCS#12 or a keystore, which need a password to read fully. */
export function storeKind(data: Uint8Array): "pkcs12" | "keystore" | undefined {
  const b = Buffer.from(data);
  if (b.length > 32 && (b.readUInt32BE(0) === 0xfeedfeed || b.readUInt32BE(0) === 0xcececece)) return "keystore";
  if (b[0] === 0x30 && /^3082....020103|^3081..020103|^30..020103/.test(b.subarray(0, 8).toString("hex")))
    return "pkcs12";
  return undefined;
}

export async function inspect(data: Uint8Array, o: InspectOptions = {}): Promise<Inspected> {
  const hash = o.hash ?? "sha256";
  const text = Buffer.from(data).toString("latin1");
  if (/-----BEGIN [A-Z0-9 ]+-----/.test(text)) return inspectPem(Buffer.from(data).toString("utf8"), o, hash);
  const kind = storeKind(data);
  if (kind) return inspectStore(kind, Buffer.from(data), o, hash);
  const der = Buffer.from(data) as Buffer<ArrayBuffer>;
  const tries: Array<() => Promise<Inspected> | Inspected> = [
    () => ({ kind: "certificate", certificate: certInfo(new x509.X509Certificate(der), hash), der }),
    async () => ({ kind: "csr", csr: await csrInfo(new x509.Pkcs10CertificateRequest(der), hash) }),
    () => ({ kind: "crl", crl: crlInfo(new x509.X509Crl(der)), der }),
    () => ({ kind: "key", key: derKey(der, o, hash) }),
  ];
  for (const t of tries) {
    try {
      return await t();
    } catch (e) {
      if (e instanceof IterationLimitError) throw e;
      /* not this kind */
    }
  }
  throw new InputError("not a certificate, chain, CSR, CRL, key, PKCS#12 or keystore (PEM or DER)");
}

/**
 * `f()`, with a parser's own complaint ("Unsupported format of 'raw' argument", "error:1E08010C:DECODER routines")
 * turned into one line of pki's naming `what`; pki's own errors (already worded) pass through.
 */
async function worded<T>(what: string, f: () => T | Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof InputError || e instanceof IterationLimitError) throw e;
    throw new InputError(`not a valid ${what}: the PEM block does not hold one (damaged, truncated or not DER)`);
  }
}

async function inspectPem(text: string, o: InspectOptions, hash: Hash): Promise<Inspected> {
  if (/Proc-Type: 4,ENCRYPTED/.test(text)) return { kind: "key", key: pemKey(text, "legacy", o, hash) };
  const blocks = parsePemAll(text);
  const certs = blocks.filter((b) => b.label === "CERTIFICATE" || b.label === "TRUSTED CERTIFICATE");
  if (certs.length) {
    const parsed = await Promise.all(
      certs.map((b, i) => worded(certs.length > 1 ? `certificate (#${i + 1})` : "certificate", () => {
        const c = new x509.X509Certificate(b.der);
        return { c, info: certInfo(c, hash) };
      })),
    );
    if (parsed.length === 1) return { kind: "certificate", certificate: parsed[0].info, der: certs[0].der };
    return { kind: "chain", certificates: parsed.map((p) => p.info), ders: certs.map((b) => b.der) };
  }
  const first = blocks[0];
  if (!first) throw new InputError("no PEM block found");
  if (/CERTIFICATE REQUEST$/.test(first.label)) {
    const csr = async () => csrInfo(new x509.Pkcs10CertificateRequest(first.der), hash);
    return worded("CSR", async () => ({ kind: "csr", csr: await csr() }));
  }
  if (first.label === "X509 CRL")
    return worded("CRL", () => ({ kind: "crl", crl: crlInfo(new x509.X509Crl(first.der)), der: first.der }));
  if (KEY_LABELS[first.label]) {
    const what = first.label === "PUBLIC KEY" ? "public key" : "private key";
    return worded(what, () => ({ kind: "key", key: pemKey(text, first.label, o, hash) }));
  }
  throw new InputError(`a PEM "${first.label}" block: not something pki inspects`);
}

function pemKey(pem: string, label: string, o: InspectOptions, hash: Hash): KeyFileInfo {
  if (label === "PUBLIC KEY")
    return { format: "SubjectPublicKeyInfo (public key)", encrypted: false, key: keyInfo(createPublicKey(pem), hash) };
  const encrypted = isEncryptedPem(pem);
  const format =
    label === "legacy"
      ? `${/BEGIN (\w+) PRIVATE/.exec(pem)?.[1] === "EC" ? "SEC1" : "PKCS#1"}, legacy PEM encryption`
      : KEY_LABELS[label];
  const info: KeyFileInfo = { format, encrypted };
  if (encrypted && label === "ENCRYPTED PRIVATE KEY") {
    const der = parsePemAll(pem)[0].der;
    const repaired = repairStepPrf(der);
    if (repaired)
      info.note = "written by go.step.sm/crypto: PBKDF2 PRF parameters are 00 00 instead of NULL (read anyway)";
    info.encryption = describePbe(AsnConvert.parse(repaired ?? der, EncryptedPrivateKeyInfo).encryptionAlgorithm);
  } else if (encrypted) info.encryption = /DEK-Info: ([\w-]+)/.exec(pem)?.[1];
  if (encrypted && o.passphrase === undefined) {
    info.note = [info.note, "give its passphrase (--passphrase-file) for the key type and fingerprint"]
      .filter(Boolean)
      .join("; ");
    return info;
  }
  info.key = keyInfo(openForeignKey("the key", pem, o.passphrase), hash);
  return info;
}

function derKey(der: Buffer, o: InspectOptions, hash: Hash): KeyFileInfo {
  for (const type of ["pkcs8", "pkcs1", "sec1"] as const) {
    try {
      return {
        format: type === "pkcs8" ? "PKCS#8" : type === "pkcs1" ? "PKCS#1" : "SEC1",
        encrypted: false,
        key: keyInfo(createPrivateKey({ key: der, format: "der", type }), hash),
      };
    } catch {
      /* next */
    }
  }
  try {
    return {
      format: "SubjectPublicKeyInfo (public key)",
      encrypted: false,
      key: keyInfo(createPublicKey({ key: der, format: "der", type: "spki" }), hash),
    };
  } catch {
    /* next */
  }
  const info = AsnConvert.parse(der, EncryptedPrivateKeyInfo);
  const out: KeyFileInfo = { format: "PKCS#8", encrypted: true, encryption: describePbe(info.encryptionAlgorithm) };
  if (o.passphrase !== undefined) checkEncryptedKeyDer(der, "the key");
  if (o.passphrase !== undefined)
    out.key = keyInfo(createPrivateKey({ key: der, format: "der", type: "pkcs8", passphrase: o.passphrase }), hash);
  return out;
}

function inspectStore(kind: "pkcs12" | "keystore", data: Buffer, o: InspectOptions, hash: Hash): Inspected {
  const noun = kind === "keystore" ? "keystore" : "PKCS#12 file";
  let s;
  try {
    s = kind === "keystore" ? readJks(data, o.password) : readPkcs12(data, o.password);
  } catch (e) {
    if (e instanceof IterationLimitError) throw e;
    if (e instanceof InputError) throw new InputError(`not a readable ${noun} (${e.message})`);
    throw new InputError(`not a readable ${noun} (damaged, truncated or of a kind pki does not read)`);
  }
  const certificates = s.certs.map((c, i) => {
    let info;
    try {
      info = certInfo(new x509.X509Certificate(new Uint8Array(c.der)), hash);
    } catch {
      throw new InputError(`not a readable ${noun}: its certificate #${i + 1} does not decode`);
    }
    return { ...info, ...(c.alias !== undefined ? { alias: c.alias } : {}) };
  });
  const keys = s.keys.map((k) => {
    let key: KeyObject | undefined;
    try {
      key = k.pkcs8 ? createPrivateKey({ key: k.pkcs8, format: "der", type: "pkcs8" }) : undefined;
    } catch {
      /* unreadable */
    }
    const info = key ? keyInfo(key, hash) : undefined;
    const match = info && certificates.find((c) => c.publicKey.spkiFingerprint === info.spkiFingerprint);
    return {
      ...(k.alias !== undefined ? { alias: k.alias } : {}),
      encryption: k.encryption,
      ...(info ? { key: info } : {}),
      ...(match ? { matches: match.subject } : {}),
    };
  });
  return {
    kind,
    store: {
      format: s.format,
      integrity: s.integrity,
      verified: s.verified,
      encryption: s.encryption,
      certificates,
      keys,
      unreadable: s.unreadable,
    },
    ders: s.certs.map((c) => c.der),
  };
}
