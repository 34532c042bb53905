/** Turns parsed flags into library inputs (subjects, key specs, SANs, expiry). */
import { checkKeySpec, KeySpec } from "../lib/x509/keys.js";
import { checkDomain, checkIp, checkSubjectValue, InputError, splitList } from "../lib/x509/validate.js";
import { parseExpiry } from "../lib/x509/duration.js";
import type { Subject, Sans } from "../lib/x509/cert.js";

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

export interface UsageArgs { server?: boolean; client?: boolean; peer?: boolean; eku?: unknown }

/** The leaf profile from --server / --client / --peer / --eku; undefined when none was given. */
export async function leafProfileFrom(a: UsageArgs): Promise<import("../lib/x509/cert.js").Profile | undefined> {
  const picked = (["server", "client", "peer"] as const).filter((u) => a[u]);
  if (picked.length > 1) throw new InputError(`--${picked.join(" and --")} conflict: choose one`);
  const list = splitList(a.eku);
  if (!picked.length && !list.length) return undefined;
  const { checkEku } = await import("../lib/x509/cert.js");
  return { kind: "leaf", usage: picked[0] ?? "peer", eku: list.length ? checkEku(list) : undefined };
}

/** --not-before: an absolute date, or '-DURATION' (e.g. '-2d') before now. */
export function notBeforeFrom(spec: unknown): Date | undefined {
  if (spec === undefined) return undefined;
  const s = String(spec).trim();
  if (s.startsWith("-")) {
    const now = new Date();
    return new Date(2 * now.getTime() - parseExpiry(s.slice(1), now).getTime());
  }
  if (!/^\d{4}-\d{2}-\d{2}/.test(s)) throw new InputError(`invalid --not-before "${s}": use a date like 2020-01-01 or a duration before now like -2d`);
  return parseExpiry(s);
}

/** A path length flag: a non-negative integer. */
export function pathLengthFrom(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 16) throw new InputError(`invalid --path-length "${v}": an integer from 0 to 16`);
  return n;
}
