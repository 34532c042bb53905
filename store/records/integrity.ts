/**
 * Depot files are untrusted input: whoever could write one (a 0777 directory, a shared volume, a second user)
 * must not be able to steer the operator's next command. Every field of depot.json and index.json is checked
 * here before use, against the same rules the CLI applies to what a user types; one failure is one line
 * naming the file and the field. Unknown fields are left alone (never read, so never trusted).
 */
import { isAbsolute, relative, resolve, sep } from "node:path";
import {
  checkDomain,
  checkEmail,
  checkIp,
  checkName,
  checkUri,
  quote,
  MAX_X509_DATE,
  MIN_X509_DATE,
} from "../../lib/x509/validate.js";
import { REASONS } from "../../lib/x509/reasons.js";
import { MAX_ITERATIONS } from "../../lib/formats/kdf.js";
import { DepotError } from "../fsutil.js";

/** PBKDF2 iteration counts a depot may ask for: below, keys are cheap to crack; above, a command takes minutes. */
export const KDF_MIN_ITERATIONS = 100_000;
export const KDF_MAX_ITERATIONS = MAX_ITERATIONS;
/**
 * Test-only escape: PKI_TEST_ONLY_KDF_ITERATIONS=N lets `init` write, and every command accept, exactly N
 * (>= 1000) iterations. It is the caller's choice, never the depot's, so a tampered depot.json cannot use it.
 */
export function testKdfIterations(): number | undefined {
  const v = Number(process.env.PKI_TEST_ONLY_KDF_ITERATIONS);
  return process.env.PKI_TEST_ONLY_KDF_ITERATIONS && Number.isInteger(v) && v >= 1000 && v < KDF_MIN_ITERATIONS
    ? v
    : undefined;
}

export const MAX_DEPOT_JSON = 64 << 10;
export const MAX_INDEX_JSON = 64 << 20;
export const MAX_SANS = 1000;
const MAX_HISTORY = 10_000;
const MAX_SERIALS = 10_000_000;
export const SERIAL_RE = /^[0-9a-f]{1,40}$/;
const OID_RE = /^[0-2](\.(0|[1-9]\d{0,9})){1,30}$/;
const PRINTABLE = /^[^\p{Cc}\p{Cf}\p{Cs}\uFFFD]*$/u;

/** What a date field may hold: an instant X.509 can encode. */
function inX509Range(d: Date): boolean {
  return d.getTime() >= MIN_X509_DATE.getTime() && d.getTime() <= MAX_X509_DATE.getTime();
}

/** A value a rule refused: `detail` says which field and what is wrong with it (what `pki doctor` reports). */
export class DamageError extends DepotError {
  constructor(readonly file: string, readonly detail: string) {
    super(`${file} is damaged: ${detail}: run 'pki doctor'`);
  }
}

/** The rules, one method a field kind; `file` names what is damaged (index.json, depot.db). */
export class Check {
  constructor(readonly file: string) {}
  fail(field: string, why: string): never {
    throw new DamageError(this.file, `${field} ${why}`);
  }
  obj(v: unknown, field: string): Record<string, unknown> {
    if (typeof v !== "object" || v === null || Array.isArray(v)) this.fail(field, "is not an object");
    return v as Record<string, unknown>;
  }
  arr(v: unknown, field: string, max: number): unknown[] {
    if (!Array.isArray(v)) this.fail(field, "is not a list");
    if (v.length > max) this.fail(field, `has more than ${max} items`);
    return v;
  }
  str(v: unknown, field: string, max = 1024): string {
    if (typeof v !== "string" || v.length > max || !PRINTABLE.test(v))
      this.fail(field, `is not printable text of at most ${max} characters`);
    return v;
  }
  int(v: unknown, field: string, min: number, max: number): number {
    if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max)
      this.fail(field, `is not an integer from ${min} to ${max}`);
    return v as number;
  }
  date(v: unknown, field: string): string {
    if (typeof v !== "string" || v.length > 40 || !inX509Range(new Date(v)))
      this.fail(field, "is not a date from 1950 to 9999");
    return v;
  }
  serial(v: unknown, field: string): string {
    if (typeof v !== "string" || !SERIAL_RE.test(v)) this.fail(field, "is not lowercase hex of at most 20 octets");
    return v;
  }
  name(v: unknown, field: string): string {
    try { return checkName(v); } catch { return this.fail(field, "is not a valid name"); }
  }
  oneOf<T extends string>(v: unknown, field: string, allowed: readonly T[]): T {
    if (!(allowed as readonly unknown[]).includes(v)) this.fail(field, `is not one of ${allowed.join(", ")}`);
    return v as T;
  }
  /** `v` passes `rule` unchanged (the index stores canonical forms). */
  canonical(v: unknown, field: string, rule: (s: string) => string): void {
    let ok = false;
    try { ok = typeof v === "string" && rule(v) === v; } catch { /* refused below */ }
    if (!ok) this.fail(field, "fails the rule it was written under");
  }
}

