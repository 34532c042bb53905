/**
 * PKCS#11 URIs (RFC 7512) naming a CA key in a token: `pkcs11:token=pki-ca;object=root-ca?module-path=/usr/lib/
 * softhsm/libsofthsm2.so&pin-source=file:/etc/pki/pin`. Only the attributes pki acts on are accepted: an attribute
 * pki would silently ignore could make it pick another token or key than the operator meant.
 */
import { InputError, quote } from "../x509/validate.js";

export interface Pkcs11Uri {
  /** CKT token label */
  token?: string;
  /** the token's serial number */
  serial?: string;
  /** the slot's id (tokens move between slots: prefer token or serial) */
  slotId?: number;
  /** CKA_ID, as bytes */
  id?: Uint8Array;
  /** CKA_LABEL */
  object?: string;
  /** the PKCS#11 library (an absolute path) */
  modulePath?: string;
  /** a file holding the PIN (an absolute path) */
  pinSource?: string;
  /** the PIN itself: accepted with a warning, never stored */
  pinValue?: string;
}

const PATH_ATTRS = { token: "token", serial: "serial", "slot-id": "slotId", id: "id", object: "object" } as const;
const QUERY_ATTRS = { "module-path": "modulePath", "pin-source": "pinSource", "pin-value": "pinValue" } as const;
/** RFC 7512 attributes pki does not act on, with what to use instead. */
const NOT_HERE: Record<string, string> = {
  "module-name": "name the library with module-path=/path/to/module.so",
  type: "pki finds the private key and its public half itself",
};

// RFC 7512's pk11-pchar and pk11-qchar: unreserved, the sub-delimiters each part allows, and %XX.
const UNRESERVED = "A-Za-z0-9\\-._~";
const RES = ":\\[\\]@!$'()*+,=";
const PATH_CHAR = new RegExp(`^(?:[${UNRESERVED}${RES}&]|%[0-9A-Fa-f]{2})*$`);
const QUERY_CHAR = new RegExp(`^(?:[${UNRESERVED}${RES}/?|]|%[0-9A-Fa-f]{2})*$`);

export const isPkcs11Uri = (s: string): boolean => /^pkcs11:/i.test(s);

const secret = (name: string) => name === "pin-value";
const shown = (name: string, raw: string) => (secret(name) ? "" : ` ${quote(raw)}`);

