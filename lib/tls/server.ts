/**
 * The bundled HTTPS / mTLS test server of the etcd security guide: `GET /v1/versions`
 * answers `["v1"]`, anything else 404. With a CA it requires and verifies client
 * certificates (and honours a CRL). No depot knowledge: callers hand it PEM text.
 */
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import { parse as parseYaml } from "yaml";
import { decryptPkcs8 } from "../formats/pkcs8.js";
import { parsePemAll, toPem } from "../x509/pem.js";
import { InputError } from "../x509/validate.js";

export const VERSIONS_PATH = "/v1/versions";
export const VERSIONS_BODY = '["v1"]';

/** What the server presents and checks, as PEM text. */
export interface TlsMaterial {
  certPem: string;   // the server certificate, then any intermediates
  keyPem: string;    // unencrypted (PRIVATE KEY, EC/RSA PRIVATE KEY)
  caPem?: string;    // client-certificate auth: trust these CAs and require a client cert
  crlPem?: string;   // CRLs (PEM, one or more) checked against client certificates
}

export interface ServeOptions extends TlsMaterial {
  host: string;
  port: number;
  log?: (line: string) => void;
  maxConnections?: number;
}

export interface RunningServer {
  server: https.Server;
  host: string;
  port: number;
  lastRejection(): string | undefined;
  url: string;
  clientAuth: boolean;
  close(): Promise<void>;
}

/** An unencrypted PEM private key from `pem`, decrypting an ENCRYPTED PRIVATE KEY with `passphrase()`. */
export async function unlockKeyPem(pem: string, what: string, passphrase: () => Promise<string>): Promise<string> {
  const blocks = parsePemAll(pem);
  if (blocks.some((b) => b.label === "ENCRYPTED PRIVATE KEY"))
    return toPem("PRIVATE KEY", await decryptPkcs8(pem, await passphrase(), what));
  if (!blocks.some((b) => /^(|RSA |EC )PRIVATE KEY$/.test(b.label)))
    throw new InputError(`${what}: no PEM private key found`);
  return pem;
}

/** `https://host:port` with IPv6 literals bracketed. */
export function urlOf(host: string, port: number, path = ""): string {
  return `https://${host.includes(":") ? `[${host}]` : host}:${port}${path}`;
}

/** The subject of a TLS peer's certificate as one line ("O=pki, CN=client1"), or undefined. */
export function peerSubject(socket: TLSSocket): string | undefined {
  return socket.getPeerX509Certificate?.()?.subject.split("\n").join(", ");
}

/** Node TLS options for the material: with a CA, client certificates are required and verified. */
export function tlsOptions(m: TlsMaterial): https.ServerOptions {
  const crl = m.crlPem
    ? parsePemAll(m.crlPem)
        .filter((b) => /^(X509 )?CRL$/.test(b.label))
        .map((b) => toPem("X509 CRL", b.der))
    : undefined;
  if (m.crlPem && !crl!.length) throw new InputError("crlfile: no PEM \"X509 CRL\" block found");
  if (crl && !m.caPem) throw new InputError("a CRL needs client-certificate auth: give the cafile too");
  return {
    cert: m.certPem, key: m.keyPem, handshakeTimeout: 10_000,
    ...(m.caPem ? { ca: m.caPem, requestCert: true, rejectUnauthorized: true } : {}),
    ...(crl ? { crl } : {}),
  };
}

/** Most simultaneous connections `pki serve` holds (a test server, not a production one). */
export const MAX_CONNECTIONS = 256;