/** depot.json: layout, KDF salt (>= 16 bytes) and iteration count (100,000 to 10,000,000). */
export function checkDepotMeta(raw: unknown): void {
  const c = new Check("depot.json");
  const m = c.obj(raw, "the top level");
  c.int(m.layout, "layout", 1, 1_000_000);
  checkKdf(c, m.kdf, "kdf");
  if (m.created !== undefined) c.date(m.created, "created");
}

/** The KDF parameters: a salt of base64 (>= 16 bytes) and an iteration count in bounds (or the test-only one). */
export function checkKdf(c: Check, raw: unknown, field: string): void {
  const kdf = c.obj(raw, field);
  const salt = c.str(kdf.salt, `${field}.salt`, 1024);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(salt) || Buffer.from(salt, "base64").length < 16)
    c.fail(`${field}.salt`, "is not base64 of at least 16 bytes");
  const test = testKdfIterations();
  if (test === undefined || kdf.iterations !== test)
    c.int(kdf.iterations, `${field}.iterations`, KDF_MIN_ITERATIONS, KDF_MAX_ITERATIONS);
}

/** A SAN list as the index records it: each value re-passes the rule the CLI applied; at most MAX_SANS in all. */
export function checkSans(c: Check, raw: unknown, field: string): void {
  const s = c.obj(raw, field);
  let total = 0;
  const list = (k: string, rule: (v: string) => string, optional = false) => {
    if (optional && s[k] === undefined) return;
    const a = c.arr(s[k], `${field}.${k}`, MAX_SANS);
    total += a.length;
    a.forEach((v, i) => c.canonical(v, `${field}.${k}[${i}]`, rule));
  };
  list("ips", checkIp);
  list("domains", checkDomain);
  list("uris", checkUri, true);
  list("emails", checkEmail, true);
  if (total > MAX_SANS) c.fail(field, `has more than ${MAX_SANS} names`);
}

/** index.json: every entry, every serial, every CRL number; issuers name existing CA entries. */
export function checkIndex(raw: unknown): void {
  const c = new Check("index.json");
  const idx = c.obj(raw, "the top level");
  const entries = c.obj(idx.entries, "entries");
  const names = Object.keys(entries);
  if (names.length > 1_000_000) c.fail("entries", "has more than 1000000 items");
  const isCa = (n: unknown) =>
    typeof n === "string" && Object.hasOwn(entries, n) && (entries[n] as { kind?: unknown })?.kind === "ca";
  const issuerOf = (v: unknown, field: string, self: string) => {
    c.name(v, field);
    if (!isCa(v) || v === self) c.fail(field, `names no CA entry (${quote(v)})`);
  };
  for (const name of names) {
    c.name(name, `the entry key ${quote(name)}`);
    const f = `entries["${name}"]`;
    const e = c.obj(entries[name], f);
    if (e.name !== name) c.fail(`${f}.name`, "differs from its key");
    checkEntry(c, e, f, (v, field) => issuerOf(v, field, name));
  }
  if (names.length && !isCa("ca")) c.fail("entries", "has no root CA entry \"ca\"");
  c.arr(idx.serials, "serials", MAX_SERIALS).forEach((s, i) => c.serial(s, `serials[${i}]`));
  if (idx.serialFloor !== undefined) c.serial(idx.serialFloor, "serialFloor");
  // Certificates of removed entries (pki rm, imported CRLs): their issuer may be gone too, so only the rules apply.
  if (idx.removed !== undefined)
    c.arr(idx.removed, "removed", MAX_SERIALS).forEach((r, i) => checkRemovedCert(c, r, `removed[${i}]`));
  if (idx.crlNumbers !== undefined) {
    for (const [n, v] of Object.entries(c.obj(idx.crlNumbers, "crlNumbers"))) {
      if (!isCa(n)) c.fail(`crlNumbers[${quote(n)}]`, "names no CA entry");
      c.int(v, `crlNumbers["${n}"]`, 0, Number.MAX_SAFE_INTEGER);
    }
  }
}

