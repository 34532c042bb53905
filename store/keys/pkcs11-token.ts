/**
 * A PKCS#11 module and a logged-in session on one of its tokens, through pkcs11js (loaded here only: `pki list` and
 * every file-key command never load the native binding). Each failure a user meets is one line naming the module or
 * the token; a PKCS#11 return code is said in words.
 */
import { statSync } from "node:fs";
import { createRequire } from "node:module";
import type * as P11 from "pkcs11js";
import type { Pkcs11Uri } from "../../lib/pkcs11/uri.js";
import { InputError, quote } from "../../lib/x509/validate.js";
import { DepotError } from "../fsutil.js";

type Binding = typeof P11;
export type Handle = Buffer;

let binding: Binding | undefined;
/** pkcs11js, loaded on first use (a native module). */
export function p11(): Binding {
  if (!binding) binding = createRequire(import.meta.url)("pkcs11js") as Binding;
  return binding;
}

/** A token a URI names: its module, slot and label (for messages). */
export interface Token { lib: P11.PKCS11; module: string; slot: Handle; label: string; serial: string }

const modules = new Map<string, P11.PKCS11>();

/** The module at `path`, loaded and initialized once per process (a second C_Initialize would be refused). */
export function loadModule(path: string): P11.PKCS11 {
  const held = modules.get(path);
  if (held) return held;
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) throw new InputError(`no PKCS#11 module at ${path}: check the URI's module-path`);
  if (!st.isFile()) throw new InputError(`the PKCS#11 module-path ${path} is not a file`);
  const { PKCS11 } = p11();
  const lib = new PKCS11();
  try {
    lib.load(path);
  } catch {
    throw new InputError(`${path} is not a PKCS#11 library (it has no C_GetFunctionList): check module-path`);
  }
  try {
    lib.C_Initialize({ flags: p11().CKF_OS_LOCKING_OK });
  } catch (e) {
    if (code(e) !== p11().CKR_CRYPTOKI_ALREADY_INITIALIZED)
      throw new DepotError(`the PKCS#11 module ${path} did not start: ${ckr(e)}`);
  }
  modules.set(path, lib);
  return lib;
}

/** Starts the module at `path` again: a token put back after it was removed shows only to a new C_Initialize. */
export function restartModule(path: string): void {
  const lib = modules.get(path);
  modules.delete(path);
  try {
    lib?.C_Finalize();
  } catch {
    // a module that lost its token may refuse to end: it is started anew all the same
  }
}

/** Ends every module this process started (their sessions with them): a token sees pki log out. */
export function finalizeModules(): void {
  for (const lib of modules.values()) {
    try {
      lib.C_Finalize();
    } catch {
      // a module already gone has nothing left to end
    }
  }
  modules.clear();
}

const trimmed = (s: string) => s.replace(/[ \0]+$/, "");

/** The one token with a present token that the URI's token, serial and slot-id all match. */
export function findToken(u: Pkcs11Uri & { modulePath: string }): Token {
  const lib = loadModule(u.modulePath);
  const found: Token[] = [];
  const seen: string[] = [];
  for (const slot of call(() => lib.C_GetSlotList(true), `the PKCS#11 module ${u.modulePath}`)) {
    if (u.slotId !== undefined && slot.readUIntLE(0, Math.min(slot.length, 6)) !== u.slotId) continue;
    let info: P11.TokenInfo;
    try {
      info = lib.C_GetTokenInfo(slot);
    } catch {
      continue; // a slot whose token went away between the two calls
    }
    const label = trimmed(info.label), serial = trimmed(info.serialNumber);
    if (!(info.flags & p11().CKF_TOKEN_INITIALIZED)) continue;
    seen.push(label);
    if (u.token !== undefined && label !== u.token) continue;
    if (u.serial !== undefined && serial !== u.serial) continue;
    found.push({ lib, module: u.modulePath, slot, label, serial });
  }
  const asked = [
    u.token !== undefined ? `labelled ${quote(u.token)}` : "",
    u.serial !== undefined ? `with serial ${quote(u.serial)}` : "",
    u.slotId !== undefined ? `in slot ${u.slotId}` : "",
  ].filter(Boolean).join(" ");
  if (!found.length) {
    const there = seen.length ? `its tokens: ${seen.map((l) => quote(l)).join(", ")}` : "it has no initialized token";
    throw new InputError(`no token ${asked} in the PKCS#11 module ${u.modulePath} (${there})`);
  }
  if (found.length > 1)
    throw new InputError(`${found.length} tokens ${asked} in ${u.modulePath}: name one with serial= in the URI`);
  return found[0];
}

