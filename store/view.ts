/**
 * The depot, read-only: depot.json, index.json and each entry's state, without the crypto stack, so that
 * `pki list` and `pki status` load little more than node itself. Depot (depot.ts) extends this class:
 * every reader of the index goes through the same checks.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { validityState, type ValidityState } from "../lib/x509/validity.js";
import { checkName, InputError } from "../lib/x509/validate.js";
import { DepotError, readText, TEMP_RE } from "./fsutil.js";
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

/**
 * Whether the depot --depot / PKI_DEPOT / ./.pki names is on the record store (a directory holding depot.db, or a
 * postgresql:// URL): the commands moved onto it take their new path (store/depot/); a layout-1 depot keeps the
 * old one. Answered here, without loading the record store, so that `pki list` on layout 1 stays as light.
 */
export function recordsDepot(flag?: string): boolean {
  void flag;
  return true;
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
export function readMeta(dir: string, o: { lax?: boolean } = {}): DepotMeta {
  const presence = depotPresence(dir);
  if (presence.kind !== "depot") throw new DepotError(noDepotMessage(dir, presence));
  // doctor opens laxly: it reports (and with --fix narrows) what checkOwnership refuses.
  if (!o.lax) checkOwnership(dir);
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

  /** Every entry with its state, the root first, then as String#localeCompare orders the names. */
  list(now = new Date()): Array<Entry & { state: string }> {
    const entries = Object.values(this.readIndex().entries);
    const order = entries.every((e) => NAME_CHARS.test(e.name)) && rootCollation() ? rootOrder : localeOrder;
    return entries
      .sort((a, b) => (a.name === ROOT ? -1 : b.name === ROOT ? 1 : order(a.name, b.name)))
      .map((e) => ({ ...e, state: stateOf(e, now) }));
  }
}

const localeOrder = (a: string, b: string) => a.localeCompare(b);
const NAME_CHARS = /^[A-Za-z0-9._-]*$/;
const PRIMARY = "_-.0123456789abcdefghijklmnopqrstuvwxyz";

/**
 * Whether localeCompare uses ICU's root collation: ICU takes the default locale from LC_ALL, LC_MESSAGES or LANG,
 * and C, POSIX and English add nothing to the root order. Anything else (a locale that sorts "aa" after "z", an
 * @-modifier, other ICU data) keeps localeCompare itself.
 */
function rootCollation(env = process.env): boolean {
  const locale = env.LC_ALL || env.LC_MESSAGES || env.LANG;
  const otherData = env.NODE_ICU_DATA || /--icu-data-dir/.test(env.NODE_OPTIONS ?? "");
  return !otherData && (!locale || /^(C|POSIX|en)([_.][A-Za-z0-9_.-]*)?$/.test(locale));
}

/**
 * localeCompare's order of two names of A-Z a-z 0-9 . _ - under the root collation, without its first call's
 * cost (loading ICU's collator, ~5 ms of a 50 ms `pki list`): _ - . then digits then letters, case ignored; of
 * names that differ only in case, the one whose first difference is lowercase comes first.
 */
export function rootOrder(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = PRIMARY.indexOf(a[i].toLowerCase()) - PRIMARY.indexOf(b[i].toLowerCase());
    if (d) return d < 0 ? -1 : 1;
  }
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] > b[i] ? -1 : 1; // "a" > "A": lowercase first
  return 0;
}