/**
 * One entry's fields (not its name, which the caller checked as the key it is stored under); `issuerOf` checks
 * that a name is an issuing CA entry, against whatever holds the others.
 */
export function checkEntry(
  c: Check,
  e: Record<string, unknown>,
  f: string,
  issuerOf: (v: unknown, field: string) => void,
): void {
  const kind = c.oneOf(e.kind, `${f}.kind`, ["leaf", "ca"] as const);
  if (e.name === "ca" && (kind !== "ca" || e.issuer !== undefined)) c.fail(f, "is the root: a CA with no issuer");
  if (e.issuer !== undefined) issuerOf(e.issuer, `${f}.issuer`);
  c.str(e.subject, `${f}.subject`, 4096);
  c.str(e.keyType, `${f}.keyType`, 64);
  checkSans(c, e.sans, `${f}.sans`);
  const status = c.oneOf(e.status, `${f}.status`, ["unsigned", "signed", "revoked"] as const);
  c.date(e.created, `${f}.created`);
  if (status !== "unsigned" || e.serial !== undefined) c.serial(e.serial, `${f}.serial`);
  if (status !== "unsigned" || e.notBefore !== undefined) c.date(e.notBefore, `${f}.notBefore`);
  if (status !== "unsigned" || e.notAfter !== undefined) c.date(e.notAfter, `${f}.notAfter`);
  if (e.usage !== undefined) c.oneOf(e.usage, `${f}.usage`, ["server", "client", "peer"] as const);
  if (e.eku !== undefined)
    c.arr(e.eku, `${f}.eku`, 64).forEach((o, i) => {
      if (typeof o !== "string" || !OID_RE.test(o)) c.fail(`${f}.eku[${i}]`, "is not an OID");
    });
  if (e.pathLength !== undefined) c.int(e.pathLength, `${f}.pathLength`, 0, 255);
  if (status === "revoked" || e.revoked !== undefined) checkRevocation(c, e.revoked, `${f}.revoked`);
  if (e.alias !== undefined) c.str(e.alias, `${f}.alias`, 256);
  if (e.external !== undefined && typeof e.external !== "boolean") c.fail(`${f}.external`, "is not true or false");
  if (e.history !== undefined)
    c.arr(e.history, `${f}.history`, MAX_HISTORY).forEach((h, i) => {
      checkPastCert(c, h, `${f}.history[${i}]`, issuerOf);
    });
}

/** A certificate an entry had before (`pki renew`): serial, issuer, validity, revocation. */
export function checkPastCert(
  c: Check,
  raw: unknown,
  hf: string,
  issuerOf: (v: unknown, field: string) => void,
): void {
  const p = c.obj(raw, hf);
  c.serial(p.serial, `${hf}.serial`);
  issuerOf(p.issuer, `${hf}.issuer`);
  c.date(p.notBefore, `${hf}.notBefore`);
  c.date(p.notAfter, `${hf}.notAfter`);
  if (p.revoked !== undefined) checkRevocation(c, p.revoked, `${hf}.revoked`);
}

/** A certificate of a removed entry (pki rm, imported CRLs): its issuer may be gone too, so only the rules apply. */
export function checkRemovedCert(c: Check, raw: unknown, f: string): void {
  const p = c.obj(raw, f);
  c.str(p.name, `${f}.name`, 256);
  checkPastCert(c, p, f, (v, field) => c.name(v, field));
}

export function checkRevocation(c: Check, raw: unknown, field: string): void {
  const r = c.obj(raw, field);
  c.date(r.date, `${field}.date`);
  c.oneOf(r.reason, `${field}.reason`, REASONS);
}

/** `p`, after checking that it lies inside `dir` (a path built from depot values never leaves the depot). */
export function inside(dir: string, p: string): string {
  const r = relative(resolve(dir), resolve(p));
  if (!r || r === ".." || r.startsWith(`..${sep}`) || isAbsolute(r))
    throw new DepotError(`refusing a path outside the depot: ${JSON.stringify(p.slice(0, 200))}`);
  return p;
}
