/** Shared CLI plumbing: global options, passphrase sources, errors, output. */
import { readFileSync, readSync, statSync } from "node:fs";

export class UsageError extends Error {
  override name = "UsageError";
}

export const PASSPHRASE_OPTIONS = {
  passphrase: {
    type: "string",
    describe: "passphrase (visible to other processes: prefer --passphrase-file or PKI_PASSPHRASE)",
  },
  "passphrase-file": {
    type: "string",
    describe: "read the passphrase from the first line of FILE ('-': stdin; or set PKI_PASSPHRASE_FILE)",
  },
} as const;

/** A new key's passphrase of its own, instead of the depot's (which must open the signing CA's key). */
export const KEY_PASSPHRASE_OPTION = {
  "key-passphrase-file": {
    type: "string",
    describe: "a passphrase of the new key's own, from the first line of FILE ('-': stdin); default: the CA key's",
  },
} as const;

/** One password for the .p12 and keystore files an export or a fixture set writes (never the passphrase). */
export const EXPORT_PASSWORD_OPTION = {
  "export-password-file": {
    type: "string",
    describe: "read the password of the .p12 and keystore files from the first line of FILE ('-': stdin)",
  },
} as const;
export const EXPORT_PASSWORD_SOURCE = {
  option: "export-password", env: "PKI_EXPORT_PASSWORD", noun: "password",
} as const satisfies SecretSource;

export const KEY_OPTIONS = {
  "key-type": {
    type: "string",
    default: "ecdsa",
    choices: ["ecdsa", "rsa", "ed25519"],
    describe: "key algorithm (ECDSA P-256 by default; RSA for legacy peers)",
  },
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

/**
 * Refuses (with WrongPassphraseError) a passphrase that does not open the depot key it is meant for: a prompt then
 * asks again, as ssh and gpg do.
 */
export type PassphraseCheck = (passphrase: string) => Promise<unknown>;

/**
 * The passphrase of CA `ca`'s key (a prompt asks again when it does not open it), and a
 * session holding the depot's KDF derived with it.
 */
export async function recordsSession(
  a: PassArgs | Record<string, unknown>,
  dir: string,
  store: import("../store/records/schema.js").RecordStore,
  ca: string,
) {
  const { checkKeyPassphrase, sessionOn } = await import("../store/depot/session.js");
  const what = ca === "ca" ? "the CA key" : `the key of the CA "${ca}"`;
  const passphrase = (await getPassphrase(a, what, { verify: (p) => checkKeyPassphrase(store, ca, p) }))!;
  const s = await sessionOn(dir, store, passphrase);
  if (process.stdin.isTTY) s.pin = { prompt: (await import("./prompt.js")).promptHidden }; // a CA key in a token
  return s;
}

/** Where a secret comes from: --OPTION (with a warning), --OPTION-file, the ENV variable, or a prompt. */
export interface SecretSource { option: string; env: string; noun: string }
export const PASSPHRASE_SOURCE: SecretSource = { option: "passphrase", env: "PKI_PASSPHRASE", noun: "passphrase" };

const warned = new Set<string>();
const camel = (s: string) => s.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());

/**
 * A passphrase from, in order: --passphrase (with a warning), --passphrase-file, PKI_PASSPHRASE,
 * PKI_PASSPHRASE_FILE, or a no-echo prompt when stdin is a terminal. Never hangs.
 * `opts.source` names other options for another secret (e.g. --p12-password, PKI_P12_PASSWORD).
 */
export async function getPassphrase(
  a: PassArgs | Record<string, unknown>,
  purpose: string,
  opts: { confirm?: boolean; optional?: boolean; source?: SecretSource; verify?: PassphraseCheck } = {},
): Promise<string | undefined> {
  const { option, env, noun } = opts.source ?? PASSPHRASE_SOURCE;
  const flag = last((a as Record<string, unknown>)[camel(option)]),
    file = last((a as Record<string, unknown>)[camel(`${option}-file`)]);
  let p: string | undefined;
  if (flag !== undefined) {
    if (!warned.has(option))
      process.stderr.write(
        `pki: warning: --${option} is visible to other processes; prefer --${option}-file or ${env}\n`,
      );
    warned.add(option);
    p = String(flag);
  } else if (file !== undefined) {
    p = readSecretFile(String(file), `--${option}-file`);
  } else if (process.env[env] !== undefined) {
    p = process.env[env];
  } else if (process.env[`${env}_FILE`]) {
    p = readSecretFile(process.env[`${env}_FILE`]!, `${env}_FILE`);
  } else if (opts.optional) {
    return undefined;
  } else if (process.stdin.isTTY) {
    const { promptHidden, promptChecked } = await import("./prompt.js");
    const question = `${noun[0].toUpperCase()}${noun.slice(1)} for ${purpose}: `;
    const empty = () => new UsageError(`an empty ${noun} cannot protect ${purpose}`);
    if (opts.verify) return promptChecked(question, opts.verify, empty);
    p = await promptHidden(question);
    if (opts.confirm && (await promptHidden(`Repeat the ${noun}: `)) !== p)
      throw new UsageError(`the ${noun}s do not match`);
  } else {
    throw new UsageError(
      `no ${noun} for ${purpose}: use --${option}-file FILE, ${env}_FILE, ${env}, or run in a terminal`,
    );
  }
  if (!p) throw new UsageError(`an empty ${noun} cannot protect ${purpose}`);
  return p;
}

