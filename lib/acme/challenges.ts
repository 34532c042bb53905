/**
 * Challenge validation: http-01 (RFC 8555 §8.3) over plain HTTP, tls-alpn-01 (RFC 8737) with the
 * acme-tls/1 protocol and the critical id-pe-acmeIdentifier extension, dns-01 (dns01.ts). On a test network the names
 * resolve through a fixed table (--resolve) and the ports are configurable, as pebble allows.
 */
import http from "node:http";
import tls from "node:tls";
import { createHash } from "node:crypto";
import { lookup } from "node:dns/promises";
import { x509 } from "../x509/peculiar.js";
import { AcmeProblem, type ChallengeType, type Identifier } from "./protocol.js";
import { validateDns01 } from "./dns01.js";

export const OID_ACME_IDENTIFIER = "1.3.6.1.5.5.7.1.31";
/** The whole of one validation (lookup, connect, response) must finish within this, however the peer paces it. */
export const DEADLINE_MS = 10_000;
const MAX_RESPONSE = 8 * 1024;

export interface ValidationContext {
  httpPort: number;
  tlsAlpnPort: number;
  resolve: Record<string, string>;
  /** dns-01's resolvers (IP:PORT, as dns.setServers takes them); empty: the system's. */
  dnsServers: string[];
  deadlineMs: number;
}

/**
 * A failed validation. The client learns only that it failed: whether a port answered, refused or sent an HTTP
 * status would make the server a scanner of whatever it can reach. The reason is for the operator's log.
 */
export class ValidationFailure extends AcmeProblem {
  constructor(
    type: ChallengeType,
    id: Identifier,
    readonly reason: string,
  ) {
    super("incorrectResponse", `${type}: no valid answer for ${id.value} (the server's log says why)`, 403);
  }
}

export const keyAuthorization = (token: string, thumbprint: string) => `${token}.${thumbprint}`;

async function address(type: ChallengeType, id: Identifier, ctx: ValidationContext, signal: AbortSignal) {
  if (id.type === "ip") return id.value;
  if (ctx.resolve[id.value]) return ctx.resolve[id.value];
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new ValidationFailure(type, id, "the lookup took too long"));
    signal.addEventListener("abort", onAbort);
  });
  try {
    return (await Promise.race([lookup(id.value), aborted])).address;
  } catch (e) {
    if (e instanceof ValidationFailure) throw e;
    throw new ValidationFailure(type, id, `cannot resolve: ${(e as NodeJS.ErrnoException).code ?? "lookup failed"}`);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

const hostHeader = (id: Identifier, port: number) => {
  const h = id.type === "ip" && id.value.includes(":") ? `[${id.value}]` : id.value;
  return port === 80 ? h : `${h}:${port}`;
};

/**
 * Runs `start` (which opens one connection and settles through `done`) until it settles or the deadline passes;
 * either way the connection is destroyed once, and the promise settles once.
 */
function attempt<T>(
  signal: AbortSignal,
  fail: (why: string) => ValidationFailure,
  start: (done: (e: ValidationFailure | undefined, v?: T) => void) => { destroy(): void },
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const onAbort = () => done(fail("no complete answer before the deadline"));
    const done = (e: ValidationFailure | undefined, v?: T) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      conn.destroy();
      if (e) reject(e);
      else resolve(v as T);
    };
    const conn = start(done);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort);
  });
}

const codeOf = (e: Error) => (e as NodeJS.ErrnoException).code ?? e.message;

/** GET http://NAME/.well-known/acme-challenge/TOKEN must answer the key authorization (whitespace trimmed). */
export async function validateHttp01(
  id: Identifier,
  token: string,
  keyAuth: string,
  ctx: ValidationContext,
  signal: AbortSignal,
): Promise<void> {
  const ip = await address("http-01", id, ctx, signal);
  const path = `/.well-known/acme-challenge/${token}`;
  const at = `${ip}:${ctx.httpPort}`;
  const fail = (why: string) => new ValidationFailure("http-01", id, `${at}: ${why}`);
  const body = await attempt<string>(signal, fail, (done) => {
    const req = http.request(
      {
        host: ip,
        port: ctx.httpPort,
        path,
        method: "GET",
        headers: { host: hostHeader(id, ctx.httpPort), "user-agent": "pki-acme" },
        // A connection of its own (node's global agent keeps them alive): one the responder closes when idle resets
        // the next validation that reuses it, and one name's validation must not ride on another's connection.
        agent: false,
      },
      (res) => {
        let data = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          data += d;
          if (data.length > MAX_RESPONSE) done(fail("the response is larger than 8 KiB"));
        });
        res.on("end", () => (res.statusCode === 200 ? done(undefined, data) : done(fail(`HTTP ${res.statusCode}`))));
        res.on("error", (e) => done(fail(codeOf(e))));
      },
    );
    req.on("error", (e) => done(fail(codeOf(e))));
    req.end();
    return req;
  });
  if (body.trim() !== keyAuth) throw fail("answered a different key authorization");
}

