/**
 * The depot, read-only: depot.json, index.json and each entry's state, without the crypto stack, so that
 * `pki list` and `pki status` load little more than node itself. Depot (depot.ts) extends this class:
 * every reader of the index goes through the same checks.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { validityState, type ValidityState } from "../lib/x509/validity.js";
import { checkName, InputError } from "../lib/x509/validate.js";
import { DepotError, readText } from "./fsutil.js";
import { checkOwnership } from "./ownership.js";
import { checkDepotMeta, checkIndex, inside, MAX_DEPOT_JSON, MAX_INDEX_JSON } from "./integrity.js";
import type { DepotMeta, Entry, Index } from "./depot.js";

export const LAYOUT_VERSION = 1;
export const ROOT = "ca";

export function defaultDepotDir(flag?: string): string {
  return resolve(flag || process.env.PKI_DEPOT || ".pki");
}

export function parseJson<T>(text: string, what: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new DepotError(`${what} is damaged (not JSON): run 'pki doctor'`);
  }
}

/** depot.json of an existing depot; refuses a layout newer than this binary understands. */
export function readMeta(dir: string, o: { lax?: boolean } = {}): DepotMeta {
  // doctor opens laxly: it reports (and with --fix narrows) what checkOwnership refuses.
  if (!o.lax && existsSync(join(dir, "depot.json"))) checkOwnership(dir);
  if (!existsSync(join(dir, "depot.json")))
    throw new DepotError(`no depot at ${dir}: run 'pki init' first (or pass --depot DIR)`);
  const meta = parseJson<DepotMeta>(readText(join(dir, "depot.json"), "depot.json", MAX_DEPOT_JSON), "depot.json");
  checkDepotMeta(meta);
  if (meta.layout > LAYOUT_VERSION)
    throw new DepotError(
      `depot layout version ${meta.layout} is newer than this pki understands (${LAYOUT_VERSION}): upgrade pki`,
    );
  return meta;
}

export function stateOf(e: Entry, now = new Date()): "unsigned" | ValidityState {
  if (e.status === "unsigned") return "unsigned";
  const date = (s?: string) => (s ? new Date(s) : undefined);
  return validityState(date(e.notBefore), date(e.notAfter), e.status === "revoked", now);
}

/** The depot named by --depot / PKI_DEPOT / ./.pki, read-only. */
export function openView(flag?: string): DepotView {
  return DepotView.open(defaultDepotDir(flag));
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

  entry(name: string): Entry {
    checkName(name);
    const e = this.readIndex().entries[name];
    if (!e) throw new InputError(`unknown name "${name}": see 'pki list'`);
    return e;
  }

  /** Every entry with its state, the root first. */
  list(now = new Date()): Array<Entry & { state: string }> {
    const idx = this.readIndex();
    return Object.values(idx.entries)
      .sort((a, b) => (a.name === ROOT ? -1 : b.name === ROOT ? 1 : a.name.localeCompare(b.name)))
      .map((e) => ({ ...e, state: stateOf(e, now) }));
  }
}
