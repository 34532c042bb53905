/**
 * RFC 8555 resources, their state machine and problem documents (RFC 7807 with ACME error types).
 * Pure: no disk, no network. Identifiers: dns (RFC 8555) and ip (RFC 8738).
 */
import { isIP } from "node:net";
import { randomBytes } from "node:crypto";
import { checkDomain, checkIp } from "../x509/validate.js";

export const ERROR_NS = "urn:ietf:params:acme:error:";

/** An ACME error: `type` without the namespace (badNonce, malformed, ...), an HTTP status, a human detail. */
export class AcmeProblem extends Error {
  constructor(
    readonly type: string,
    readonly detail: string,
    readonly status = 400,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
  doc(): { type: string; detail: string; status: number } {
    return { type: ERROR_NS + this.type, detail: this.detail, status: this.status };
  }
}
export const problem = (type: string, detail: string, status = 400) => new AcmeProblem(type, detail, status);

export type IdentifierType = "dns" | "ip";
export interface Identifier {
  type: IdentifierType;
  value: string;
}
export type ChallengeType = "http-01" | "tls-alpn-01" | "dns-01";
export const CHALLENGE_TYPES: ChallengeType[] = ["http-01", "tls-alpn-01", "dns-01"];

/** The challenges offered for an identifier: dns-01 proves control of a DNS name only (RFC 8738 §7). */
const challengeTypes = (id: Identifier): ChallengeType[] =>
  id.type === "ip" ? ["http-01", "tls-alpn-01"] : id.value.startsWith("*.") ? ["dns-01"] : CHALLENGE_TYPES;

export interface Problem {
  type: string;
  detail: string;
  status: number;
}
export interface Account {
  id: string;
  jwk: Record<string, unknown>;
  thumbprint: string;
  status: "valid" | "deactivated" | "revoked";
  contact: string[];
  eab?: string;
  created: string;
}
export interface Challenge {
  type: ChallengeType;
  token: string;
  status: "pending" | "processing" | "valid" | "invalid";
  /** When a node began validating it (processing): one that never finished is validated again later. */
  started?: string;
  validated?: string;
  error?: Problem;
}
export interface Authz {
  id: string;
  account: string;
  identifier: Identifier;
  expires: string;
  challenges: Challenge[];
  status: "pending" | "valid" | "invalid" | "deactivated" | "expired" | "revoked";
  /** For an order's *.NAME: the identifier is NAME, and only dns-01 is offered (RFC 8555 §7.1.3, §7.1.4). */
  wildcard?: boolean;
}
export interface Order {
  id: string;
  account: string;
  expires: string;
  identifiers: Identifier[];
  authzs: string[];
  created: string;
  status: "pending" | "ready" | "processing" | "valid" | "invalid";
  notBefore?: string;
  notAfter?: string;
  error?: Problem;
  cert?: string /* the depot entry name */;
  /** RFC 9773: the certID this order's certificate replaces, and that certificate's depot entry. */
  replaces?: string;
  replacesCert?: string;
  /** When `pki acme renew-now` asked for this order's certificate to be replaced at once (ARI). */
  renewNow?: string;
}

/** A wildcard bind is reached, and named by the server's certificate, as 127.0.0.1. */
export const boundName = (host: string) => (host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host);

/** How long a pending order and its authorizations live. */
export const ORDER_LIFETIME_MS = 24 * 3600_000;
export const MAX_IDENTIFIERS = 100;

/** The server's URL layout under `base` (https://host:port). */
export function urls(base: string) {
  const a = `${base}/acme`;
  return {
    directory: `${a}/directory`,
    newNonce: `${a}/new-nonce`,
    newAccount: `${a}/new-account`,
    newOrder: `${a}/new-order`,
    revokeCert: `${a}/revoke-cert`,
    keyChange: `${a}/key-change`,
    account: (id: string) => `${a}/acct/${id}`,
    orders: (id: string) => `${a}/acct/${id}/orders`,
    order: (id: string) => `${a}/order/${id}`,
    finalize: (id: string) => `${a}/order/${id}/finalize`,
    authz: (id: string) => `${a}/authz/${id}`,
    challenge: (id: string, type: string) => `${a}/chall/${id}/${type}`,
    cert: (id: string) => `${a}/cert/${id}`,
    renewalInfo: `${a}/renewal-info`,
  };
}
export type Urls = ReturnType<typeof urls>;

export function directory(u: Urls, o: { eab: boolean }) {
  return {
    newNonce: u.newNonce,
    newAccount: u.newAccount,
    newOrder: u.newOrder,
    revokeCert: u.revokeCert,
    keyChange: u.keyChange,
    renewalInfo: u.renewalInfo,
    meta: { externalAccountRequired: o.eab },
  };
}

export const renderAccount = (u: Urls, a: Account) => ({
  status: a.status,
  contact: a.contact,
  orders: u.orders(a.id),
});

export const renderOrder = (u: Urls, o: Order) => ({
  status: o.status,
  expires: o.expires,
  identifiers: o.identifiers,
  authorizations: o.authzs.map(u.authz),
  finalize: u.finalize(o.id),
  ...(o.notBefore ? { notBefore: o.notBefore } : {}),
  ...(o.notAfter ? { notAfter: o.notAfter } : {}),
  ...(o.error ? { error: o.error } : {}),
  ...(o.cert && o.status === "valid" ? { certificate: u.cert(o.id) } : {}),
  ...(o.replaces ? { replaces: o.replaces } : {}),
});

export const renderChallenge = (u: Urls, z: Authz, c: Challenge) => ({
  type: c.type,
  url: u.challenge(z.id, c.type),
  token: c.token,
  status: c.status,
  ...(c.validated ? { validated: c.validated } : {}),
  ...(c.error ? { error: c.error } : {}),
});

export const renderAuthz = (u: Urls, z: Authz) => ({
  identifier: z.identifier,
  status: z.status,
  expires: z.expires,
  challenges: z.challenges.map((c) => renderChallenge(u, z, c)),
  ...(z.wildcard ? { wildcard: true } : {}),
});

/** A new order's authorization for `id`: a wildcard's names its base, with wildcard: true (RFC 8555 §7.1.4). */
export function newAuthz(id: string, account: string, identifier: Identifier, expires: string): Authz {
  const wildcard = identifier.value.startsWith("*.");
  return {
    id,
    account,
    identifier: wildcard ? { type: identifier.type, value: identifier.value.slice(2) } : identifier,
    status: "pending",
    expires,
    challenges: challengeTypes(identifier).map((type) => ({
      type,
      token: randomBytes(32).toString("base64url"),
      status: "pending" as const,
    })),
    ...(wildcard ? { wildcard } : {}),
  };
}

/** An authorization past its expiry reads as expired. */
export function authzNow(z: Authz, now = new Date()): Authz {
  return (z.status === "pending" || z.status === "valid") && new Date(z.expires) <= now
    ? { ...z, status: "expired" }
    : z;
}

/** An order's status from its authorizations (pending → ready / invalid), and expiry. */
export function orderNow(o: Order, authzs: Authz[], now = new Date()): Order {
  if (o.status !== "pending") return o;
  const zs = authzs.map((z) => authzNow(z, now));
  if (new Date(o.expires) <= now)
    return { ...o, status: "invalid", error: problem("malformed", "the order expired").doc() };
  const bad = zs.find((z) => z.status !== "pending" && z.status !== "valid");
  if (bad)
    return {
      ...o,
      status: "invalid",
      error:
        bad.challenges.find((c) => c.error)?.error ??
        problem("unauthorized", `authorization for ${bad.identifier.value} is ${bad.status}`, 403).doc(),
    };
  return zs.every((z) => z.status === "valid") ? { ...o, status: "ready" } : o;
}

/** Which names a server may certify: exact names, `*.suffix` (any name under suffix), IPv4/IPv6 CIDR ranges. */
export interface Policy {
  names: string[];
  suffixes: string[];
  nets: Array<{ net: bigint; bits: number; v: 4 | 6 }>;
  any: boolean;
}

export function parsePolicy(items: string[]): Policy {
  const p: Policy = { names: [], suffixes: [], nets: [], any: items.length === 0 };
  for (const raw of items) {
    const [addr, len] = raw.split("/");
    if (len !== undefined || isIP(addr)) {
      const v = isIP(addr) as 4 | 6;
      const bits = len === undefined ? (v === 4 ? 32 : 128) : Number(len);
      if (!v || !/^\d{1,3}$/.test(len ?? "0") || bits > (v === 4 ? 32 : 128))
        throw problem("malformed", `invalid --allow range "${raw}": expected 10.0.0.0/8 or fd00::/8`);
      p.nets.push({ net: ipBits(checkIp(addr)) >> BigInt((v === 4 ? 32 : 128) - bits), bits, v });
    } else if (raw.startsWith("*.")) p.suffixes.push(checkDomain(raw.slice(2)).toLowerCase());
    else p.names.push(checkDomain(raw).toLowerCase());
  }
  return p;
}

export function allowed(p: Policy, id: Identifier): boolean {
  if (p.any) return true;
  if (id.type === "dns") return p.names.includes(id.value) || p.suffixes.some((s) => id.value.endsWith(`.${s}`));
  const v = isIP(id.value);
  const n = ipBits(id.value);
  return p.nets.some((r) => r.v === v && n >> BigInt((v === 4 ? 32 : 128) - r.bits) === r.net);
}

function ipBits(ip: string): bigint {
  if (isIP(ip) === 4) return ip.split(".").reduce((a, o) => (a << 8n) | BigInt(Number(o)), 0n);
  const [head, tail] = ip.split("::");
  const parts = (s?: string) => (s ? s.split(":") : []);
  const h = parts(head),
    t = parts(tail);
  const all = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return all.reduce((a, g) => (a << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/**
 * Validates an identifier from a client: canonical value, within the policy. A wildcard (*.NAME) is judged by the
 * policy as the name it is: --allow '*.svc.internal' covers *.svc.internal and *.a.svc.internal.
 */
export function checkIdentifier(raw: unknown, p: Policy): Identifier {
  const r = raw as { type?: unknown; value?: unknown } | null;
  if (!r || typeof r !== "object" || typeof r.value !== "string" || r.value.length > 253)
    throw problem("malformed", "an identifier needs a type and a string value");
  let value: string;
  if (r.type === "dns") {
    if (isIP(r.value))
      throw problem("rejectedIdentifier", `${r.value} is an IP address: use an identifier of type "ip"`);
    try {
      value = checkDomain(r.value).toLowerCase();
    } catch (e) {
      throw problem("rejectedIdentifier", (e as Error).message);
    }
  } else if (r.type === "ip") {
    try {
      value = checkIp(r.value);
    } catch (e) {
      throw problem("rejectedIdentifier", (e as Error).message);
    }
  } else
    throw problem(
      "unsupportedIdentifier",
      `identifier type ${JSON.stringify(String(r.type)).slice(0, 40)}: only dns and ip`,
    );
  const id = { type: r.type, value } as Identifier;
  if (!allowed(p, id)) throw problem("rejectedIdentifier", `${value} is outside this server's --allow policy`, 403);
  return id;
}

export const sameIdentifiers = (a: Identifier[], b: Identifier[]) => {
  const key = (l: Identifier[]) => [...new Set(l.map((i) => `${i.type}:${i.value}`))].sort().join(",");
  return key(a) === key(b);
};