/** The name sent as SNI: the DNS name, or for an IP the reverse-lookup name (RFC 8738 §6). */
function sniOf(id: Identifier): string {
  if (id.type === "dns") return id.value;
  if (!id.value.includes(":")) return `${id.value.split(".").reverse().join(".")}.in-addr.arpa`;
  const full = new URL(`http://[${id.value}]`).hostname.slice(1, -1);
  const groups = full.split("::").length === 2 ? expand(full) : full.split(":");
  return `${groups
    .map((g) => g.padStart(4, "0"))
    .join("")
    .split("")
    .reverse()
    .join(".")}.ip6.arpa`;
}
function expand(ip: string): string[] {
  const [h, t] = ip.split("::").map((s) => (s ? s.split(":") : []));
  return [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
}

/**
 * TLS with ALPN acme-tls/1: a self-signed cert naming only the identifier, with the critical acmeIdentifier =
 * SHA-256(keyAuth).
 */
export async function validateTlsAlpn01(
  id: Identifier,
  keyAuth: string,
  ctx: ValidationContext,
  signal: AbortSignal,
): Promise<void> {
  const ip = await address("tls-alpn-01", id, ctx, signal);
  const at = `${ip}:${ctx.tlsAlpnPort}`;
  const fail = (why: string) => new ValidationFailure("tls-alpn-01", id, `${at}: ${why}`);
  const raw = await attempt<{ der: Buffer; alpn: string | false }>(signal, fail, (done) => {
    const s = tls.connect(
      {
        host: ip,
        port: ctx.tlsAlpnPort,
        servername: sniOf(id),
        ALPNProtocols: ["acme-tls/1"],
        rejectUnauthorized: false,
      },
      () => {
        const cert = s.getPeerX509Certificate();
        if (!cert) done(fail("no certificate presented"));
        else done(undefined, { der: cert.raw, alpn: s.alpnProtocol ?? false });
      },
    );
    s.on("error", (e) => done(fail(codeOf(e))));
    return s;
  });
  if (raw.alpn !== "acme-tls/1") throw fail("acme-tls/1 was not negotiated");
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(new Uint8Array(raw.der));
  } catch {
    throw fail("the certificate is not readable");
  }
  const ext = cert.extensions.find((e) => e.type === OID_ACME_IDENTIFIER);
  if (!ext || !ext.critical) throw fail("the certificate lacks a critical acmeIdentifier extension");
  const want = Buffer.concat([Buffer.from([0x04, 0x20]), createHash("sha256").update(keyAuth).digest()]);
  if (!Buffer.from(ext.value).equals(want)) throw fail("the acmeIdentifier does not match the key authorization");
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const names = san?.names.items ?? [];
  const ok = names.length === 1 && names[0].type === id.type && names[0].value.toLowerCase() === id.value;
  if (!ok) throw fail(`the certificate does not name exactly ${id.value}`);
}

/** Validates one challenge within ctx.deadlineMs; resolves on success, throws an AcmeProblem on failure. */
export async function validate(
  type: ChallengeType,
  id: Identifier,
  token: string,
  thumbprint: string,
  ctx: ValidationContext,
): Promise<void> {
  const ka = keyAuthorization(token, thumbprint);
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), ctx.deadlineMs);
  try {
    if (type === "http-01") await validateHttp01(id, token, ka, ctx, deadline.signal);
    else if (type === "tls-alpn-01") await validateTlsAlpn01(id, ka, ctx, deadline.signal);
    else await validateDns01(id, ka, ctx.dnsServers, ctx.deadlineMs, deadline.signal);
  } finally {
    clearTimeout(timer);
  }
}
