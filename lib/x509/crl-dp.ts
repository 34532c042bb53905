/**
 * The CRL Distribution Points extension (RFC 5280 §4.2.1.13) with one distribution point whose fullName is one
 * URI, as step-ca, Vault and Let's Encrypt write it. Only http:// URLs: RFC 5280 says a CRL is fetched over
 * HTTP (an https:// one would need a CRL to check its own server), and that is what clients fetch without setup.
 */
import type { RawExtension } from "./build.js";
import { ctxCons, ctxPrim, seq } from "./der.js";
// not node:net: this module is on `pki list`'s read path (validate.ts), which loads no socket stack
import { isIPv4Text, isIPv6Text } from "./validate.js";

export const CRL_DP_OID = "2.5.29.31";
/** Long enough for any real URL, short enough that a record or a certificate never carries a blob in its place. */
export const MAX_CRL_URL = 1024;

/** Why `url` cannot be a CRL's address (undefined: it can). */
export function crlUrlProblem(url: string): string | undefined {
  if (url.length === 0 || url.length > MAX_CRL_URL) return `must be 1 to ${MAX_CRL_URL} characters`;
  // IA5String in the certificate, and no space or control character a client might split on
  if (!/^[\x21-\x7e]+$/.test(url)) return "must be printable ASCII without spaces (percent-encode the rest)";
  let u: URL;
  try { u = new URL(url); } catch { return "is not a URL"; }
  if (u.protocol !== "http:" || !/^http:\/\//i.test(url)) return "must be an http:// URL (CRLs are fetched over HTTP)";
  if (!u.hostname) return "has no host";
  if (u.username || u.password) return "must not carry a user name or password";
  if (u.hash || url.includes("#")) return "must not carry a #fragment";
  return undefined;
}

/** The extension's DER: SEQUENCE { DistributionPoint { [0] fullName { [0] GeneralNames { [6] uri } } } }. */
export function crlDistributionPoints(url: string): RawExtension {
  const problem = crlUrlProblem(url);
  if (problem) throw new Error(`CRL URL ${problem}`);
  const uri = ctxPrim(6, Buffer.from(url, "latin1"));
  return { oid: CRL_DP_OID, critical: false, value: seq(seq(ctxCons(0, ctxCons(0, uri)))) };
}

/** The path a CRL server answers the URL at (what a client sends in its request line). */
export function crlUrlPath(url: string): string {
  const u = new URL(url);
  return u.pathname + u.search;
}

/** Where a server listens to publish CRLs at the URLs: all interfaces when `host` is undefined. */
export interface CrlListenAddr { host?: string; port: number; urls: string[] }

/**
 * One listener per distinct port the (valid, http://) URLs name, port 80 when they name none. It binds the URLs'
 * address when they all name the same IP literal; a host name (or several addresses) means all interfaces, since
 * what the name resolves to, or a proxy in front, is known only to the clients.
 */
export function crlListenAddrs(urls: string[]): CrlListenAddr[] {
  const byPort = new Map<number, { hosts: Set<string | undefined>; urls: string[] }>();
  for (const url of urls) {
    const u = new URL(url);
    const port = Number(u.port || 80);
    const ip = u.hostname.replace(/^\[(.*)\]$/, "$1");
    const p = byPort.get(port) ?? { hosts: new Set(), urls: [] };
    p.hosts.add(isIPv4Text(ip) || isIPv6Text(ip) ? ip : undefined);
    p.urls.push(url);
    byPort.set(port, p);
  }
  return [...byPort].map(([port, p]) => ({
    host: p.hosts.size === 1 ? [...p.hosts][0] : undefined,
    port,
    urls: p.urls,
  }));
}
