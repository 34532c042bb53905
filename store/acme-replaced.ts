/**
 * Which certificate an ACME certificate replaced (newOrder's `replaces`, RFC 9773), as its order recorded it: for
 * `pki list`. Reads only the order files, with no crypto stack, so that `pki list` stays light.
 */
import { existsSync } from "node:fs";
import { checkName } from "../lib/x509/validate.js";
import { DepotError, readText } from "./fsutil.js";
import { parseJson, type DepotView } from "./view.js";

const ID_RE = /^[\w-]{1,64}$/;

/** The replaced entry's name; a layout-1 depot's acme/orders/ORDER.json, checked as any depot file. */
export function layout1Replaced(view: DepotView, order: string): string | undefined {
  if (!ID_RE.test(order)) return undefined;
  const rel = `acme/orders/${order}.json`;
  const p = view.path("acme", "orders", `${order}.json`);
  if (!existsSync(p)) return undefined;
  const o = parseJson<{ replacesCert?: unknown }>(readText(p, rel), rel);
  if (o === null || typeof o !== "object" || o.replacesCert === undefined) return undefined;
  try {
    return checkName(String(o.replacesCert));
  } catch {
    throw new DepotError(`${rel} is damaged: replacesCert is not an entry name: run 'pki doctor'`);
  }
}
