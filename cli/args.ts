/** Turns parsed flags into library inputs (subjects, key specs, SANs, expiry). */
import { checkKeySpec, KeySpec } from "../lib/keys.js";
import { checkDomain, checkIp, checkSubjectValue, splitList } from "../lib/validate.js";
import { parseExpiry } from "../lib/duration.js";
import type { Subject, Sans } from "../lib/cert.js";

export interface SubjectArgs { commonName?: string; organization?: string; organizationalUnit?: string; country?: string }
export interface KeyArgs { keyType?: string; curve?: string; keyBits?: number }

export function subjectFrom(a: SubjectArgs, defaults: Subject): Subject {
  const s: Subject = { ...defaults };
  if (a.commonName !== undefined) s.commonName = String(a.commonName);
  if (a.organization !== undefined) s.organization = String(a.organization);
  if (a.organizationalUnit !== undefined) s.organizationalUnit = String(a.organizationalUnit);
  if (a.country !== undefined) s.country = String(a.country).toUpperCase();
  checkSubjectValue("common name", s.commonName);
  if (s.organization !== undefined) checkSubjectValue("organization", s.organization);
  if (s.organizationalUnit !== undefined) checkSubjectValue("organizational unit", s.organizationalUnit);
  if (s.country !== undefined) checkSubjectValue("country", s.country);
  return s;
}

export function keySpecFrom(a: KeyArgs): KeySpec {
  return checkKeySpec(a.keyType, a.curve, a.keyBits);
}

/** SANs from --ip/--domain; with neither, IP 127.0.0.1 as etcd-ca does. */
export function sansFrom(ip: unknown, domain: unknown): Sans {
  const ips = splitList(ip).map(checkIp);
  const domains = splitList(domain).map(checkDomain);
  if (ips.length + domains.length === 0) ips.push("127.0.0.1");
  return { ips, domains };
}

/** Validates --expires now (before any work) and returns a function of the start time. */
export function expiryFrom(spec: string): (from: Date) => Date {
  parseExpiry(spec);
  return (from) => parseExpiry(spec, from);
}