/** Starts the server; resolves once it listens (port 0 → a free port). */
export async function startServer(o: ServeOptions): Promise<RunningServer> {
  const log = o.log ?? (() => {});
  let server: https.Server;
  try {
    createPrivateKey(o.keyPem);
    server = https.createServer(tlsOptions(o), (req, res) => {
      const ok = req.url === VERSIONS_PATH && (req.method === "GET" || req.method === "HEAD");
      res.writeHead(ok ? 200 : 404, { "content-type": ok ? "application/json" : "text/plain" });
      res.end(ok ? VERSIONS_BODY : "404 not found\n");
      const who = peerSubject(req.socket as TLSSocket);
      log(
        `${new Date().toISOString()} ${req.socket.remoteAddress} ${req.method} ${JSON.stringify(req.url).slice(1, -1).slice(0, 200)} ${res.statusCode}${who ? ` client="${who}"` : ""}`,
      );
    });
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(
      (e as { code?: string }).code === "ERR_OSSL_X509_KEY_VALUES_MISMATCH"
        ? "the key does not match the server certificate (keyfile vs certfile)"
        : `cannot load the TLS files: ${describeTlsError(e as Error)}`,
    );
  }
  // A burst of clients, or idle sockets held open on purpose, cannot pin unbounded memory: excess connections are
  // dropped on accept, a handshake or request that stalls is cut, and an idle keep-alive socket is closed.
  server.maxConnections = o.maxConnections ?? MAX_CONNECTIONS;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  server.setTimeout(30_000, (socket) => socket.destroy());
  const running = { rejection: undefined as string | undefined };
  const peers = new WeakMap<object, string | undefined>();
  server.on("connection", (raw: { remoteAddress?: string }) => peers.set(raw, raw.remoteAddress));
  server.on("tlsClientError", (err, socket) => {
    // Node destroys a socket whose client cert fails verification without a TLS alert: the reason is only here.
    const s = socket as TLSSocket & { _parent?: object };
    running.rejection = s.authorizationError
      ? `bad client certificate: ${s.authorizationError}`
      : describeTlsError(err);
    log(
      `${new Date().toISOString()} ${s.remoteAddress ?? (s._parent && peers.get(s._parent)) ?? "-"} TLS rejected: ${running.rejection}`,
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        new InputError(
          `cannot listen on ${o.host}:${o.port}: ${e.code === "EADDRINUSE" ? "the port is in use (pick another with --port)" : (e.code ?? e.message)}`,
        ),
      ),
    );
    server.listen(o.port, o.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    host: o.host,
    lastRejection: () => {
      const r = running.rejection;
      running.rejection = undefined;
      return r;
    },
    port,
    url: urlOf(o.host, port, VERSIONS_PATH),
    clientAuth: Boolean(o.caPem),
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Why clients connecting to `host` (an IP literal) will refuse the certificate, if they will. */
export function sanWarning(certPem: string, host: string, label: string): string | undefined {
  if (!isIP(host) || host === "0.0.0.0" || host === "::") return undefined;
  const cert = new X509Certificate(certPem);
  if (cert.checkIP(host)) return undefined;
  return `${label} has no IP SAN ${host}: clients of https://${isIP(host) === 6 ? `[${host}]` : host} will refuse it (re-issue with --ip ${host})`;
}

/** One line for an OpenSSL/TLS error: "reason (CODE)". */
export function describeTlsError(e: Error & { code?: string; reason?: string }): string {
  const msg = (e.reason ?? e.message ?? String(e)).split("\n")[0].replace(/^error:[0-9A-F]+:[^:]*:[^:]*:/, "");
  return e.code && !msg.includes(e.code) ? `${msg} (${e.code})` : msg;
}

/** The `api` section of an etcd-style config (YAML or JSON): file paths as written. */
export interface ApiConfig { certfile?: string; keyfile?: string; cafile?: string; crlfile?: string }
const API_KEYS = ["certfile", "keyfile", "cafile", "crlfile"];

export function parseApiConfig(text: string, what = "config"): ApiConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new InputError(`${what}: not valid YAML or JSON: ${(e as Error).message.split("\n")[0]}`);
  }
  const api = (doc as { api?: unknown } | null)?.api;
  if (!api || typeof api !== "object" || Array.isArray(api))
    throw new InputError(`${what}: no "api" section (expected api: {certfile, keyfile, cafile})`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(api)) {
    if (!API_KEYS.includes(k)) throw new InputError(`${what}: unknown key api/${k} (known: ${API_KEYS.join(", ")})`);
    if (v === null || v === undefined) continue;
    if (typeof v !== "string" || !v) throw new InputError(`${what}: api/${k} must be a file path`);
    out[k] = v;
  }
  return out;
}
