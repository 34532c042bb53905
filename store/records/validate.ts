/**
 * Every value a backend reads back passes here before anyone uses it: a database file is untrusted input exactly
 * like index.json was (someone with the sqlite3 shell, a restored backup, a shared volume). The field rules are
 * integrity.ts's own (one copy of them); this file adds what only records have: blobs, CRLs, ACME state.
 * A failure is one line: `depot.db is damaged: entries["web"].notAfter is not a date ...: run 'pki doctor'`.
 */
import { quote } from "../../lib/x509/validate.js";
import { readTlv } from "../../lib/x509/der.js";
import { crlUrlProblem, MAX_CRL_URL } from "../../lib/x509/crl-dp.js";
import {
  Check,
  checkEntry,
  checkKdf,
  checkPastCert,
  checkRemovedCert,
  checkRevocation,
} from "./integrity.js";
import {
  ACME_FILED,
  type AcmeFiled,
  type AcmeKind,
  type AcmeRecords,
  type BlobRef,
  type CrlRecord,
  type DepotRecord,
  type EabRecord,
  type EntryRecord,
  type PastCert,
  type RemovedCert,
  type RevokedSerial,
} from "./schema.js";

export { Check };
const ID_RE = /^[\w-]{1,64}$/;
const TOKEN_RE = /^[\w-]{16,128}$/;
/** The largest certificate, request or encrypted key a depot holds (a CA with 1000 SANs is ~40 KB). */
export const MAX_BLOB = 1 << 20;
/** The largest CRL (10,000 revocations are ~400 KB). */
export const MAX_CRL = 64 << 20;

/** A check naming `file` (depot.db, or the URL of a shared store) in its one line. */
export const checker = (file: string) => new Check(file);

export function validDepot(c: Check, raw: Record<string, unknown>): DepotRecord {
  checkKdf(c, raw.kdf, "depot.kdf");
  c.date(raw.created, "depot.created");
  if (raw.serialFloor !== undefined) c.serial(raw.serialFloor, "depot.serialFloor");
  return raw as unknown as DepotRecord;
}

/**
 * One entry, by the rules index.json's entries follow; `isCa(name)` says whether a name is an issuing CA entry
 * (the backend answers it from its own rows). An entry that names a missing issuer is damage, as in index.json.
 */
export function validEntry(c: Check, raw: Record<string, unknown>, isCa: (n: string) => boolean): EntryRecord {
  c.name(raw.name, `the entry name ${quote(raw.name)}`);
  const f = `entries["${raw.name}"]`;
  checkEntry(c, raw, f, issuerRule(c, isCa, raw.name as string));
  if (raw.acme !== undefined) {
    const a = c.obj(raw.acme, `${f}.acme`);
    id(c, a.account, `${f}.acme.account`);
    id(c, a.order, `${f}.acme.order`);
    if (a.replaces !== undefined) c.name(a.replaces, `${f}.acme.replaces`);
  }
  if (raw.crlUrl !== undefined) {
    c.str(raw.crlUrl, `${f}.crlUrl`, MAX_CRL_URL);
    if (raw.kind !== "ca") c.fail(`${f}.crlUrl`, "is set on an entry that is not a CA");
    if (crlUrlProblem(raw.crlUrl as string)) c.fail(`${f}.crlUrl`, "is not an http:// URL");
  }
  return raw as unknown as EntryRecord;
}

export function validPast(c: Check, raw: unknown, name: string, i: number, isCa: (n: string) => boolean): PastCert {
  checkPastCert(c, raw, `entries["${name}"].history[${i}]`, issuerRule(c, isCa, name));
  return raw as PastCert;
}

export function validRemoved(c: Check, raw: unknown, i: number): RemovedCert {
  checkRemovedCert(c, raw, `removed[${i}]`);
  return raw as RemovedCert;
}

export function validRevoked(c: Check, raw: Record<string, unknown>, field: string): RevokedSerial {
  c.serial(raw.serial, `${field}.serial`);
  checkRevocation(c, raw.revoked, `${field}.revoked`);
  c.date(raw.notAfter, `${field}.notAfter`);
  return raw as unknown as RevokedSerial;
}

