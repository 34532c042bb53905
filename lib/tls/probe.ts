/** One HTTPS request of `pki check` (GET /v1/versions) and what came of it: served, or refused by whom and why. */
import https from "node:https";
import { checkServerIdentity } from "node:tls";
import { isIP } from "node:net";
import { describeTlsError, VERSIONS_BODY, VERSIONS_PATH } from "./server.js";

/** A TLS client identity: PEM cert + key, or a PKCS#12 bundle. */
export interface ClientId { label: string; certPem?: string; keyPem?: string; pfx?: Buffer; password?: string }

export type Outcome =
  | { kind: "served"; status: number; body: string }
  | { kind: "http"; status: number; body: string }
  | { kind: "client-rejected" | "server-rejected" | "error"; code: string; reason: string };

/** Where to connect; an in-process server also tells why it refused a client (node closes without an alert). */
export interface Target { host: string; port: number; lastRejection?: () => string | undefined }

/** GET /v1/versions on `to`, verifying the server as `name` (a host or IP) against `ca` (none: system roots). */
export async function probe(
  to: Target,
  name: string,
  o: { ca?: string; client?: ClientId; timeoutMs?: number } = {},
): Promise<Outcome> {
  to.lastRejection?.();
  const out = await request(to, name, o);
  if (out.kind !== "server-rejected" || !to.lastRejection) return out;
  let why = to.lastRejection();
  for (let i = 0; !why && i < 20; i++)
    why = await new Promise<string | undefined>((r) => setTimeout(() => r(to.lastRejection!()), 10));
  return why ? { ...out, reason: why } : out;
}

function request(
  to: Target,
  name: string,
  o: { ca?: string; client?: ClientId; timeoutMs?: number },
): Promise<Outcome> {
  return new Promise((resolve) => {
    const c = o.client;
    const req = https.request(
      {
        host: to.host,
        port: to.port,
        path: VERSIONS_PATH,
        method: "GET",
        agent: false,
        headers: { host: `${isIP(name) === 6 ? `[${name}]` : name}:${to.port}` },
        ...(isIP(name) ? {} : { servername: name }),
        checkServerIdentity: (_h, cert) => checkServerIdentity(name, cert),
        ...(o.ca ? { ca: o.ca } : {}),
        ...(c?.pfx ? { pfx: c.pfx, passphrase: c.password } : c ? { cert: c.certPem, key: c.keyPem } : {}),
        timeout: o.timeoutMs ?? 10_000,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d) => {
          body += d;
        });
        res.on("end", () =>
          resolve({
            kind: res.statusCode === 200 && body === VERSIONS_BODY ? "served" : "http",
            status: res.statusCode ?? 0,
            body,
          }),
        );
        res.on("error", (e) => resolve(classify(e)));
      },
    );
    req.on("timeout", () => req.destroy(Object.assign(new Error("no answer (timeout)"), { code: "ETIMEDOUT" })));
    req.on("error", (e) => resolve(classify(e)));
    req.end();
  });
}

/**
 * Who refused: our client (the server's cert), the server (a TLS alert, or a reset after our handshake), or neither.
 */
export function classify(e: Error & { code?: string }): Outcome {
  const code = e.code ?? "";
  const reason = describeTlsError(e).replace(/ \([A-Z0-9_]+\)$/, "").replace(/:\s*$/, "");
  if (/^ERR_SSL_.*ALERT/.test(code))
    return { kind: "server-rejected", code, reason: reason.replace(/^(ssl\/)?(sslv3|tlsv1|tlsv13) /, "") };
  if (code === "ECONNRESET" || code === "EPIPE") return { kind: "server-rejected", code, reason: "connection reset" };
  if (
    code === "ERR_TLS_CERT_ALTNAME_INVALID" ||
    (/^[A-Z][A-Z0-9_]+$/.test(code) && !/^E[A-Z]+$/.test(code) && !code.startsWith("ERR_"))
  )
    return { kind: "client-rejected", code, reason };
  return { kind: "error", code, reason };
}

export function showOutcome(o: Outcome): string {
  if (o.kind === "served") return `served ${o.status} ${o.body}`;
  if (o.kind === "http") return `HTTP ${o.status}`;
  return `${o.kind === "error" ? "error" : WHO[o.kind]}: ${o.reason}`;
}

export const WHO = {
  served: "served",
  "client-rejected": "rejected by client",
  "server-rejected": "rejected by server",
} as const;
