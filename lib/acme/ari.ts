/**
 * ACME Renewal Information (RFC 9773): certificate ids, suggested renewal windows, and newOrder's `replaces`.
 * The windows follow Boulder's: a valid certificate's is centred on two thirds of its lifetime (1% of the
 * lifetime either side), so a fleet's renewals spread as their issuance did; a revoked certificate's, or one
 * `pki acme renew-now` named, is the hour just past, which every ARI client takes as "renew now".
 */
import { AsnConvert } from "@peculiar/asn1-schema";
import { AuthorityKeyIdentifier, Certificate, id_ce_authorityKeyIdentifier } from "@peculiar/asn1-x509";
import type { AcmeBackend, AcmeReads } from "./backend.js";
import { type Account, AcmeProblem, type Authz, type Identifier, orderNow, problem } from "./protocol.js";

const b64u = (b: ArrayBuffer | Uint8Array) => Buffer.from(new Uint8Array(b)).toString("base64url");

/** base64url(AKI keyIdentifier) "." base64url(serial's DER content bytes), or undefined without an AKI key id. */
export function certIdOf(der: Uint8Array): string | undefined {
  const c = AsnConvert.parse(der, Certificate).tbsCertificate;
  const ext = c.extensions?.find((e) => e.extnID === id_ce_authorityKeyIdentifier);
  if (!ext) return undefined;
  const aki = AsnConvert.parse(ext.extnValue.buffer, AuthorityKeyIdentifier);
  return aki.keyIdentifier ? `${b64u(aki.keyIdentifier.buffer)}.${b64u(c.serialNumber)}` : undefined;
}

const CERT_ID_RE = /^([A-Za-z0-9_-]{1,172})\.([A-Za-z0-9_-]{1,40})$/;

/** The serial (lowercase hex, as the depot records it) a well-formed certID names; malformed otherwise. */
export function serialOfCertId(id: string): string {
  const m = CERT_ID_RE.exec(id);
  const serial = m && Buffer.from(m[2], "base64url");
  // Canonical base64url only: the same certificate must not answer to two spellings.
  const canonical = m && serial?.length && serial.toString("base64url") === m[2];
  if (!canonical || Buffer.from(m[1], "base64url").toString("base64url") !== m[1])
    throw problem("malformed", "a certificate id is base64url(AKI key id) \".\" base64url(serial), without padding");
  return serial.toString("hex").replace(/^(00)+(?=.)/, "");
}

export interface IssuedByAcme {
  name: string;
  account?: string;
  order?: string;
  revoked: boolean;
  certDer: Uint8Array;
}

/** The certificate this server issued with that certID (the AKI must match too), or a 404. */
export async function findCertId(
  bySerial: (serial: string) => Promise<IssuedByAcme | undefined>,
  certId: string,
): Promise<IssuedByAcme> {
  const found = await bySerial(serialOfCertId(certId));
  if (!found || certIdOf(found.certDer) !== certId)
    throw problem("malformed", "this server issued no certificate with that id", 404);
  return found;
}

/** newOrder's `replaces`: the id of a certificate this server issued. */
export async function replacedCert(store: AcmeBackend, certId: unknown): Promise<IssuedByAcme> {
  if (typeof certId !== "string") throw problem("malformed", "replaces must be a certificate id string");
  try {
    return await findCertId((s) => store.bySerial(s), certId);
  } catch (e) {
    if (e instanceof AcmeProblem && e.status === 404)
      throw problem("malformed", "replaces names no certificate this server issued");
    throw e;
  }
}

/** The renewal information of the certificate with that id (a 404 for one this server did not issue). */
export async function renewalInfoOf(store: AcmeBackend, certId: string): Promise<RenewalInfo> {
  const found = await findCertId((s) => store.bySerial(s), certId);
  const order = found.order ? await store.get("orders", found.order) : undefined;
  return renewalInfo(found.certDer, { revoked: found.revoked, renewNow: order?.renewNow });
}

const HOUR = 3600_000;

export interface RenewalInfo {
  window: { start: string; end: string };
  retryAfterSeconds: number;
}

/** The suggested window, and how long a client should wait before asking again. */
export function renewalInfo(
  der: Uint8Array,
  o: { revoked: boolean; renewNow?: string },
  now = new Date(),
): RenewalInfo {
  const v = AsnConvert.parse(der, Certificate).tbsCertificate.validity;
  const from = v.notBefore.getTime().getTime();
  const to = v.notAfter.getTime().getTime();
  const life = Math.max(to - from, 0);
  // Clients poll at Retry-After: at most 6 h (Boulder's), and often enough to meet a short certificate's window.
  const retryAfterSeconds = Math.max(60, Math.min(6 * 3600, Math.floor(life / 50_000)));
  const iso = (t: number) => new Date(Math.floor(t / 1000) * 1000).toISOString().replace(".000Z", "Z");
  if (o.revoked || o.renewNow) {
    const t = now.getTime();
    return { window: { start: iso(t - HOUR), end: iso(t) }, retryAfterSeconds };
  }
  const ideal = to - life / 3;
  const margin = Math.max(life / 100, 1000);
  return { window: { start: iso(ideal - margin), end: iso(ideal + margin) }, retryAfterSeconds };
}

/**
 * newOrder's `replaces` (RFC 9773 §5): a certificate this account was issued, sharing an identifier with the order,
 * and not already replaced by another order that is not invalid (409 alreadyReplaced).
 */
export async function checkReplaces(
  r: AcmeReads,
  found: IssuedByAcme,
  acct: Account,
  ids: Identifier[],
  certId: string,
): Promise<void> {
  if (found.account !== acct.id)
    throw problem("unauthorized", "replaces names a certificate issued to another account", 403);
  const old = found.order ? await r.get("orders", found.order) : undefined;
  const oldIds = new Set((old?.identifiers ?? []).map((i) => `${i.type}:${i.value}`));
  if (!ids.some((i) => oldIds.has(`${i.type}:${i.value}`)))
    throw problem("malformed", "replaces names a certificate that shares no identifier with this order");
  for (const o of await r.ordersOf(acct.id)) {
    if (o.replaces !== certId) continue;
    const authzs = await Promise.all(o.authzs.map((z) => r.get("authz", z)));
    if (orderNow(o, authzs.filter((z): z is Authz => !!z)).status !== "invalid")
      throw new AcmeProblem("alreadyReplaced", `the certificate is already being replaced by order ${o.id}`, 409);
  }
}
