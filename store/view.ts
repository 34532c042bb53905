/**
 * Where a depot is and what a directory holds, an entry's state, and a layout-1 depot's depot.json and index.json
 * read through their checks (for its snapshot and its upgrade, store/records/layout1.ts).
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { validityState, type ValidityState } from "../lib/x509/validity.js";
import { DepotError, readText, TEMP_RE } from "./fsutil.js";
import { checkOwnership } from "./ownership.js";
import { checkDepotMeta, checkIndex, inside, MAX_DEPOT_JSON, MAX_INDEX_JSON } from "./integrity.js";
import type { Entry, PastCert } from "./records/schema.js";

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

/**
 * What DIR holds, the one judgement every command makes: a depot (it has depot.json), nothing (absent, or empty
 * but for what a 'pki init' stopped before depot.json leaves), or something else (exported ca.crt/ca.key, notes):
 * not a depot, and no place for a new one.
 */
export type DepotPresence = { kind: "depot" } | { kind: "none" } | { kind: "other"; files: string[] };

export function depotPresence(dir: string): DepotPresence {
  if (existsSync(join(dir, "depot.json")) || existsSync(join(dir, "depot.db"))) return { kind: "depot" };
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) return { kind: "other", files: [] };
    names = readdirSync(dir);
  } catch {
    return { kind: "none" };
  }
  const emptyDir = (n: string) => {
    try { return readdirSync(join(dir, n)).length === 0; } catch { return false; }
  };
  const files = names.filter(
    (n) => !/^(lock|lock\.break)$/.test(n) && !TEMP_RE.test(n) && !(n === "certs" && emptyDir(n)),
  );
  return files.length ? { kind: "other", files: files.sort() } : { kind: "none" };
}

/** The line for a DIR that holds no depot (depotPresence not "depot"), the same from every command. */
export function noDepotMessage(dir: string, p: DepotPresence): string {
  if (p.kind !== "other") return `no depot at ${dir}: run 'pki init' first (or pass --depot DIR)`;
  if (!p.files.length) return `no depot at ${dir}: it is not a directory`;
  const list = p.files.slice(0, 3).join(", ") + (p.files.length > 3 ? ", ..." : "");
  return (
    `no depot at ${dir} (it holds ${list}, but no depot.json): ` +
    "pass --depot DIR, or make a new one in an absent or empty directory"
  );
}

/** Refuses DIR unless a new depot may go there (init, import): nothing there yet, or a depot without a CA. */
export function checkRoomForCA(dir: string, hint = ""): void {
  const p = depotPresence(dir);
  if (p.kind === "other") throw new DepotError(noDepotMessage(dir, p));
  if (p.kind === "depot" && (existsSync(join(dir, "ca.crt")) || existsSync(join(dir, "depot.db"))))
    throw new DepotError(`a CA already exists in ${dir}${hint}`);
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

export function stateOf(e: Entry, now = new Date()): "unsigned" | ValidityState {
  if (e.status === "unsigned") return "unsigned";
  const date = (s?: string) => (s ? new Date(s) : undefined);
  return validityState(date(e.notBefore), date(e.notAfter), e.status === "revoked", now);
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
