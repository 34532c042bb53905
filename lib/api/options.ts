/**
 * The API's options: key names, instants (When), validity and subject from CertOptions, each checked as the CLI
 * checks its flags. api.ts re-exports them.
 */
import { checkKeySpec, KeyPair, KeySpec, DEFAULT_KEY } from "../x509/keys.js";
import { BACKDATE_MS, type Subject, type Usage } from "../x509/issuance.js";
import { checkSubjectValue, InputError } from "../x509/validate.js";
import { parseExpiry, parseDurationMs } from "../x509/duration.js";

/** A key: "ecdsa" (P-256), "ecdsa-p384", "rsa" (2048), "rsa-3072", "rsa-4096", "ed25519", or a KeySpec. */
export type KeyOption = string | KeySpec;
/** An instant: a Date, "now", an ISO date, a duration from now ("90d", "1 year"), or a signed offset ("-2d", "+1h"). */
export type When = Date | string;

export interface CertOptions {
  name: string;
  commonName?: string;
  organization?: string;
  key?: KeyOption;
  /** notAfter as a duration from now (default: 10 years for a CA, 1 year for a leaf) */
  expires?: string;
  notBefore?: When;
  notAfter?: When;
  /** a pre-generated key pair (its spec wins over `key`) */
  keys?: KeyPair;
}
export interface CAOptions extends Partial<CertOptions> {
  pathLength?: number;
  /** a critical nameConstraints extension: DNS subtrees (a domain covers its subdomains) and IP ranges in CIDR */
  nameConstraints?: {
    permitDomains?: string[];
    excludeDomains?: string[];
    permitIps?: string[];
    excludeIps?: string[];
  };
}
export interface LeafOptions extends CertOptions {
  ip?: string[];
  domain?: string[];
  uri?: string[];
  email?: string[];
  usage?: Usage;
}
export interface EncryptionOptions { salt?: Uint8Array; iterations?: number }

export const KEY_NAMES: Record<string, KeySpec> = {
  ecdsa: DEFAULT_KEY,
  ec: DEFAULT_KEY,
  "ecdsa-p256": DEFAULT_KEY,
  "ecdsa-p384": { type: "ecdsa", curve: "P-384" },
  rsa: { type: "rsa", bits: 2048 },
  "rsa-2048": { type: "rsa", bits: 2048 },
  "rsa-3072": { type: "rsa", bits: 3072 },
  "rsa-4096": { type: "rsa", bits: 4096 },
  ed25519: { type: "ed25519" },
};

/** A KeySpec from a key name or object; throws InputError naming the accepted forms. */
export function parseKeyOption(k: KeyOption | undefined): KeySpec {
  if (k === undefined) return DEFAULT_KEY;
  if (typeof k === "string") {
    const spec = KEY_NAMES[k.toLowerCase()];
    if (!spec) throw new InputError(`unknown key type "${k}": use ${Object.keys(KEY_NAMES).join(", ")}`);
    return spec;
  }
  if (typeof k !== "object" || k === null)
    throw new InputError(`invalid key ${JSON.stringify(k)}: a name like "rsa-2048" or {type, curve, bits}`);
  return checkKeySpec(k.type, k.curve, k.bits);
}

/** The instant `w` names (see When). */
export function parseWhen(w: When, now = new Date()): Date {
  if (w instanceof Date) {
    if (Number.isNaN(w.getTime())) throw new InputError("invalid date");
    return w;
  }
  if (typeof w !== "string")
    throw new InputError(
      `invalid time ${JSON.stringify(w)}: a date, "now", a duration like "90d" or an offset like "-2d"`,
    );
  const s = w.trim();
  if (s === "now") return now;
  try {
    if (s.startsWith("-")) return new Date(now.getTime() - parseDurationMs(s.slice(1)));
    return parseExpiry(s.replace(/^\+/, ""), now);
  } catch (e) {
    throw new InputError((e as Error).message);
  }
}

/** notBefore/notAfter from the options; notAfter must follow notBefore. */
export function validityOf(
  o: Partial<CertOptions>,
  defaultExpires: string,
  now = new Date(),
): { notBefore: Date; notAfter: Date } {
  const notBefore = o.notBefore === undefined ? new Date(now.getTime() - BACKDATE_MS) : parseWhen(o.notBefore, now);
  if (o.notAfter !== undefined && o.expires !== undefined)
    throw new InputError("give either expires or notAfter, not both");
  const notAfter = o.notAfter !== undefined ? parseWhen(o.notAfter, now) : parseWhen(o.expires ?? defaultExpires, now);
  if (notAfter.getTime() <= notBefore.getTime())
    throw new InputError(`notAfter ${notAfter.toISOString()} is not after notBefore ${notBefore.toISOString()}`);
  // X.509 times have whole seconds: truncate now, so comparisons with the issuer's times are exact.
  const sec = (d: Date) => new Date(Math.floor(d.getTime() / 1000) * 1000);
  return { notBefore: sec(notBefore), notAfter: sec(notAfter) };
}

export function subjectOf(o: Partial<CertOptions>, name: string): Subject {
  const s: Subject = { commonName: checkSubjectValue("common name", o.commonName ?? name) };
  if (o.organization !== undefined) s.organization = checkSubjectValue("organization", o.organization);
  return s;
}
