/**
 * The ACME server over HTTPS: routing, body limits, nonces, JWS checks (url, nonce, kid/jwk, signature),
 * Replay-Nonce / Link / Location headers, problem documents, one log line per request.
 * Any failure becomes a problem document: a request never crashes the server.
 */
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import net, { type AddressInfo } from "node:net";
import type { JWK } from "jose";
import { AcmeProblem, boundName, directory, problem, urls, type Urls } from "./protocol.js";
import { MAX_BODY, parseJws, payloadJson, protectedHeader, verifyWith } from "./jws.js";
import { AcmeService, type Reply, type ServiceOptions } from "./service.js";
import type { AcmeBackend } from "./backend.js";
import { clientOf } from "./nonces.js";

export interface AcmeServerOptions extends ServiceOptions {
  host: string;
  port: number;
  certPem: string;
  keyPem: string;
  /** The names the server's certificate carries: a Host header naming one of them is used in links. */
  names: string[];
  /** https://HOST[:PORT] the clients reach (a proxy in front): every link uses it, whatever the Host header. */
  externalUrl?: string;
}
export interface RunningAcme {
  url: string;
  port: number;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    if (Number(req.headers["content-length"] ?? 0) > MAX_BODY) {
      req.resume();
      reject(problem("malformed", `the request body exceeds ${MAX_BODY} bytes`, 413));
      return;
    }
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        req.removeAllListeners("data");
        req.resume();
        reject(problem("malformed", `the request body exceeds ${MAX_BODY} bytes`, 413));
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

const ROUTES: Array<[RegExp, string]> = [
  [/^\/acme\/acct\/([\w-]{1,64})$/, "account"],
  [/^\/acme\/acct\/([\w-]{1,64})\/orders$/, "orders"],
  [/^\/acme\/order\/([\w-]{1,64})$/, "order"],
  [/^\/acme\/order\/([\w-]{1,64})\/finalize$/, "finalize"],
  [/^\/acme\/authz\/([\w-]{1,64})$/, "authz"],
  [/^\/acme\/chall\/([\w-]{1,64})\/(http-01|tls-alpn-01|dns-01)$/, "challenge"],
  [/^\/acme\/cert\/([\w-]{1,64})$/, "cert"],
  [/^\/acme\/new-account$/, "newAccount"],
  [/^\/acme\/new-order$/, "newOrder"],
  [/^\/acme\/revoke-cert$/, "revokeCert"],
  [/^\/acme\/key-change$/, "keyChange"],
];

export class AcmeHttp {
  readonly service: AcmeService;
  constructor(
    readonly store: AcmeBackend,
    readonly o: AcmeServerOptions,
  ) {
    this.service = new AcmeService(store, o);
  }

