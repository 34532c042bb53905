/**
 * Who holds a CA key (design/layout.md): encrypted PKCS#8 in the store, or a PKCS#11 token named by an RFC 7512
 * URI. A signer gets a CaKey either way (spec, SPKI, a private half lib/x509 signs with); only this folder knows
 * PKCS#11, and pkcs11js loads only when a pkcs11: URI is used.
 */
import { isPkcs11Uri, parsePkcs11Uri, checkKeyUri, type Pkcs11Uri } from "../../lib/pkcs11/uri.js";
import type { KeySpec } from "../../lib/x509/keys.js";
import { DepotError } from "../fsutil.js";
import type { PinOptions } from "./pin.js";
import { TokenUnavailableError, type CaKey } from "./types.js";

export type { CaKey, PinOptions };
export { TokenUnavailableError };
export { isPkcs11Uri };

/** A CA key in a token: a CaKey that can also end its session, or remove itself when it was just made. */
export interface TokenCaKey extends CaKey {
  /** the URI without PIN, with the key's id: what the depot records */
  uri: string;
  close(): void;
  destroy(): void;
}

const keyUri = (uri: string | Pkcs11Uri) => checkKeyUri(typeof uri === "string" ? parsePkcs11Uri(uri) : uri);

let engine: Promise<typeof import("./pkcs11.js")> | undefined;
const pkcs11 = () => (engine ??= import("./pkcs11.js"));

/** The key a pkcs11: URI names, already in its token. */
export async function openTokenCaKey(uri: string | Pkcs11Uri, o: PinOptions = {}): Promise<TokenCaKey> {
  const u = keyUri(uri);
  return (await pkcs11()).openTokenKey(u, o);
}

/** A new key pair of `spec` made in the token a pkcs11: URI names (refused if a key with its object/id is there). */
export async function makeTokenCaKey(uri: string | Pkcs11Uri, spec: KeySpec, o: PinOptions = {}): Promise<TokenCaKey> {
  const u = keyUri(uri);
  return (await pkcs11()).generateTokenKey(u, spec, o);
}

/** Where a new CA's key is: a token's URI, the key made there or (`existing`) one already there. */
export interface TokenKeyChoice { uri: string; existing?: boolean; pin?: PinOptions }

/**
 * A new CA's key in a token, handed to `use` (which records the CA); a key made for a `use` that fails is removed
 * again, so that the token keeps no key that no depot names.
 */
export async function withTokenCaKey<T>(
  c: TokenKeyChoice, spec: KeySpec, use: (key: TokenCaKey) => Promise<T>, pin: PinOptions = {},
): Promise<T> {
  const o = c.pin ?? pin;
  const key = c.existing ? await openTokenCaKey(c.uri, o) : await makeTokenCaKey(c.uri, spec, o);
  try {
    const out = await use(key);
    key.close();
    return out;
  } catch (e) {
    if (c.existing) key.close();
    else key.destroy();
    throw e;
  }
}

/** Ends every PKCS#11 module this process started (a no-op when none was). */
export async function closeTokens(): Promise<void> {
  if (engine) (await engine).finalizeModules();
}

/** A CA key is its certificate's: a token's key that is not is refused before it signs anything. */
export function checkCaKey(key: CaKey, certSpki: Uint8Array, whose: string): void {
  if (key.spki.equals(Buffer.from(certSpki))) return;
  const where = key.uri ? `the key in the token (${key.uri})` : `the key of ${whose}`;
  throw new DepotError(`${where} does not match the certificate of ${whose}: refusing to use it`);
}
