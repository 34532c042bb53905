/** Validation of hostile input: names, IP addresses, DNS names, subject fields. */
import { domainToASCII } from "node:url";
import { decodePunycode } from "./punycode.js";

export class InputError extends Error {}

/** Hostile input echoed in an error: quoted, non-printable-ASCII escaped, at most 80 characters. */
export const quote = (v: unknown) =>
  JSON.stringify(String(v).slice(0, 76)).replace(
    /[^\x20-\x7e]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );

const NAME_RE = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/;
export const NAME_RULE = "names are 1-64 characters of A-Z a-z 0-9 . _ - and must not start with '.' or contain '..'";

/** A depot entry name; refuses path separators, a leading '.', whitespace, control characters. */
export function checkName(name: unknown): string {
  if (typeof name !== "string" || !NAME_RE.test(name) || name.includes("..")) {
    throw new InputError(`invalid name ${quote(name)}: ${NAME_RULE}`);
  }
  return name;
}

/**
 * Canonical text of an IPv4/IPv6 address; strict (no '1.2.3', no '::g', no '256.0.0.1', no zone).
 * IPv6 comes back in RFC 5952 form without a dotted quad ("::ffff:1.2.3.4" → "::ffff:102:304"):
 * @peculiar/x509 mis-encodes the dotted form.
 */
export function checkIp(ip: string): string {
  const s = String(ip).trim();
  if (isIPv4Text(s)) return s;
  if (isIPv6Text(s)) return new URL(`http://[${s}]`).hostname.slice(1, -1);
  throw new InputError(`invalid IP address ${quote(ip)}: expected IPv4 like 127.0.0.1 or IPv6 like ::1`);
}

// The address rules of node:net's isIPv4/isIPv6 (an IPv6 zone refused), written here because node:net loads node's
// stream stack (~1 ms), and `pki list` checks every IP address in the index. test/ip-text.test.js holds them equal to
// node:net's over thousands of addresses.

