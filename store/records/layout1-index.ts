/**
 * A layout-1 depot's depot.json and index.json, read through their checks (integrity.ts): what its snapshot and
 * its upgrade read (layout1.ts), and the shape an import reads etcd-ca and certstrap into.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DepotError, readText } from "../fsutil.js";
import { checkOwnership } from "../ownership.js";
import { depotPresence, noDepotMessage } from "./presence.js";
import { checkDepotMeta, checkIndex, inside, MAX_DEPOT_JSON, MAX_INDEX_JSON } from "./integrity.js";
import type { Entry, PastCert } from "./schema.js";

/** A layout-1 depot's depot.json. */
export interface DepotMeta { layout: number; kdf: { salt: string; iterations: number }; created: string }

/** A layout-1 depot's index.json (and what an import reads from etcd-ca or certstrap, before it is recorded). */
export interface Index {
  entries: Record<string, Entry>;
  serials: string[];
  crlNumbers?: Record<string, number>;
  serialFloor?: string /* hex (import) */;
  // certificates of entries removed by `pki rm`: their revocations stay on CRLs
  removed?: Array<PastCert & { name: string }>;
}

export const LAYOUT_VERSION = 1;

export function parseJson<T>(text: string, what: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new DepotError(`${what} is damaged (not JSON): run 'pki doctor'`);
  }
}

/** depot.json of an existing depot; refuses a layout newer than this binary understands. */
export function readMeta(dir: string): DepotMeta {
  const presence = depotPresence(dir);
  if (presence.kind !== "depot") throw new DepotError(noDepotMessage(dir, presence));
  checkOwnership(dir);
  const meta = parseJson<DepotMeta>(readText(join(dir, "depot.json"), "depot.json", MAX_DEPOT_JSON), "depot.json");
  checkDepotMeta(meta);
  if (meta.layout > LAYOUT_VERSION)
    throw new DepotError(
      `depot layout version ${meta.layout} is newer than this pki understands (${LAYOUT_VERSION}): upgrade pki`,
    );
  return meta;
}

export class DepotView {
  constructor(readonly dir: string, readonly meta: DepotMeta) {}

  static open(dir: string): DepotView { return new DepotView(dir, readMeta(dir)); }

  path(...parts: string[]): string { return inside(this.dir, join(this.dir, ...parts)); }

  readIndex(): Index {
    const p = this.path("index.json");
    if (!existsSync(p)) return { entries: {}, serials: [] };
    const idx = parseJson<Index>(readText(p, "index.json", MAX_INDEX_JSON), "index.json");
    checkIndex(idx);
    return idx;
  }
}
