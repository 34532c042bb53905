/**
 * The plain-HTTP CRL listener of `pki serve` and `pki acme serve`: on `--crl-listen HOST:PORT`, or by default on
 * each port the CAs' CRL URLs name (lib/x509/crl-dp.ts crlListenAddrs). Bound before the server starts and before
 * anything is signed, so a port that is taken stops the command with one line and nothing served or written.
 */
import { crlListenAddrs, crlUrlProblem, type CrlListenAddr } from "../../lib/x509/crl-dp.js";
import { DepotError } from "../fsutil.js";
import type { RecordStore } from "../records/schema.js";
import { CrlListenError, listenCrls } from "./crl-http.js";
import { CrlRefresher } from "./crl-refresh.js";
import { openRecords, type DepotTarget } from "./locate.js";
import { who, type Session } from "./session.js";

export interface CrlPublisher {
  /** http://ADDRESS:PORT of each listener */
  urls: string[];
  /** URL path → CA, as found at start */
  paths: Map<string, string>;
  /** Answers requests from now on; with `resign` (a server holding the CA key) stale CRLs are re-signed first. */
  publish(resign?: { session: Session; nextUpdate: string; log: (l: string) => void }): Promise<void>;
  close(): Promise<void>;
}

/** Each CA's CRL URL, checked again: the depot is untrusted input. */
async function caCrlUrls(store: RecordStore): Promise<string[]> {
  return store.read(async (tx) => {
    const urls: string[] = [];
    for await (const e of tx.list()) {
      if (e.kind !== "ca" || e.crlUrl === undefined) continue;
      const problem = crlUrlProblem(e.crlUrl);
      if (problem)
        throw new DepotError(`the CRL URL recorded for ${who(e.name)} ${problem}: 'pki crl --set-url' mends it`);
      urls.push(e.crlUrl);
    }
    return urls;
  });
}

const why = (code: string | undefined, port: number) =>
  code === "EADDRINUSE" ? "the port is in use"
    : code === "EADDRNOTAVAIL" ? "no such local address"
      : code === "EACCES" ? `permission denied${port < 1024 ? " (a port under 1024 needs root)" : ""}`
        : String(code);

const ELSEWHERE = "publish them elsewhere with --crl-listen HOST:PORT, or not at all with --crl-listen none";

/** The addresses to bind, refused if one is the server's own port (`serverPort`, 0: any free one). */
function addresses(listen: { host: string; port: number } | undefined, urls: string[], serverPort: number) {
  if (listen) {
    if (listen.port !== 0 && listen.port === serverPort)
      throw new Error(`--crl-listen ${listen.host}:${listen.port} is the server's own port (--port): ` +
        "CRLs are served over plain HTTP, on a port of their own");
    return [{ ...listen, urls: [] }];
  }
  const addrs = crlListenAddrs(urls);
  const same = serverPort ? addrs.find((a) => a.port === serverPort) : undefined;
  if (same)
    throw new Error(`the CRL URL ${same.urls[0]} names port ${same.port}, the server's own (--port): CRLs are ` +
      `served over plain HTTP, on a port of their own: give the server another --port, or ${ELSEWHERE}`);
  return addrs;
}

function listenFailure(e: CrlListenError, explicit: boolean): Error {
  const { host, port, urls } = e.addr;
  if (explicit) return new Error(`cannot listen on ${host}:${port} for CRLs: ${why(e.code, port)}`);
  return new Error(`cannot publish the CRLs of ${urls[0]} on ${host ?? "every interface"}, port ${port}: ` +
    `${why(e.code, port)}: ${ELSEWHERE}`);
}

/**
 * Binds the CRL listener of depot `t`: on `listen` if given, else on the ports of the CAs' CRL URLs (undefined:
 * no CA has one, nothing to publish). Requests wait for publish().
 */
export async function bindCrlListener(
  t: DepotTarget, listen: { host: string; port: number } | undefined, serverPort: number,
): Promise<CrlPublisher | undefined> {
  const store = await openRecords(t, { write: false });
  let refresher: CrlRefresher | undefined;
  try {
    const addrs: CrlListenAddr[] = addresses(listen, listen ? [] : await caCrlUrls(store), serverPort);
    if (!addrs.length) {
      await store.close();
      return undefined;
    }
    const s = await listenCrls(store, addrs).catch((e) => {
      throw e instanceof CrlListenError ? listenFailure(e, listen !== undefined) : e;
    });
    return {
      urls: s.urls,
      paths: s.paths,
      async publish(resign) {
        refresher = resign && new CrlRefresher(resign.session, resign.nextUpdate, resign.log);
        await refresher?.start();
        s.serve(refresher);
      },
      close: async () => { await refresher?.stop(); await s.close(); await store.close(); },
    };
  } catch (e) {
    await store.close();
    throw e;
  }
}
