/** Turns parsed flags into library inputs (subjects, key specs, SANs, expiry). */
import { checkKeySpec, KeySpec } from "../lib/x509/keys.js";
import {
  checkDomain,
  checkEmail,
  checkIp,
  checkSubjectValue,
  checkUri,
  InputError,
  sanList,
  splitList,
  UsageInputError,
} from "../lib/x509/validate.js";
import { parseExpiry } from "../lib/x509/duration.js";
import type { Subject, Sans } from "../lib/x509/cert.js";

export interface SubjectArgs {
  commonName?: string;
  organization?: string;
  organizationalUnit?: string;
  country?: string;
}
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

/** `san: false` is --no-san: a leaf without any SAN, asked for explicitly. */
export interface SanArgs { ip?: unknown; domain?: unknown; uri?: unknown; email?: unknown; san?: boolean }

/** Whether any of --ip/--domain/--uri/--email was given. */
export function hasSanArgs(a: SanArgs): boolean {
  return [a.ip, a.domain, a.uri, a.email].some((v) => v !== undefined);
}

/**
 * SANs from --ip/--domain/--uri/--email, each validated strictly (an empty value is a usage error); with none, IP
 * 127.0.0.1 as etcd-ca does (unless `empty`, or --no-san).
 */
export function sansFrom(a: SanArgs, o: { empty?: boolean } = {}): Sans {
  const ips = sanList(a.ip, "--ip"), domains = sanList(a.domain, "--domain");
  const uris = sanList(a.uri, "--uri"), emails = sanList(a.email, "--email");
  if (a.san === false && hasSanArgs(a))
    throw new UsageInputError("--no-san conflicts with --ip/--domain/--uri/--email");
  const sans: Sans = { ips: ips.map(checkIp), domains: domains.map(checkDomain) };
  if (uris.length) sans.uris = uris.map(checkUri);
  if (emails.length) sans.emails = emails.map(checkEmail);
  if (!o.empty && a.san !== false && !hasSanArgs(a)) sans.ips.push("127.0.0.1");
  return sans;
}

/** A leaf certificate names at least one SAN (no TLS client accepts a server without one) unless --no-san says so. */
export function requireSan(sans: Sans, a: SanArgs, what: string): void {
  const none = !sans.ips.length && !sans.domains.length && !sans.uris?.length && !sans.emails?.length;
  if (none && a.san !== false)
    throw new UsageInputError(
      `${what} names no SAN: add --domain, --ip, --uri or --email, or --no-san for a certificate without one`,
    );
}

/** SANs as `openssl x509 -ext subjectAltName` prints them: "IP:1.2.3.4, DNS:x, URI:spiffe://..., email:a@b". */
export function sanText(s: Sans): string {
  return [
    ...s.ips.map((i) => `IP:${i}`),
    ...s.domains.map((d) => `DNS:${d}`),
    ...(s.uris ?? []).map((u) => `URI:${u}`),
    ...(s.emails ?? []).map((e) => `email:${e}`),
  ].join(", ");
}

/** The bytes of --csr FILE, or of stdin for "-" (PEM or DER; at most 1 MB). */
export async function readCsrInput(path: string): Promise<Uint8Array> {
  const { readInputBytes } = await import("./common.js");
  const data = readInputBytes(path, "--csr");
  if (!data.length) throw new InputError(`the CSR in ${path === "-" ? "stdin" : path} is empty`);
  return data;
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
  if (picked.length > 1) throw new UsageInputError(`--${picked.join(" and --")} conflict: choose one`);
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
  if (!/^\d{4}-\d{2}-\d{2}/.test(s))
    throw new InputError(`invalid --not-before "${s}": use a date like 2020-01-01 or a duration before now like -2d`);
  return parseExpiry(s);
}

/** A path length flag: a non-negative integer. */
export function pathLengthFrom(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 16)
    throw new InputError(`invalid --path-length "${v}": an integer from 0 to 16`);
  return n;
}

/** A verified, validated foreign CSR as an external-key request; SAN flags, when given, replace the CSR's SANs. */
export async function externalRequestFrom(
  data: Uint8Array,
  a: SanArgs,
  what = "the CSR",
): Promise<import("../store/depot/request.js").ForeignCsr> {
  const { parseCsr, checkForeignCsr } = await import("../lib/x509/csr.js");
  const c = await checkForeignCsr(parseCsr(data, what), what);
  const sans = hasSanArgs(a) ? sansFrom(a, { empty: true }) : c.sans;
  return { subject: c.subject, publicKey: c.csr.publicKey, sans, keyType: c.keyType, csrPem: c.pem };
}
