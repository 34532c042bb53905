/**
 * Where a depot directory is and what it holds, the one judgement every command makes before it opens one: a
 * depot (depot.db, or a layout-1 depot's depot.json), nothing yet, or something else.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { DepotError, TEMP_RE } from "../fsutil.js";

/** The SQLite depot's file in its directory. */
export const DB_FILE = "depot.db";

export const isPgUrl = (s: string) => /^postgres(ql)?:\/\//i.test(s);

export function defaultDepotDir(flag?: string): string {
  return resolve(flag || process.env.PKI_DEPOT || ".pki");
}

export type DepotTarget =
  | { kind: "dir"; dir: string; format: "db" | "layout1" | "none" }
  | { kind: "postgres"; url: string };

/**
 * The depot `--depot`/`PKI_DEPOT` names (default ./.pki), and what a directory holds now. Here, with no driver
 * behind it, so that the KDF's head start (store/keys/early-kdf.ts, in pki.js) makes the same judgement.
 */
export function locateDepot(flag?: string): DepotTarget {
  const arg = flag || process.env.PKI_DEPOT || "";
  if (isPgUrl(arg)) return { kind: "postgres", url: arg };
  const dir = defaultDepotDir(flag);
  const format = existsSync(join(dir, DB_FILE)) ? "db" : existsSync(join(dir, "depot.json")) ? "layout1" : "none";
  return { kind: "dir", dir, format };
}

/**
 * What DIR holds, the one judgement every command makes: a depot (it has depot.json), nothing (absent, or empty
 * but for what a 'pki init' stopped before depot.json leaves), or something else (exported ca.crt/ca.key, notes):
 * not a depot, and no place for a new one.
 */
export type DepotPresence = { kind: "depot" } | { kind: "none" } | { kind: "other"; files: string[] };

export function depotPresence(dir: string): DepotPresence {
  if (existsSync(join(dir, "depot.json")) || existsSync(join(dir, DB_FILE))) return { kind: "depot" };
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
  if (p.kind === "depot" && (existsSync(join(dir, "ca.crt")) || existsSync(join(dir, DB_FILE))))
    throw new DepotError(`a CA already exists in ${dir}${hint}`);
}
