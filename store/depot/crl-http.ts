/**
 * Each CA's latest CRL over plain HTTP at the path of its CRL URL (`pki init --crl-url`), as RFC 5280 §4.2.1.13
 * and RFC 5019 clients fetch it: DER, `application/pkix-crl`. Read from the record store at every request, so a
 * `pki revoke` + `pki crl` from any process (any node of a PostgreSQL depot) is served on the next fetch. Without
 * a refresher (`pki serve`) only what `pki crl` signed is served; with one (`pki acme serve`, which holds the CA
 * key), a stale CRL is re-signed before it is served (crl-refresh.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { crlUrlPath, type CrlListenAddr } from "../../lib/x509/crl-dp.js";
import type { ReadTx, RecordStore } from "../records/schema.js";
import type { CrlRefresher } from "./crl-refresh.js";

/** How often an unknown path may make the server look again for the CAs' URLs (a scan of the entries). */
const RESCAN_MS = 2000;

export interface CrlListener {
  urls: string[];
  paths: Map<string, string>;
  /** Starts answering, re-signing stale CRLs with `refresher` if given. */
  serve(refresher?: CrlRefresher): void;
  close(): Promise<void>;
}

/** The path → CA map, rebuilt from the entries now and then; each hit is checked against the CA's record. */
class Routes {
  paths = new Map<string, string>();
  private at = 0;
  constructor(private readonly store: RecordStore) {}

  async scan(tx: ReadTx): Promise<void> {
    const paths = new Map<string, string>();
    for await (const e of tx.list()) if (e.kind === "ca" && e.crlUrl) paths.set(crlUrlPath(e.crlUrl), e.name);
    this.paths = paths;
    this.at = Date.now();
  }

  /** The DER of the CRL the path names; null: no CA publishes there; undefined: the CA has no CRL yet. */
  crlAt(path: string): Promise<{ ca: string; der?: Uint8Array } | null> {
    return this.store.read(async (tx) => {
      let ca = this.paths.get(path);
      const current = ca === undefined ? undefined : await tx.entry(ca);
      if (!current?.crlUrl || crlUrlPath(current.crlUrl) !== path) {
        if (Date.now() - this.at < RESCAN_MS) return null;
        await this.scan(tx);
        if ((ca = this.paths.get(path)) === undefined) return null;
      }
      return { ca: ca!, der: (await tx.crl(ca!))?.der };
    });
  }
}

function problem(res: ServerResponse, status: number, detail: string, head = false): void {
  const body = JSON.stringify({ type: "about:blank", title: detail, status });
  res.writeHead(status, { "Content-Type": "application/problem+json", "Cache-Control": "no-store" });
  res.end(head ? undefined : body);
}

async function answer(
  routes: Routes, refresher: CrlRefresher | undefined, req: IncomingMessage, res: ServerResponse,
): Promise<void> {
  const head = req.method === "HEAD";
  if (req.method !== "GET" && !head) {
    res.setHeader("Allow", "GET, HEAD");
    return problem(res, 405, "only GET and HEAD are served here");
  }
  let path: string;
  try {
    path = crlUrlPath(new URL(req.url ?? "/", "http://localhost").href); // normalised as the CA's URL was
  } catch {
    return problem(res, 400, "the request's target is not a path", head);
  }
  let found;
  try {
    found = await routes.crlAt(path);
  } catch {
    // the store is out of reach for now (a database restarting): the client fetches again
    res.setHeader("Retry-After", "5");
    return problem(res, 503, "the depot cannot be read right now: try again shortly", head);
  }
  if (found === null) return problem(res, 404, "no CA publishes its CRL at this path", head);
  if (refresher) found.der = await refresher.fresh(found.ca, found.der);
  if (!found.der) return problem(res, 404, `the CA "${found.ca}" has no CRL yet ('pki crl' makes one)`, head);
  res.writeHead(200, {
    "Content-Type": "application/pkix-crl",
    "Content-Length": found.der.length,
    "Cache-Control": "no-cache", // a cache asks again each time: a new revocation shows at once
  });
  res.end(head ? undefined : Buffer.from(found.der));
}

/** Why an address could not be bound, with the address and the errno code (EADDRINUSE ...). */
export class CrlListenError extends Error {
  constructor(readonly addr: CrlListenAddr, readonly code: string | undefined) {
    super(`cannot listen on ${addr.host ?? "*"}:${addr.port}: ${code}`);
  }
}

function bind(server: Server, addr: CrlListenAddr): Promise<void> {
  return new Promise<void>((ok, fail) => {
    const failed = (e: NodeJS.ErrnoException) => fail(new CrlListenError(addr, e.code));
    server.once("error", failed);
    // no host: every interface, IPv6 and IPv4 where the system has both (node's own choice, as for `listen(port)`)
    server.listen({ port: addr.port, host: addr.host }, () => { server.off("error", failed); ok(); });
  });
}

const closeServer = (server: Server) => new Promise<void>((ok) => {
  server.closeAllConnections();
  server.close(() => ok());
});

/**
 * Binds every address (port 0: any free port), all or none (CrlListenError names the one that failed). Requests
 * are held until serve(): a refresher that signs missing CRLs starts only once the ports are known to be ours.
 */
export async function listenCrls(store: RecordStore, addrs: CrlListenAddr[]): Promise<CrlListener> {
  const routes = new Routes(store);
  await store.read((tx) => routes.scan(tx));
  let open!: (r: CrlRefresher | undefined) => void;
  const served = new Promise<CrlRefresher | undefined>((r) => (open = r));
  const servers: Server[] = [];
  const closeAll = () => Promise.all(servers.map(closeServer)).then(() => {});
  for (const addr of addrs) {
    const server = createServer((req, res) => {
      served.then((refresher) => answer(routes, refresher, req, res))
        .catch(() => problem(res, 500, "the CRL could not be read"));
    });
    server.headersTimeout = 10_000;
    server.requestTimeout = 10_000;
    await bind(server, addr).catch(async (e) => { await closeAll(); throw e; });
    servers.push(server);
  }
  return {
    urls: servers.map((server) => {
      const a = server.address() as AddressInfo;
      return `http://${a.family === "IPv6" ? `[${a.address}]` : a.address}:${a.port}`;
    }),
    paths: routes.paths,
    serve: open,
    close: closeAll,
  };
}
