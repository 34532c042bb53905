/** Shared CLI plumbing: global options, passphrase sources, errors, output. */
import { readFileSync, statSync } from "node:fs";
import type { Argv } from "yargs";

export class UsageError extends Error {}

export const PASSPHRASE_OPTIONS = {
  passphrase: { type: "string", describe: "passphrase (visible to other processes: prefer --passphrase-file or PKI_PASSPHRASE)" },
  "passphrase-file": { type: "string", describe: "read the passphrase from the first line of FILE" },
} as const;

export const KEY_OPTIONS = {
  "key-type": { type: "string", default: "ecdsa", choices: ["ecdsa", "rsa", "ed25519"], describe: "key algorithm (ECDSA P-256 by default; RSA for legacy peers)" },
  curve: { type: "string", choices: ["P-256", "P-384"], describe: "ECDSA curve" },
  "key-bits": { type: "number", choices: [2048, 3072, 4096], describe: "RSA modulus size" },
} as const;

export const SUBJECT_OPTIONS = {
  "common-name": { type: "string", describe: "subject CN" },
  organization: { type: "string", describe: "subject O" },
  "organizational-unit": { type: "string", describe: "subject OU" },
  country: { type: "string", describe: "subject C (two letters)" },
} as const;

export interface PassArgs { passphrase?: string; passphraseFile?: string }

let warned = false;

/**
 * A passphrase from, in order: --passphrase (with a warning), --passphrase-file,
 * PKI_PASSPHRASE, or a no-echo prompt when stdin is a terminal. Never hangs.
 */
export async function getPassphrase(a: PassArgs, purpose: string, opts: { confirm?: boolean; optional?: boolean } = {}): Promise<string | undefined> {
  let p: string | undefined;
  if (a.passphrase !== undefined) {
    if (!warned) process.stderr.write("pki: warning: --passphrase is visible to other processes; prefer --passphrase-file or PKI_PASSPHRASE\n");
    warned = true;
    p = String(a.passphrase);
  } else if (a.passphraseFile !== undefined) {
    p = readInputFile(a.passphraseFile, "--passphrase-file").split(/\r?\n/)[0];
  } else if (process.env.PKI_PASSPHRASE !== undefined) {
    p = process.env.PKI_PASSPHRASE;
  } else if (opts.optional) {
    return undefined;
  } else if (process.stdin.isTTY) {
    const { promptHidden } = await import("./prompt.js");
    p = await promptHidden(`Passphrase for ${purpose}: `);
    if (opts.confirm && (await promptHidden("Repeat the passphrase: ")) !== p) throw new UsageError("the passphrases do not match");
  } else {
    throw new UsageError(`no passphrase for ${purpose}: use --passphrase-file FILE, PKI_PASSPHRASE, or run in a terminal`);
  }
  if (!p) throw new UsageError(`an empty passphrase cannot protect ${purpose}`);
  return p;
}

/** Prints any warnings the depot gathered. */
export function printWarnings(warnings: string[]): void {
  for (const w of warnings) process.stderr.write(`pki: warning: ${w}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}

/** Opens the depot named by --depot / PKI_DEPOT / ./.pki (loaded lazily: start-up stays light). */
export async function openDepot(flag?: string) {
  const { Depot, defaultDepotDir } = await import("../store/depot.js");
  return Depot.open(defaultDepotDir(flag));
}

export function withOptions<T>(y: Argv<T>, ...groups: Record<string, object>[]): Argv<T> {
  for (const g of groups) y = y.options(g as never) as Argv<T>;
  return y;
}

/** Most a config, spec or passphrase file may hold. */
export const MAX_INPUT_FILE = 1 << 20;

/** Reads a user-supplied input file (config, spec): refuses a missing, unreadable or over-1 MB file with one line. */
export function readInputFile(path: string, what = "file"): string {
  let size: number;
  try { size = statSync(path).size; } catch (e) { throw new UsageError(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code}`); }
  if (size > MAX_INPUT_FILE) throw new UsageError(`${what} ${path} is larger than 1 MB`);
  const text = readFileSync(path, "utf8");
  if (text.includes("\0")) throw new UsageError(`${what} ${path} is binary, not text`);
  return text;
}