/**
 * The passphrase getPassphrase would return, when it is at hand without a prompt, stdin or a warning; else
 * undefined (never throws). Lets a command start the depot's KDF before it loads the rest of pki.
 */
export function passphraseAtHand(a: Record<string, unknown>): string | undefined {
  try {
    const flag = last(a.passphrase), file = last(a.passphraseFile);
    if (flag !== undefined) return String(flag) || undefined;
    if (file !== undefined) return file === "-" ? undefined : readSecretFile(String(file), "") || undefined;
    if (process.env.PKI_PASSPHRASE !== undefined) return process.env.PKI_PASSPHRASE || undefined;
    const envFile = process.env.PKI_PASSPHRASE_FILE;
    return envFile && envFile !== "-" ? readSecretFile(envFile, "") || undefined : undefined;
  } catch {
    return undefined;
  }
}

/** A string option given more than once arrives as an array: the last one wins, as in most CLIs. */
export function last<T>(v: T | T[]): T {
  return Array.isArray(v) ? v[v.length - 1] : v;
}

/** Prints any warnings the depot gathered. */
export function printWarnings(warnings: string[]): void {
  for (const w of warnings) process.stderr.write(`pki: warning: ${w}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}

/** Most a config, spec or passphrase file may hold. */
export const MAX_INPUT_FILE = 1 << 20;

/** Why a path cannot be read, in words (never a raw EISDIR). */
export function fileProblem(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  const words: Record<string, string> = {
    ENOENT: "not found", ENOTDIR: "not found", EISDIR: "is a directory", EACCES: "permission denied",
    EPERM: "permission denied", ELOOP: "too many symbolic links", ENAMETOOLONG: "name too long",
  };
  return (code && words[code]) ?? (e as Error).message ?? String(e);
}

let stdinBytes: Buffer | undefined;
let stdinLinesTaken = 0;

/**
 * All of stdin, read once and synchronously (input files are read before any work starts). Not readFileSync(0):
 * it fails with EAGAIN when stdin is a non-blocking pipe (`pki chain web | pki inspect -`).
 */
function readStdin(what: string): Buffer {
  if (stdinBytes !== undefined) return stdinBytes;
  if (process.stdin.isTTY) throw new UsageError(`${what} -: stdin is a terminal; pipe the input in, or name a file`);
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(1 << 16);
  for (let total = 0; ;) {
    let n: number;
    try {
      n = readSync(0, buf, 0, buf.length, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EAGAIN") { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5); continue; }
      if (code === "EOF") break;
      throw new UsageError(`cannot read ${what} from stdin: ${fileProblem(e)}`);
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
    if ((total += n) > MAX_INPUT_FILE) throw new UsageError(`${what} -: stdin holds more than 1 MB`);
  }
  return (stdinBytes = Buffer.concat(chunks));
}

/**
 * Reads a user-supplied input file (config, spec, passphrase): '-' is stdin; anything but a regular file
 * (a directory, device, FIFO), a missing or unreadable file, or one over 1 MB is refused with one line.
 */
export function readInputFile(path: string, what = "file"): string {
  const text = readInputBytes(path, what).toString("utf8");
  if (text.includes("\0")) throw new UsageError(`${what} ${path} is binary, not text`);
  return text;
}

/**
 * The bytes of a regular file named on the command line (a .p12, a key) or of stdin ('-'), refused as readInputFile
 * does.
 */
export function readInputBytes(path: string, what = "file"): Buffer {
  if (path === "-") return readStdin(what);
  let bytes: Buffer | undefined, size: number;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw Object.assign(new Error(), { code: "EISDIR" });
    if (!st.isFile()) throw new Error("not a regular file (a device, FIFO or socket)");
    size = st.size;
    if (size <= MAX_INPUT_FILE) bytes = readFileSync(path);
  } catch (e) {
    throw new UsageError(`cannot read ${what} ${path}: ${fileProblem(e)}`);
  }
  if (!bytes) throw new UsageError(`${what} ${path} is larger than 1 MB`);
  return bytes;
}

/** The first line of a secret file; with '-', the next line of stdin (so two '-' options take lines 1 and 2). */
export function readSecretFile(path: string, what: string): string {
  if (path !== "-") return readInputFile(path, what).split(/\r?\n/)[0];
  const text = readStdin(what).toString("utf8"), n = stdinLinesTaken++;
  const line = text === "" ? undefined : text.split(/\r?\n/)[n];
  if (line === undefined) throw new UsageError(`${what} -: stdin has no line ${n + 1} to read`);
  return line;
}
