/**
 * The plain-HTTP CRL listener beside `pki serve` and `pki acme serve`, publishing each CA's latest CRL at the path
 * of its CRL URL (`pki init --crl-url`): by default on the port each URL names, `--crl-listen HOST:PORT` instead,
 * `--crl-listen none` not at all (as `pki crl --set-url none`). Its own listener, not the server's HTTPS port:
 * CRLs are fetched over plain HTTP.
 */
import type { CrlPublisher } from "../store/depot/crl-listen.js";
import { UsageError } from "./common.js";

export const CRL_LISTEN_OPTION = {
  "crl-listen": {
    type: "string",
    describe: "publish each CA's latest CRL over plain HTTP on HOST:PORT instead of the port of its --crl-url " +
      "(none: not at all)",
  },
} as const;

export interface Listen { host: string; port: number }

/**
 * --crl-listen: HOST:PORT ([v6]:PORT), checked before any prompt; false for `none`; undefined (not given): the
 * ports of the CRL URLs.
 */
export function crlListenFrom(v: unknown): Listen | false | undefined {
  if (v === undefined) return undefined;
  const s = String(Array.isArray(v) ? v[v.length - 1] : v);
  if (s === "none") return false;
  const m = /^(?:\[([0-9a-f:.]+)\]|([\w.-]+)):(\d{1,5})$/i.exec(s);
  const port = Number(m?.[3]);
  if (!m || port > 65535)
    throw new UsageError(`invalid --crl-listen ${JSON.stringify(s).slice(0, 60)}: expected HOST:PORT`);
  return { host: m[1] ?? m[2], port };
}

/**
 * Binds the CRL listener before the server starts (a port conflict is reported before anything is served);
 * undefined when there is nothing to publish: --crl-listen none, no depot, no CA with a CRL URL.
 */
export async function bindCrlListener(
  depot: string | undefined, l: Listen | false | undefined, serverPort: number,
): Promise<CrlPublisher | undefined> {
  if (l === false) return undefined;
  const { recordsTarget } = await import("./records.js");
  const t = await recordsTarget(depot);
  // No depot (a server of --certfile/--keyfile alone): no CRL URLs, so no listener unless --crl-listen asks.
  if (!l && t.kind === "dir" && t.format === "none") return undefined;
  return (await import("../store/depot/crl-listen.js")).bindCrlListener(t, l || undefined, serverPort);
}

/** Starts answering (re-signing stale CRLs with `resign`) and says where. */
export async function publishCrls(c: CrlPublisher, resign?: Parameters<CrlPublisher["publish"]>[0]) {
  await c.publish(resign);
  const what = [...c.paths].map(([path, ca]) => `${ca} ${path}`).join(", ") || "no CA has a CRL URL yet";
  process.stderr.write(`Publishing CRLs on ${c.urls.join(", ")} (${what})\n`);
}
