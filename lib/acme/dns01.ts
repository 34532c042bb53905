/**
 * dns-01 (RFC 8555 §8.4): TXT _acme-challenge.NAME must hold base64url(SHA-256(key authorization)). Looked up with
 * node's c-ares resolver, against the --dns-resolver servers or the system's. Each validation gets a resolver of its
 * own: cancelling one at the deadline must not cancel the others' queries, and whatever a resolver may cache
 * (c-ares can keep negative answers) must not outlive the validation: a client that retries after fixing its record
 * is asked about afresh.
 */
import { Resolver } from "node:dns/promises";
import { createHash } from "node:crypto";
import { isIP } from "node:net";
import { AcmeProblem, type Identifier } from "./protocol.js";

/** The DNS outcome that failed, as the client can act on it: NXDOMAIN, SERVFAIL, REFUSED, timeout, ... */
export class DnsFailure extends AcmeProblem {
  constructor(
    readonly reason: string,
    type = "dns",
  ) {
    super(type, `dns-01: ${reason}`, type === "dns" ? 400 : 403);
  }
}

/** c-ares error codes as the DNS answer or failure they stand for. */
const RCODES: Record<string, string> = {
  ENOTFOUND: "NXDOMAIN",
  ESERVFAIL: "SERVFAIL",
  EREFUSED: "REFUSED",
  ENOTIMP: "NOTIMP",
  EFORMERR: "FORMERR",
  ETIMEOUT: "timeout (no answer)",
  ECANCELLED: "timeout (no answer before the deadline)",
  ECONNREFUSED: "connection refused by the resolver",
  EBADRESP: "malformed response",
};

export const txtName = (id: Identifier) => `_acme-challenge.${id.value}`;

export const dnsDigest = (keyAuth: string) => createHash("sha256").update(keyAuth).digest("base64url");

/**
 * Looks the TXT records up (the whole lookup bounded by `signal`) and wants one, its strings concatenated, equal to
 * the digest of `keyAuth`.
 */
export async function validateDns01(
  id: Identifier,
  keyAuth: string,
  servers: string[],
  deadlineMs: number,
  signal: AbortSignal,
): Promise<void> {
  const name = txtName(id);
  const resolver = new Resolver({ timeout: deadlineMs, tries: 1 });
  if (servers.length) resolver.setServers(servers);
  const onAbort = () => resolver.cancel();
  signal.addEventListener("abort", onAbort);
  let records: string[][];
  try {
    if (signal.aborted) throw Object.assign(new Error("cancelled"), { code: "ECANCELLED" });
    records = await resolver.resolveTxt(name);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "";
    if (code === "ENODATA") throw new DnsFailure(`no TXT record at ${name}`, "unauthorized");
    throw new DnsFailure(`TXT ${name}: ${RCODES[code] ?? (code || "lookup failed")}`);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  const want = dnsDigest(keyAuth);
  if (!records.some((chunks) => chunks.join("") === want)) {
    const why = `TXT ${name} holds ${records.length} record(s), none the expected digest`;
    throw new DnsFailure(why, "incorrectResponse");
  }
}

/** --dns-resolver IP[:PORT] (IPv6 as [ADDR]:PORT): the form setServers takes, or undefined when it is not one. */
export function dnsServer(v: string): string | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+)|([0-9A-Fa-f:]+))(?::(\d{1,5}))?$/.exec(v.trim());
  if (!m || (m[3] && m[4] !== undefined)) return undefined;
  const port = m[4] === undefined ? 53 : Number(m[4]);
  if (port < 1 || port > 65535) return undefined;
  const ip = m[1] ?? m[2] ?? m[3];
  if (!isIP(ip) || (m[1] && isIP(ip) !== 6)) return undefined;
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}