export const tokenName = (t: Token) => `the token ${quote(t.label)}`;

/** A read-write session logged in as the user; the PIN is asked for only when the token wants one. */
export async function openSession(t: Token, pin: () => Promise<string | undefined>): Promise<Handle> {
  const { CKF_SERIAL_SESSION, CKF_RW_SESSION, CKF_USER_PIN_LOCKED, CKF_PROTECTED_AUTHENTICATION_PATH } = p11();
  const info = call(() => t.lib.C_GetTokenInfo(t.slot), tokenName(t));
  if (info.flags & CKF_USER_PIN_LOCKED) throw pinLocked(t);
  const session = call(() => t.lib.C_OpenSession(t.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION), tokenName(t));
  try {
    if (info.flags & p11().CKF_LOGIN_REQUIRED) {
      const given = info.flags & CKF_PROTECTED_AUTHENTICATION_PATH ? undefined : await pin();
      login(t, session, given);
    }
    return session;
  } catch (e) {
    closeSession(t, session);
    throw e;
  }
}

/** The token refused the PIN (wrong, locked, expired): trying it again would only burn the token's tries. */
export class PinRefusedError extends InputError {}

/** C_Login once: a wrong PIN is never tried again (each try burns one of the token's few). */
export function login(t: Token, session: Handle, pin: string | undefined): void {
  try {
    t.lib.C_Login(session, p11().CKU_USER, pin);
  } catch (e) {
    const c = code(e), b = p11();
    if (c === b.CKR_USER_ALREADY_LOGGED_IN) return;
    if (c === b.CKR_PIN_INCORRECT || c === b.CKR_PIN_LEN_RANGE)
      throw new PinRefusedError(
        `wrong PIN for ${tokenName(t)} (the token counts failed logins: check before trying again)`,
      );
    if (c === b.CKR_PIN_LOCKED) throw pinLocked(t);
    if (c === b.CKR_PIN_EXPIRED)
      throw new PinRefusedError(`the PIN of ${tokenName(t)} has expired: set a new one first`);
    throw new DepotError(`cannot log in to ${tokenName(t)}: ${ckr(e)}`);
  }
}

const pinLocked = (t: Token) =>
  new PinRefusedError(
    `the user PIN of ${tokenName(t)} is locked (CKR_PIN_LOCKED): its security officer must unlock it`,
  );

export function closeSession(t: Token, session: Handle): void {
  try {
    t.lib.C_CloseSession(session);
  } catch {
    // a session the token already dropped
  }
}

export const code = (e: unknown): number => (e as { code?: number })?.code ?? 0;

const WORDS: Record<string, string> = {
  CKR_DEVICE_REMOVED: "the token was removed", CKR_TOKEN_NOT_PRESENT: "the token is not present",
  CKR_DEVICE_ERROR: "the device failed", CKR_DEVICE_MEMORY: "the token is out of memory",
  CKR_SESSION_HANDLE_INVALID: "the token dropped the session", CKR_SESSION_CLOSED: "the token closed the session",
  CKR_USER_NOT_LOGGED_IN: "the token logged pki out", CKR_MECHANISM_INVALID: "the token lacks the mechanism",
  CKR_FUNCTION_NOT_SUPPORTED: "the module does not offer that function",
  CKR_TEMPLATE_INCONSISTENT: "the token refused the key's attributes",
  CKR_ATTRIBUTE_VALUE_INVALID: "the token refused one of the key's attributes",
};

/** A PKCS#11 failure in words (its CKR_ name kept for a search), never a native stack. */
export function ckr(e: unknown): string {
  const m = /CKR_[A-Z_]+/.exec((e as Error)?.message ?? "");
  if (!m) return "the module failed";
  return WORDS[m[0]] ? `${WORDS[m[0]]} (${m[0]})` : m[0];
}

/** Runs a PKCS#11 call; a failure is one line naming `what`. */
export function call<T>(f: () => T, what: string): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof InputError || e instanceof DepotError) throw e;
    throw new DepotError(`${what}: ${ckr(e)}`);
  }
}
