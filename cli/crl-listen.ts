/**
 * `--crl-listen HOST:PORT` of `pki serve` and `pki acme serve`: a plain-HTTP listener beside the server that
 * publishes each CA's latest CRL at the path of its CRL URL (`pki init --crl-url`). Its own listener, not the
 * server's HTTPS port: CRLs are fetched over plain HTTP, and only when asked for.
 */
import type { Session } from "../store/depot/session.js";
import { UsageError } from "./common.js";

export const CRL_LISTEN_OPTION = {
  "crl-listen": {
    type: "string",
    describe: "also publish each CA's latest CRL over plain HTTP on HOST:PORT, at the path of its --crl-url",
  },
} as const;

export interface Listen { host: string; port: number }

/** HOST:PORT ([v6]:PORT) on a record-store depot, checked before any prompt. */
export async function crlListenFrom(v: unknown, depot: string | undefined): Promise<Listen | undefined> {
  if (v === undefined) return undefined;
  const s = String(Array.isArray(v) ? v[v.length - 1] : v);
  const m = /^(?:\[([0-9a-f:.]+)\]|([\w.-]+)):(\d{1,5})$/i.exec(s);
  const port = Number(m?.[3]);
  if (!m || port > 65535)
    throw new UsageError(`invalid --crl-listen ${JSON.stringify(s).slice(0, 60)}: expected HOST:PORT`);
  const { recordsTarget } = await import("./records.js");
  if (!(await recordsTarget(depot)))
    throw new Error("--crl-listen publishes the CRLs of a depot.db depot (made by 'pki init --crl-url')");
  return { host: m[1] ?? m[2], port };
}

/**
 * Opens the depot's record store and listens; a layout-1 depot has no CRL URLs to publish. `resign` (acme serve,
 * which holds the CA key): stale or missing CRLs are re-signed, the first time before the listener answers.
 */
export async function startCrlListener(
  depot: string | undefined, l: Listen, resign?: { session: Session; nextUpdate: string },
) {
  const { recordsTarget } = await import("./records.js");
  const t = (await recordsTarget(depot))!; // crlListenFrom refused any other
  const { openRecords } = await import("../store/depot/locate.js");
  const { listenCrls } = await import("../store/depot/crl-http.js");
  const { CrlRefresher } = await import("../store/depot/crl-refresh.js");
  const log = (m: string) => process.stderr.write(m + "\n");
  const refresher = resign && new CrlRefresher(resign.session, resign.nextUpdate, log);
  await refresher?.start();
  const store = await openRecords(t, { write: false });
  const s = await listenCrls(store, l.host, l.port, refresher).catch(async (e) => {
    await refresher?.stop();
    await store.close();
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`cannot listen on ${l.host}:${l.port} for CRLs: ${code === "EADDRINUSE" ? "the port is in use" :
      code === "EADDRNOTAVAIL" ? "no such local address" : code === "EACCES" ? "permission denied" : String(code)}`);
  });
  const what = [...s.paths].map(([path, ca]) => `${ca} ${path}`).join(", ") || "no CA has a CRL URL yet";
  process.stderr.write(`Publishing CRLs on ${s.url} (${what})\n`);
  return { close: async () => { await refresher?.stop(); await s.close(); await store.close(); } };
}
