/**
 * Challenge validation: http-01 (RFC 8555 §8.3) over plain HTTP and tls-alpn-01 (RFC 8737) with the
 * acme-tls/1 protocol and the critical id-pe-acmeIdentifier extension. On a test network the names
 * resolve through a fixed table (--resolve) and the ports are configurable, as pebble allows.
 */
import http from "node:http";
import tls from "node:tls";
import { createHash } from "node:crypto";
import { lookup } from "node:dns/promises";
import { x509 } from "../x509/peculiar.js";
import { AcmeProblem, problem, type ChallengeType, type Identifier } from "./protocol.js";

export const OID_ACME_IDENTIFIER = "1.3.6.1.5.5.7.1.31";
const TIMEOUT_MS = 10_000;
const MAX_RESPONSE = 8 * 1024;

export interface ValidationContext {
  httpPort: number;
  tlsAlpnPort: number;
  resolve: Record<string, string>;
}

export const keyAuthorization = (token: string, thumbprint: string) => `${token}.${thumbprint}`;

async function address(id: Identifier, ctx: ValidationContext): Promise<string> {
  if (id.type === "ip") return id.value;
  if (ctx.resolve[id.value]) return ctx.resolve[id.value];
  try {
    return (await lookup(id.value)).address;
  } catch (e) {
    throw problem("dns", `cannot resolve ${id.value}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

const hostHeader = (id: Identifier, port: number) => {
  const h = id.type === "ip" && id.value.includes(":") ? `[${id.value}]` : id.value;
  return port === 80 ? h : `${h}:${port}`;
};

/** GET http://NAME/.well-known/acme-challenge/TOKEN must answer the key authorization (whitespace trimmed). */
export async function validateHttp01(
  id: Identifier,
  token: string,
  keyAuth: string,
  ctx: ValidationContext,
): Promise<void> {
  const ip = await address(id, ctx);
  const path = `/.well-known/acme-challenge/${token}`;
  const body = await new Promise<string>((resolve, reject) => {
    const req = http.request(
      {
        host: ip,
        port: ctx.httpPort,
        path,
        method: "GET",
        headers: { host: hostHeader(id, ctx.httpPort), "user-agent": "pki-acme" },
        timeout: TIMEOUT_MS,
      },
      (res) => {
        let data = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          data += d;
          if (data.length > MAX_RESPONSE)
            req.destroy(problem("unauthorized", "the http-01 response is too large", 403));
        });
        res.on("end", () =>
          res.statusCode === 200
            ? resolve(data)
            : reject(problem("unauthorized", `http-01: ${id.value}${path} answered HTTP ${res.statusCode}`, 403)),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () =>
      req.destroy(problem("connection", `http-01: ${ip}:${ctx.httpPort} did not answer in time`)),
    );
    req.on("error", (e) =>
      reject(
        e instanceof AcmeProblem
          ? e
          : problem(
              "connection",
              `http-01: cannot fetch http://${hostHeader(id, ctx.httpPort)}${path} (${ip}): ${(e as NodeJS.ErrnoException).code ?? e.message}`,
            ),
      ),
    );
    req.end();
  });
  if (body.trim() !== keyAuth)
    throw problem("unauthorized", `http-01: ${id.value} answered a different key authorization`, 403);
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
export async function validateTlsAlpn01(id: Identifier, keyAuth: string, ctx: ValidationContext): Promise<void> {
  const ip = await address(id, ctx);
  const raw = await new Promise<{ der: Buffer; alpn: string | false }>((resolve, reject) => {
    const s = tls.connect(
      {
        host: ip,
        port: ctx.tlsAlpnPort,
        servername: sniOf(id),
        ALPNProtocols: ["acme-tls/1"],
        rejectUnauthorized: false,
        timeout: TIMEOUT_MS,
      },
      () => {
        const cert = s.getPeerX509Certificate();
        const alpn = s.alpnProtocol;
        s.destroy();
        if (!cert) reject(problem("tls", "tls-alpn-01: the server presented no certificate"));
        else resolve({ der: cert.raw, alpn: alpn ?? false });
      },
    );
    s.on("timeout", () =>
      s.destroy(problem("connection", `tls-alpn-01: ${ip}:${ctx.tlsAlpnPort} did not answer in time`)),
    );
    s.on("error", (e) =>
      reject(
        e instanceof AcmeProblem
          ? e
          : problem(
              "tls",
              `tls-alpn-01: cannot connect to ${ip}:${ctx.tlsAlpnPort}: ${(e as NodeJS.ErrnoException).code ?? e.message}`,
            ),
      ),
    );
  });
  if (raw.alpn !== "acme-tls/1")
    throw problem("unauthorized", "tls-alpn-01: the server did not negotiate acme-tls/1", 403);
  const cert = new x509.X509Certificate(new Uint8Array(raw.der));
  const ext = cert.extensions.find((e) => e.type === OID_ACME_IDENTIFIER);
  if (!ext || !ext.critical)
    throw problem("unauthorized", "tls-alpn-01: the certificate lacks a critical acmeIdentifier extension", 403);
  const want = Buffer.concat([Buffer.from([0x04, 0x20]), createHash("sha256").update(keyAuth).digest()]);
  if (!Buffer.from(ext.value).equals(want))
    throw problem("unauthorized", "tls-alpn-01: the acmeIdentifier does not match the key authorization", 403);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const names = san?.names.items ?? [];
  const ok = names.length === 1 && names[0].type === id.type && names[0].value.toLowerCase() === id.value;
  if (!ok) throw problem("unauthorized", `tls-alpn-01: the certificate must name exactly ${id.value}`, 403);
}

/** Validates one challenge; resolves on success, throws an AcmeProblem on failure. */
export function validate(
  type: ChallengeType,
  id: Identifier,
  token: string,
  thumbprint: string,
  ctx: ValidationContext,
): Promise<void> {
  const ka = keyAuthorization(token, thumbprint);
  return type === "http-01" ? validateHttp01(id, token, ka, ctx) : validateTlsAlpn01(id, ka, ctx);
}