  /**
   * The base URL of every link: --external-url, else the Host header when it names this server (a name its
   * certificate carries, on the port it listens on), else the bound address. Links never carry a name a client made
   * up.
   */
  private base(req: IncomingMessage): string {
    if (this.o.externalUrl) return this.o.externalUrl;
    const m = /^(\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9.-]{1,253})(?::(\d{1,5}))?$/.exec(req.headers.host ?? "");
    const name = m?.[1].replace(/^\[|\]$/g, "").toLowerCase();
    if (m && name && Number(m[2] ?? 443) === this.o.port && this.o.names.includes(name))
      return `https://${m[1].toLowerCase()}:${this.o.port}`;
    return `https://${hostForUrl(boundName(this.o.host))}:${this.o.port}`;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const base = this.base(req);
    const u = urls(base);
    const path = (req.url ?? "/").split("?")[0];
    const failed = (e: unknown): Reply => {
      const p = e instanceof AcmeProblem ? e : problem("serverInternal", "internal error", 500);
      if (!(e instanceof AcmeProblem))
        this.o.log?.(`${new Date().toISOString()} internal error: ${(e as Error)?.stack ?? e}`);
      return {
        status: p.status,
        body: p.doc(),
        type: "application/problem+json",
        location: p.headers.location,
        retryAfter: p.headers["retry-after"],
      };
    };
    let reply: Reply;
    try {
      reply = await this.route(req, u, base, path);
    } catch (e) {
      reply = failed(e);
    }
    // With the state out of reach no nonce can be recorded: other answers go without one, newNonce's is that error.
    let nonce: string | undefined;
    try {
      nonce = await this.store.newNonce(clientOf(req.socket.remoteAddress));
    } catch (e) {
      if (path === "/acme/new-nonce" && reply.status < 400) reply = failed(e);
    }
    const headers: Record<string, string | string[]> = {
      "cache-control": "no-store",
      link: [`<${u.directory}>;rel="index"`, ...(reply.links ?? [])],
    };
    if (nonce) headers["replay-nonce"] = nonce;
    if (reply.location) headers.location = reply.location;
    if (reply.retryAfter) headers["retry-after"] = String(reply.retryAfter);
    let body = "";
    if (reply.body !== undefined) {
      body = typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body, null, 2);
      headers["content-type"] = reply.type ?? "application/json";
    }
    // Without a length node closes the connection after a HEAD answer (it cannot tell where it ends): acme-client
    // asks newNonce by HEAD before each request, so each would cost a new TLS handshake. 204 carries none (RFC 9110).
    if (reply.status !== 204) headers["content-length"] = String(Buffer.byteLength(body));
    res.writeHead(reply.status, headers);
    res.end(req.method === "HEAD" ? undefined : body);
    const type =
      reply.type === "application/problem+json" ? ` ${(reply.body as { type: string }).type.replace(/^.*:/, "")}` : "";
    this.o.log?.(
      `${new Date().toISOString()} ${req.socket.remoteAddress} ${req.method} ${JSON.stringify(path).slice(1, -1).slice(0, 120)} ${reply.status}${type}`,
    );
  }

  private async route(req: IncomingMessage, u: Urls, base: string, path: string): Promise<Reply> {
    const get = req.method === "GET" || req.method === "HEAD";
    if (path === "/acme/directory" || path === "/directory") {
      if (!get) throw problem("malformed", "the directory is read with GET", 405);
      return { status: 200, body: directory(u, { eab: this.o.eab }) };
    }
    if (path === "/acme/new-nonce") {
      if (!get) throw problem("malformed", "newNonce is read with HEAD or GET", 405);
      return { status: req.method === "HEAD" ? 200 : 204 };
    }
    const ari = /^\/acme\/renewal-info\/([^/]{1,256})$/.exec(path);
    if (ari) {
      if (!get) throw problem("malformed", "renewal information is read with GET", 405);
      return this.service.renewalInfo(ari[1]);
    }
    const route = ROUTES.find(([re]) => re.test(path));
    if (!route) throw problem("malformed", "no such resource", 404);
    if (req.method !== "POST") throw problem("malformed", "ACME resources are read with POST-as-GET", 405);
    const [re, name] = route;
    const args = re.exec(path)!.slice(1);
    const ctype = String(req.headers["content-type"] ?? "")
      .split(";")[0]
      .trim();
    if (ctype !== "application/jose+json")
      throw problem("malformed", "the content type must be application/jose+json", 415);
    const jws = parseJws(await readBody(req));
    const h = protectedHeader(jws);
    if (h.url !== base + path)
      throw problem("unauthorized", `the JWS url ${JSON.stringify(h.url).slice(0, 100)} is not the request URL`, 401);
    if (!(await this.store.useNonce(h.nonce!))) throw problem("badNonce", "the nonce is unknown, used or expired: fetch a new one");
    const jwkAllowed = name === "newAccount" || name === "revokeCert";
    if (h.jwk && !jwkAllowed) throw problem("malformed", "this request must be signed with the account key (kid)");
    if (h.kid && name === "newAccount") throw problem("malformed", "newAccount must carry the new account's key (jwk)");
    let account;
    let jwk: JWK;
    if (h.kid) {
      const m = /\/acme\/acct\/([\w-]{1,64})$/.exec(h.kid);
      if (!m || !h.kid.startsWith(base))
        throw problem("accountDoesNotExist", "kid is not an account URL of this server");
      account = await this.service.accountOf(m[1]);
      jwk = account.jwk as JWK;
    } else jwk = h.jwk!;
    const payload = payloadJson(await verifyWith(jws, jwk, h.alg));
    const s = this.service;
    switch (name) {
      case "newAccount":
        return s.newAccount(u, jwk, payload);
      case "revokeCert":
        return s.revoke(account ? { account } : { jwk }, payload);
      case "account":
        return s.updateAccount(u, account!, args[0], payload);
      case "orders":
        return s.accountOrders(u, account!, args[0]);
      case "keyChange":
        return s.keyChange(u, account!, payload);
      case "newOrder":
        return s.newOrder(u, account!, payload);
      case "order":
        return s.getOrder(u, account!, args[0]);
      case "authz":
        return s.getAuthz(u, account!, args[0], payload);
      case "challenge":
        return s.challenge(u, account!, args[0], args[1], payload);
      case "finalize":
        return s.finalize(u, account!, args[0], payload);
      default:
        return s.certificate(account!, args[0]);
    }
  }
}

const hostForUrl = (host: string) => (host.includes(":") ? `[${host}]` : host);

/** Binds and releases host:port, so a server that cannot listen fails before anything is prepared for it. */
export function probeListen(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        problem(
          "serverInternal",
          `cannot listen on ${host}:${port}: ${e.code === "EADDRINUSE" ? "the port is in use" : (e.code ?? e.message)}`,
        ),
      ),
    );
    s.listen(port, host, () => s.close(() => resolve()));
  });
}

/** Starts the HTTPS server; resolves once it listens (port 0: any free port). */
export async function startAcmeServer(store: AcmeBackend, o: AcmeServerOptions): Promise<RunningAcme> {
  const app = new AcmeHttp(store, o);
  const server = https.createServer({ cert: o.certPem, key: o.keyPem }, (req, res) => {
    app.handle(req, res).catch(() => {
      try {
        res.destroy();
      } catch {
        /* gone */
      }
    });
  });
  // Clients keep connections open between polls: outlast their idle time, so a request never meets a socket being
  // closed.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 70_000;
  server.on("clientError", (_e, socket) => socket.destroy());
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(problem("serverInternal", `cannot listen on ${o.host}:${o.port}: ${e.code ?? e.message}`)),
    );
    server.listen(o.port, o.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  app.o.port = port;
  return {
    url: `${o.externalUrl ?? `https://${hostForUrl(boundName(o.host))}:${port}`}/acme/directory`,
    port,
    close: async () => {
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
      app.service.stop();
      await Promise.allSettled([...app.service.pending]);
    },
  };
}
