/**
 * A token's user PIN, from (first found): the URI's pin-value (with a warning: it shows in `ps` and shell history),
 * its pin-source file, PKI_PKCS11_PIN_FILE, PKI_PKCS11_PIN, or the caller's prompt (a terminal). A PIN file's
 * first line is the PIN, as p11-kit and step-ca read it.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import type { Pkcs11Uri } from "../../lib/pkcs11/uri.js";
import { InputError, quote } from "../../lib/x509/validate.js";

export interface PinOptions {
  /** the environment to read PKI_PKCS11_PIN / PKI_PKCS11_PIN_FILE from (default: process.env) */
  env?: NodeJS.ProcessEnv;
  /** asks for the PIN on a terminal; without it, a token with no PIN at hand is refused */
  prompt?: (question: string) => Promise<string>;
  /** where warnings go (default: stderr, as `pki: warning: ...`) */
  warn?: (message: string) => void;
}

const MAX_PIN_FILE = 4096;

function readPinFile(path: string, what: string): string {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    const c = (e as NodeJS.ErrnoException).code;
    const why = c === "ENOENT" || c === "ENOTDIR" ? "not found" : c === "EACCES" ? "permission denied" : c;
    throw new InputError(`cannot read the PIN file ${path} (${what}): ${why}`);
  }
  try {
    if (!fstatSync(fd).isFile()) throw new InputError(`the PIN file ${path} (${what}) is not a file`);
    const buf = Buffer.alloc(MAX_PIN_FILE + 1);
    const n = readSync(fd, buf, 0, buf.length, 0);
    if (n > MAX_PIN_FILE) throw new InputError(`the PIN file ${path} (${what}) is over ${MAX_PIN_FILE} bytes`);
    const pin = buf.subarray(0, n).toString("utf8").split(/\r?\n/)[0];
    buf.fill(0);
    if (!pin) throw new InputError(`the PIN file ${path} (${what}) holds no PIN on its first line`);
    return pin;
  } finally {
    closeSync(fd);
  }
}

/** The PIN for the token `token` (its label, for the prompt and messages). */
export async function pinFor(u: Pkcs11Uri, token: string, o: PinOptions = {}): Promise<string> {
  const env = o.env ?? process.env;
  if (u.pinValue !== undefined) {
    const warn = o.warn ?? ((m: string) => process.stderr.write(`pki: warning: ${m}\n`));
    warn("the PKCS#11 URI's pin-value shows in ps and shell history: prefer pin-source=file:... or " +
      "PKI_PKCS11_PIN_FILE (pki never stores the PIN)");
    return u.pinValue;
  }
  if (u.pinSource !== undefined) return readPinFile(u.pinSource, "the URI's pin-source");
  if (env.PKI_PKCS11_PIN_FILE) return readPinFile(env.PKI_PKCS11_PIN_FILE, "PKI_PKCS11_PIN_FILE");
  if (env.PKI_PKCS11_PIN) return env.PKI_PKCS11_PIN;
  if (o.prompt) {
    const pin = await o.prompt(`PIN for the token ${quote(token)}: `);
    if (!pin) throw new InputError(`no PIN entered for the token ${quote(token)}`);
    return pin;
  }
  throw new InputError(
    `the token ${quote(token)} needs its PIN: add pin-source=file:/path to the URI, or set PKI_PKCS11_PIN_FILE or ` +
      "PKI_PKCS11_PIN, or run in a terminal",
  );
}