function issuerRule(c: Check, isCa: (n: string) => boolean, self: string) {
  return (v: unknown, field: string) => {
    c.name(v, field);
    if (v === self || !isCa(v as string)) c.fail(field, `names no CA entry (${quote(v)})`);
  };
}

/** A serial as the serials table holds it. */
export function validSerial(c: Check, v: unknown, field: string): string {
  return c.serial(v, field);
}

/**
 * A blob's shape: one DER SEQUENCE filling it exactly, of at most `max` bytes; an encrypted key is an
 * EncryptedPrivateKeyInfo (an AlgorithmIdentifier SEQUENCE, then an OCTET STRING), never a plain key.
 */
export function validBlob(c: Check, ref: BlobRef, data: unknown): Uint8Array {
  const field = `blobs["${ref.name}"].${ref.kind}${ref.serial ? `[${ref.serial}]` : ""}`;
  derShape(c, data, field, MAX_BLOB);
  if (ref.kind === "key") {
    const buf = data as Uint8Array;
    const outer = readTlv(buf);
    let ok = false;
    try {
      const alg = readTlv(buf, outer.valueStart, outer.end);
      const octets = readTlv(buf, alg.end, outer.end);
      ok = alg.tag === 0x30 && octets.tag === 0x04 && octets.end === outer.end;
    } catch { /* refused below */ }
    if (!ok) c.fail(field, "is not an encrypted PKCS#8 key");
  }
  return data as Uint8Array;
}

export function validCrl(c: Check, raw: Record<string, unknown>): CrlRecord {
  c.name(raw.issuer, `crls key ${quote(raw.issuer)}`);
  const f = `crls["${raw.issuer}"]`;
  c.int(raw.number, `${f}.number`, 0, Number.MAX_SAFE_INTEGER);
  if (raw.der !== undefined) derShape(c, raw.der, `${f}.der`, MAX_CRL);
  return raw as unknown as CrlRecord;
}

function derShape(c: Check, data: unknown, field: string, max: number): void {
  let ok = false;
  if (data instanceof Uint8Array && data.length <= max && data[0] === 0x30) {
    try { ok = readTlv(data).end === data.length; } catch { /* refused below */ }
  }
  if (!ok) c.fail(field, `is not one DER SEQUENCE of at most ${max} bytes`);
}

function id(c: Check, v: unknown, field: string): string {
  if (typeof v !== "string" || !ID_RE.test(v)) c.fail(field, "is not an id of at most 64 letters, digits, _ and -");
  return v as string;
}

/** RFC 9773's certificate id: base64url(AKI keyIdentifier) "." base64url(serial), no padding. */
const CERT_ID_RE = /^[\w-]{1,172}\.[\w-]{1,40}$/;
const ACCOUNT_STATUS = ["valid", "deactivated", "revoked"] as const;
const ORDER_STATUS = ["pending", "ready", "processing", "valid", "invalid"] as const;
const AUTHZ_STATUS = ["pending", "valid", "invalid", "deactivated", "expired", "revoked"] as const;
const CHALLENGE_STATUS = ["pending", "processing", "valid", "invalid"] as const;

