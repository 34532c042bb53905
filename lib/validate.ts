/** Validation of hostile input: names, IP addresses, DNS names, subject fields. */
import { isIPv4, isIPv6 } from "node:net";
import { domainToASCII } from "node:url";

export class InputError extends Error {}

const NAME_RE = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/;
export const NAME_RULE = "names are 1-64 characters of A-Z a-z 0-9 . _ - and must not start with '.'";

/** A depot entry name; refuses path separators, '..', whitespace, control characters. */
export function checkName(name: unknown): string {
  if (typeof name !== "string" || !NAME_RE.test(name) || name.includes("..")) {
    throw new InputError(`invalid name ${JSON.stringify(String(name)).slice(0, 80)}: ${NAME_RULE}`);
  }
  return name;
}

/** Canonical text of an IPv4/IPv6 address; strict (no '1.2.3', no '::g', no '256.0.0.1'). */
export function checkIp(ip: string): string {
  const s = ip.trim();
  if (isIPv4(s)) return s;
  if (isIPv6(s) && !s.includes("%")) return s.toLowerCase();
  throw new InputError(`invalid IP address ${JSON.stringify(ip).slice(0, 80)}: expected IPv4 like 127.0.0.1 or IPv6 like ::1`);
}

/** A DNS name (LDH labels, optional leading '*.' wildcard); IDNs become punycode. */
export function checkDomain(domain: string): string {
  const raw = domain.trim();
  const fail = () => new InputError(`invalid domain ${JSON.stringify(domain).slice(0, 80)}: expected a DNS name like example.com or *.example.com`);
  if (raw.length === 0 || raw.length > 253 || /[\s\x00-\x1f\x7f]/.test(raw)) throw fail();
  const wildcard = raw.startsWith("*.");
  const rest = wildcard ? raw.slice(2) : raw;
  const ascii = /^[\x21-\x7e]*$/.test(rest) ? rest.toLowerCase() : domainToASCII(rest);
  if (!ascii) throw fail();
  const labels = ascii.replace(/\.$/, "").split(".");
  const ok = labels.every((l) => /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/.test(l) && !/^xn--$/.test(l));
  if (!ok || /^\d+$/.test(labels[labels.length - 1])) throw fail();
  return (wildcard ? "*." : "") + labels.join(".");
}

/** Splits repeatable, comma-separated option values into a flat, de-duplicated list. */
export function splitList(values: unknown): string[] {
  const arr = values === undefined ? [] : Array.isArray(values) ? values : [values];
  const out: string[] = [];
  for (const v of arr) for (const p of String(v).split(",")) if (p.trim() && !out.includes(p.trim())) out.push(p.trim());
  return out;
}

/** A subject attribute value: printable, no control characters, bounded. */
export function checkSubjectValue(field: string, value: string, max = 64): string {
  if (value.length === 0 || value.length > max || /[\x00-\x1f\x7f]/.test(value)) {
    throw new InputError(`invalid ${field} ${JSON.stringify(value).slice(0, 80)}: 1-${max} printable characters`);
  }
  if (field === "country" && !/^[A-Z]{2}$/.test(value)) throw new InputError(`invalid country "${value}": a two-letter code like US`);
  return value;
}