/** Four decimal octets 0-255, no leading zeros. */
export function isIPv4Text(s: string): boolean {
  const parts = s.split(".");
  return parts.length === 4 && parts.every((p) => /^(?:0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
}

/** Eight groups of 1-4 hex digits, one "::" for one or more zero groups, the last two optionally an IPv4 address. */
export function isIPv6Text(s: string): boolean {
  let text = s;
  let groups = 8;
  const v4 = s.lastIndexOf(":") + 1;
  if (s.includes(".")) {
    if (v4 === 0 || !isIPv4Text(s.slice(v4))) return false;
    text = s.slice(0, v4) + "0"; // the IPv4 address stands for two groups: one here, one counted below
    groups = 7;
  }
  const hex = (g: string) => /^[0-9A-Fa-f]{1,4}$/.test(g);
  const halves = text.split("::");
  if (halves.length > 2) return false;
  if (halves.length === 1) return text.split(":").length === groups && text.split(":").every(hex);
  const written = halves.flatMap((h) => (h === "" ? [] : h.split(":")));
  return written.length < groups && written.every(hex);
}

/** A DNS name (strict LDH labels: no '_'; an optional leading '*.' over at least two labels); IDNs become punycode. */
export function checkDomain(domain: string): string {
  const raw = String(domain).trim();
  const fail = () =>
    new InputError(`invalid domain ${quote(domain)}: expected a DNS name like example.com or *.example.com`);
  if (raw.length === 0 || raw.length > 253 || /[\s\p{Cc}\p{Cf}\p{Cs}\uFFFD]/u.test(raw)) throw fail();
  const wildcard = raw.startsWith("*.");
  const rest = wildcard ? raw.slice(2) : raw;
  // Only LDH/underscore/dot in ASCII (domainToASCII would cut "a/b.com" to "a"); it maps IDNs to punycode, and
  // isALabel judges the xn-- labels it gives back.
  if (/[^A-Za-z0-9.\-\u0080-\uffff]/.test(rest)) throw fail();
  const ascii = domainToASCII(rest).replace(/\.$/, "");
  const labels = ascii.split(".");
  const ldh = (l: string) => /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(l);
  const ok = labels.every((l) => ldh(l) && (!l.startsWith("xn--") || isALabel(l)));
  // A wildcard over a single label ('*.com') would match every name under a TLD.
  if (wildcard && labels.length < 2) throw fail();
  if (!ascii || ascii.length > 253 - (wildcard ? 2 : 0) || !ok || /^\d+$/.test(labels[labels.length - 1])) throw fail();
  return (wildcard ? "*." : "") + ascii;
}

/**
 * An "xn--" label is an A-label only if its Punycode decodes (RFC 3492) to a U-label that encodes back to the same
 * label (RFC 5891 5.4): not to plain ASCII, not to text IDNA maps to something else (upper case, not NFC).
 */
function isALabel(label: string): boolean {
  const u = decodePunycode(label.slice(4));
  return u !== undefined && domainToASCII(u) === label;
}

/** Splits repeatable, comma-separated option values into a flat, de-duplicated list. */
export function splitList(values: unknown): string[] {
  const arr = values === undefined ? [] : Array.isArray(values) ? values : [values];
  const out: string[] = [];
  for (const v of arr)
    for (const p of String(v).split(",")) if (p.trim() && !out.includes(p.trim())) out.push(p.trim());
  return out;
}

/** What the command line (or a spec field) gets wrong in itself, e.g. an option without its value: exit 2. */
export class UsageInputError extends InputError {
  readonly exitCode = 2;
}

/**
 * The values of a repeatable, comma-separated SAN option. An empty one (`--ip ""`, a bare `--ip`, `--ip a,,b`, an
 * unset shell variable) is a usage error naming the option: it never means "no SAN".
 */
export function sanList(values: unknown, option: string): string[] {
  const arr = values === undefined ? [] : Array.isArray(values) ? values : [values];
  if (arr.some((v) => String(v).split(",").some((p) => !p.trim())))
    throw new UsageInputError(`empty ${option}: give it a value (an unset shell variable?), or leave it out`);
  return splitList(arr);
}

/**
 * A subject attribute value: printable, bounded; no control, format (bidi), lone-surrogate or U+FFFD (binary)
 * characters.
 */
export function checkSubjectValue(field: string, value: string, max = 64): string {
  if (value.trim().length === 0 || value.length > max || /[\p{Cc}\p{Cf}\p{Cs}\uFFFD]/u.test(value)) {
    throw new InputError(`invalid ${field} ${quote(value)}: 1-${max} printable characters`);
  }
  if (field === "country" && !/^[A-Z]{2}$/.test(value))
    throw new InputError(`invalid country "${value}": a two-letter code like US`);
  return value;
}

/**
 * A URI SAN (RFC 5280 4.2.1.6): absolute, with a scheme and a scheme-specific part, only RFC 3986 characters
 * (IA5String: ASCII), well-formed %-escapes; an authority ("//host") must name a host. Kept as written.
 */
export function checkUri(uri: string): string {
  const s = String(uri).trim();
  const fail = () =>
    new InputError(`invalid URI ${quote(uri)}: expected an absolute URI like spiffe://example.org/ns/web`);
  if (s.length > 2048 || !/^[A-Za-z][A-Za-z0-9+.-]*:[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]+$/.test(s)) throw fail();
  if (/%(?![0-9A-Fa-f]{2})/.test(s)) throw fail();
  const auth = /^[^:]+:\/\/([^/?#]*)/.exec(s);
  if (auth && !auth[1].replace(/^[^@]*@/, "").replace(/:\d*$/, "")) throw fail();
  return s;
}

/** An email SAN (rfc822Name, RFC 5280 4.2.1.6): ASCII local@domain (no quoted local parts), domain checked as DNS. */
export function checkEmail(email: string): string {
  const s = String(email).trim();
  const fail = () => new InputError(`invalid email address ${quote(email)}: expected user@example.com`);
  const at = s.lastIndexOf("@");
  const local = s.slice(0, at), domain = s.slice(at + 1);
  if (
    at < 1 ||
    local.length > 64 ||
    !/^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/.test(local)
  )
    throw fail();
  if (domain.startsWith("*") || /[^\x21-\x7e]/.test(domain)) throw fail();
  try { return `${local}@${checkDomain(domain)}`; } catch { throw fail(); }
}

/** The dates X.509 can carry: UTCTime from 1950, GeneralizedTime to 9999 (RFC 5280 §4.1.2.5). */
export const MIN_X509_DATE = new Date(Date.UTC(1950, 0, 1));
export const MAX_X509_DATE = new Date(Date.UTC(9999, 11, 31, 23, 59, 59));

/** Refuses a notBefore/notAfter/nextUpdate that X.509 cannot encode (a year before 1950 would become two digits). */
export function checkX509Date(d: Date, what: string): Date {
  if (!(d.getTime() >= MIN_X509_DATE.getTime() && d.getTime() <= MAX_X509_DATE.getTime())) {
    const shown = Number.isFinite(d.getTime()) ? d.toISOString() : "an invalid date";
    throw new InputError(
      `${what} ${shown} is outside the dates a certificate can carry (1950-01-01T00:00:00Z to 9999-12-31T23:59:59Z)`,
    );
  }
  return d;
}

/**
 * What a CA whose basicConstraints say `limit` may issue as a CA certificate with `pathLength` (undefined: none).
 * One rule for the CLI, the API and fixtures; an intermediate's default is 0 everywhere (INTERMEDIATE_PATH_LENGTH).
 */
export function checkPathLength(issuer: string, limit: number | undefined, pathLength: number | undefined): void {
  if (limit === undefined) return;
  if (limit < 1) throw new InputError(`the CA "${issuer}" has path length 0: it may not issue CA certificates`);
  if (pathLength === undefined || pathLength > limit - 1)
    throw new InputError(
      `path length ${pathLength ?? "unlimited"} exceeds what "${issuer}" allows (at most ${limit - 1})`,
    );
}
export const INTERMEDIATE_PATH_LENGTH = 0;