/** An ACME object as the server stored it; `key` is the id it is stored under. */
export function validAcme<K extends AcmeKind>(c: Check, kind: K, key: unknown, raw: unknown): AcmeRecords[K] {
  const f = `acme.${kind}[${quote(key)}]`;
  const o = c.obj(raw, f);
  id(c, key, `${f} key`);
  if (o.id !== key) c.fail(`${f}.id`, "differs from its key");
  const identifier = (v: unknown, g: string) => {
    const i = c.obj(v, g);
    c.oneOf(i.type, `${g}.type`, ["dns", "ip"] as const);
    c.str(i.value, `${g}.value`, 253);
  };
  const problem = (v: unknown, g: string) => {
    const p = c.obj(v, g);
    c.str(p.type, `${g}.type`, 256);
    c.str(p.detail, `${g}.detail`, 4096);
    c.int(p.status, `${g}.status`, 100, 599);
  };
  if (kind === "accounts") {
    c.obj(o.jwk, `${f}.jwk`);
    c.str(o.thumbprint, `${f}.thumbprint`, 128);
    c.oneOf(o.status, `${f}.status`, ACCOUNT_STATUS);
    c.arr(o.contact, `${f}.contact`, 100).forEach((v, i) => c.str(v, `${f}.contact[${i}]`, 1024));
    if (o.eab !== undefined) id(c, o.eab, `${f}.eab`);
    c.date(o.created, `${f}.created`);
  } else {
    id(c, o.account, `${f}.account`);
    c.date(o.expires, `${f}.expires`);
  }
  if (kind === "orders") {
    c.arr(o.identifiers, `${f}.identifiers`, 100).forEach((v, i) => identifier(v, `${f}.identifiers[${i}]`));
    c.arr(o.authzs, `${f}.authzs`, 100).forEach((v, i) => id(c, v, `${f}.authzs[${i}]`));
    c.date(o.created, `${f}.created`);
    c.oneOf(o.status, `${f}.status`, ORDER_STATUS);
    if (o.notBefore !== undefined) c.date(o.notBefore, `${f}.notBefore`);
    if (o.notAfter !== undefined) c.date(o.notAfter, `${f}.notAfter`);
    if (o.error !== undefined) problem(o.error, `${f}.error`);
    if (o.cert !== undefined) c.name(o.cert, `${f}.cert`);
    if (o.replaces !== undefined && !CERT_ID_RE.test(c.str(o.replaces, `${f}.replaces`, 256)))
      c.fail(`${f}.replaces`, "is not an ARI certificate id");
    if (o.replacesCert !== undefined) c.name(o.replacesCert, `${f}.replacesCert`);
    if (o.renewNow !== undefined) c.date(o.renewNow, `${f}.renewNow`);
  } else if (kind === "authz") {
    identifier(o.identifier, `${f}.identifier`);
    c.oneOf(o.status, `${f}.status`, AUTHZ_STATUS);
    if (o.wildcard !== undefined && o.wildcard !== true) c.fail(`${f}.wildcard`, "is not true");
    c.arr(o.challenges, `${f}.challenges`, 8).forEach((v, i) => {
      const g = `${f}.challenges[${i}]`;
      const ch = c.obj(v, g);
      c.oneOf(ch.type, `${g}.type`, ["http-01", "tls-alpn-01", "dns-01"] as const);
      if (typeof ch.token !== "string" || !TOKEN_RE.test(ch.token)) c.fail(`${g}.token`, "is not a token");
      c.oneOf(ch.status, `${g}.status`, CHALLENGE_STATUS);
      if (ch.started !== undefined) c.date(ch.started, `${g}.started`);
      if (ch.validated !== undefined) c.date(ch.validated, `${g}.validated`);
      if (ch.error !== undefined) problem(ch.error, `${g}.error`);
    });
  }
  return o as unknown as AcmeRecords[K];
}

/**
 * An ACME row a look-up found by its indexed column holding `value`: checked as every ACME row is, and its body
 * must hold that value too. The column is only where to look; a body that says otherwise is damage, never returned.
 */
export function validFiled<K extends AcmeFiled>(c: Check, kind: K, key: unknown, raw: unknown, value: string) {
  const o = validAcme(c, kind, key, raw);
  const field = ACME_FILED[kind];
  if ((o as unknown as Record<string, unknown>)[field] !== value)
    c.fail(`acme.${kind}[${quote(key)}].${field}`, "differs from the index it was found by");
  return o;
}

export function validEab(c: Check, raw: Record<string, unknown>): EabRecord {
  id(c, raw.kid, `eab key ${quote(raw.kid)}`);
  const f = `eab["${raw.kid}"]`;
  const hmac = c.str(raw.hmac, `${f}.hmac`, 256);
  if (!/^[\w-]{43,}$/.test(hmac)) c.fail(`${f}.hmac`, "is not base64url of at least 32 bytes");
  c.date(raw.created, `${f}.created`);
  if (raw.account !== undefined) id(c, raw.account, `${f}.account`);
  if (raw.bound !== undefined) c.date(raw.bound, `${f}.bound`);
  return raw as unknown as EabRecord;
}