function decode(name: string, raw: string, query: boolean): Buffer {
  if (!raw) throw new InputError(`the PKCS#11 URI's ${name} is empty`);
  if (!(query ? QUERY_CHAR : PATH_CHAR).test(raw)) {
    const bad = /%(?![0-9A-Fa-f]{2})/.test(raw)
      ? "a '%' not followed by two hex digits"
      : "a character to percent-encode";
    throw new InputError(`the PKCS#11 URI's ${name}${shown(name, raw)} has ${bad} (RFC 7512)`);
  }
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === "%") {
      bytes.push(parseInt(raw.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(raw.charCodeAt(i));
  }
  return Buffer.from(bytes);
}

function text(name: string, raw: string, bytes: Buffer): string {
  const s = bytes.toString("utf8");
  if (!Buffer.from(s, "utf8").equals(bytes) || /[\0-\x1f\x7f]/.test(s))
    throw new InputError(`the PKCS#11 URI's ${name}${shown(name, raw)} is not printable UTF-8 text`);
  return s;
}

function absolutePath(name: string, raw: string, s: string): string {
  if (!s.startsWith("/")) throw new InputError(`the PKCS#11 URI's ${name} ${quote(raw)} must be an absolute path`);
  return s;
}

/** pin-source: a file: URI (file:/p, file:///p) or an absolute path. */
function pinFile(raw: string, s: string): string {
  const m = /^file:(?:\/\/(?:localhost)?(?=\/))?(.*)$/i.exec(s);
  if (!m && /^[A-Za-z][A-Za-z0-9+.-]*:|^\|/.test(s))
    throw new InputError(`the PKCS#11 URI's pin-source ${quote(raw)} must be a file (file:/path/to/pin)`);
  return absolutePath("pin-source", raw, m ? m[1] : s);
}

/** Parses a pkcs11: URI; anything RFC 7512 forbids, or that pki does not act on, is one InputError. */
export function parsePkcs11Uri(uri: string): Pkcs11Uri {
  if (typeof uri !== "string" || !isPkcs11Uri(uri))
    throw new InputError(`${quote(uri)} is not a PKCS#11 URI (pkcs11:token=...;object=...)`);
  const body = uri.slice("pkcs11:".length);
  const q = body.indexOf("?");
  const path = q < 0 ? body : body.slice(0, q);
  const query = q < 0 ? undefined : body.slice(q + 1);
  const out: Pkcs11Uri = {};
  const seen = new Set<string>();
  const parts = [
    ...(path ? path.split(";").map((p) => [p, false] as const) : []),
    ...(query !== undefined ? query.split("&").map((p) => [p, true] as const) : []),
  ];
  for (const [part, inQuery] of parts) {
    const eq = part.indexOf("=");
    if (eq < 1) {
      const what = part ? `${quote(part.slice(0, 20))}, not NAME=VALUE` : "an empty attribute";
      throw new InputError(`the PKCS#11 URI has ${what}`);
    }
    const name = part.slice(0, eq).toLowerCase();
    const raw = part.slice(eq + 1);
    const table: Record<string, string> = inQuery ? QUERY_ATTRS : PATH_ATTRS;
    const key = table[name];
    if (!key) {
      const elsewhere = ((inQuery ? PATH_ATTRS : QUERY_ATTRS) as Record<string, string>)[name];
      if (elsewhere) throw new InputError(`the PKCS#11 URI's ${name} belongs ${inQuery ? "before" : "after"} the '?'`);
      const hint = NOT_HERE[name] ? `: ${NOT_HERE[name]}` : "";
      throw new InputError(
        `the PKCS#11 URI's attribute ${quote(part.slice(0, eq))} is not one pki uses${hint} ` +
          "(token, serial, slot-id, id, object; module-path, pin-source, pin-value)",
      );
    }
    if (seen.has(name)) throw new InputError(`the PKCS#11 URI gives ${name} twice`);
    seen.add(name);
    const bytes = decode(name, raw, inQuery);
    switch (name) {
      case "id": out.id = new Uint8Array(bytes); break;
      case "slot-id": {
        const s = bytes.toString("latin1");
        if (!/^\d{1,15}$/.test(s)) throw new InputError(`the PKCS#11 URI's slot-id ${quote(raw)} is not a number`);
        out.slotId = Number(s);
        break;
      }
      case "module-path": out.modulePath = absolutePath(name, raw, text(name, raw, bytes)); break;
      case "pin-source": out.pinSource = pinFile(raw, text(name, raw, bytes)); break;
      case "pin-value": out.pinValue = text(name, raw, bytes); break;
      default: out[key as "token" | "serial" | "object"] = text(name, raw, bytes);
    }
  }
  if (out.pinSource !== undefined && out.pinValue !== undefined)
    throw new InputError("the PKCS#11 URI gives both pin-source and pin-value: give one");
  return out;
}

const PATH_SAFE = new RegExp(`[${UNRESERVED}:\\[\\]@!$'()*+,=&]`);
const QUERY_SAFE = new RegExp(`[${UNRESERVED}:\\[\\]@!$'()*+,=/?|]`);

function encode(value: Uint8Array | string, safe: RegExp | null): string {
  let s = "";
  for (const b of typeof value === "string" ? Buffer.from(value, "utf8") : value) {
    const c = String.fromCharCode(b);
    s += safe && b < 0x80 && safe.test(c) ? c : `%${b.toString(16).padStart(2, "0")}`;
  }
  return s;
}

/** The URI of `u`, attributes in a fixed order, every byte of id percent-encoded (as p11tool prints it). */
export function formatPkcs11Uri(u: Pkcs11Uri): string {
  const path: string[] = [];
  if (u.token !== undefined) path.push(`token=${encode(u.token, PATH_SAFE)}`);
  if (u.serial !== undefined) path.push(`serial=${encode(u.serial, PATH_SAFE)}`);
  if (u.slotId !== undefined) path.push(`slot-id=${u.slotId}`);
  if (u.id !== undefined) path.push(`id=${encode(u.id, null)}`);
  if (u.object !== undefined) path.push(`object=${encode(u.object, PATH_SAFE)}`);
  const query: string[] = [];
  if (u.modulePath !== undefined) query.push(`module-path=${encode(u.modulePath, QUERY_SAFE)}`);
  if (u.pinSource !== undefined) query.push(`pin-source=${encode(`file:${u.pinSource}`, QUERY_SAFE)}`);
  if (u.pinValue !== undefined) query.push(`pin-value=${encode(u.pinValue, QUERY_SAFE)}`);
  return `pkcs11:${path.join(";")}${query.length ? `?${query.join("&")}` : ""}`;
}

/** `u` without its PIN: what the depot records and what pki prints (pin-source names a file, not the PIN). */
export function redacted(u: Pkcs11Uri): Pkcs11Uri {
  const { pinValue: _, ...rest } = u;
  return rest;
}

/** The URI text without its PIN. */
export const redactedUri = (u: Pkcs11Uri): string => formatPkcs11Uri(redacted(u));

/** A URI that names one key in one token through one library: what a CA key needs. */
export function checkKeyUri(u: Pkcs11Uri): Pkcs11Uri & { modulePath: string } {
  if (!u.modulePath)
    throw new InputError("the PKCS#11 URI names no library: add ?module-path=/path/to/pkcs11-module.so");
  if (u.token === undefined && u.serial === undefined && u.slotId === undefined)
    throw new InputError("the PKCS#11 URI names no token: add token=LABEL (or serial=, slot-id=)");
  if (u.id === undefined && u.object === undefined)
    throw new InputError("the PKCS#11 URI names no key: add object=LABEL and/or id=%XX...");
  return u as Pkcs11Uri & { modulePath: string };
}
