/**
 * One openDepot's state: the record store, the depot's KDF key derived once (every key of a depot is sealed under
 * its one salt and iteration count, so that derivation seals each new key and opens each CA key), and the CA keys
 * opened so far. The operations (issue.ts, revoke.ts, read.ts) take a Session; nothing here knows SQL or files.
 */
import { deriveKey, decryptPkcs8Key, pbes2Encrypt, WrongPassphraseError } from "../../lib/formats/pkcs8.js";
import { CertInfo } from "../../lib/x509/certinfo.js";
import { DerError, octets, seq } from "../../lib/x509/der.js";
import { keyObjectsOf, type KeyObjects } from "../../lib/x509/keys.js";
import { toPem } from "../../lib/x509/pem.js";
import { InputError } from "../../lib/x509/validate.js";
import { DepotError } from "../fsutil.js";
import { isKeyOf } from "../../lib/x509/keys.js";
import { checkCaKey, openTokenCaKey, type CaKey, type PinOptions, type TokenCaKey } from "../keys/index.js";
import { tokenKeyUri } from "../keys/ref.js";
import type { DepotRecord, ReadTx, RecordStore } from "../records/schema.js";

export const ROOT = "ca";
export const who = (name: string) => (name === ROOT ? "the root CA" : `"${name}"`);
const keyLabel = (name: string) => (name === ROOT ? "the CA key" : `the key of "${name}"`);

export interface Kdf { salt: Buffer; iterations: number; key: Buffer }

/** A key opened to check a passphrase (checkKeyPassphrase): the sealed DER it came from, and the key. */
export interface OpenedKey { der: Uint8Array; keys: KeyObjects }

/** What the operations that neither open nor seal a key need (list, get, revoke, rm): no passphrase, no KDF. */
export type Records = Pick<Session, "store" | "check">;

export class Session {
  private readonly cas = new Map<string, CaKey>();
  private opened?: OpenedKey;
  private closed = false;
  /** how a token-held CA key gets its PIN (a terminal prompt is the caller's to give) */
  pin: PinOptions = {};

  constructor(
    readonly dir: string,
    readonly store: RecordStore,
    private readonly kdf: Kdf,
    private readonly passphrase: string,
  ) {}

  /**
   * A key checkKeyPassphrase opened with this session's passphrase: caKeys takes it instead of opening the same
   * sealed bytes again (and still checks it against the certificate).
   */
  adopt(o: OpenedKey | undefined): void {
    this.opened = o;
  }

  /** A new key's PKCS#8 DER sealed under the depot's KDF key: EncryptedPrivateKeyInfo DER (PBES2, fresh IV). */
  sealKey(pkcs8: Uint8Array): Buffer {
    this.check();
    const { alg, data } = pbes2Encrypt(pkcs8, this.kdf.key, this.kdf.salt, this.kdf.iterations);
    return seq(alg, octets(data));
  }

  /**
   * sealKey, or under a passphrase of the key's own (`--key-passphrase-file`) with the depot's salt and iteration
   * count: what `openssl pkey -passin` opens with that passphrase.
   */
  async sealKeyFor(pkcs8: Uint8Array, own?: string): Promise<Buffer> {
    this.check();
    if (own === undefined || own === this.passphrase) return this.sealKey(pkcs8);
    const key = Buffer.from(await deriveKey(own, this.kdf.salt, this.kdf.iterations));
    try {
      const { alg, data } = pbes2Encrypt(pkcs8, key, this.kdf.salt, this.kdf.iterations);
      return seq(alg, octets(data));
    } finally {
      key.fill(0);
    }
  }

  /**
   * The key of the CA `name` whose certificate is `cert`, opened once per session and certificate; it must be
   * that certificate's key. A key sealed under the depot's salt opens with the derivation already made.
   */
  async caKeys(tx: ReadTx, name: string, cert: CertInfo): Promise<CaKey> {
    this.check();
    const id = `${name}\0${cert.serialNumber}`;
    const held = this.cas.get(id);
    if (held) return held;
    const der = await tx.blob({ name, kind: "key" });
    if (!der) throw new InputError(`${who(name)} has no key in the depot (it is held elsewhere): it cannot sign here`);
    const uri = tokenKeyUri(der, who(name));
    if (uri) {
      const held = await openTokenCaKey(uri, this.pin);
      try {
        checkCaKey(held, new Uint8Array(cert.publicKey.rawData), who(name));
      } catch (e) {
        held.close();
        throw e;
      }
      this.cas.set(id, held);
      return held;
    }
    const same = this.opened && Buffer.from(this.opened.der).equals(Buffer.from(der));
    const keys = same ? this.opened!.keys : await openKey(der, this.passphrase, keyLabel(name));
    if (same) this.opened = undefined;
    if (!(await isKeyOf(keys, cert.publicKey.rawData)))
      throw new DepotError(`the key of ${who(name)} does not match its certificate: refusing to use it`);
    this.cas.set(id, keys);
    return keys;
  }

  /** NAME's key when the session's passphrase opens it; undefined when a passphrase of its own seals it. */
  async ownKey(name: string, der: Uint8Array): Promise<KeyObjects | undefined> {
    this.check();
    try {
      const { der: plain, key } = await decryptPkcs8Key(toPem("ENCRYPTED PRIVATE KEY", der), this.passphrase, name);
      plain.fill(0);
      return keyObjectsOf(key);
    } catch (e) {
      if (e instanceof WrongPassphraseError) return undefined;
      throw keyProblem(e, keyLabel(name));
    }
  }

  check(): void {
    if (this.closed) throw new InputError("the depot is closed");
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.kdf.key.fill(0);
    this.opened = undefined;
    for (const k of this.cas.values()) if (k.uri) (k as TokenCaKey).close();
    this.cas.clear();
    await this.store.close();
  }
}

/**
 * A session for a command on an opened store: the depot's KDF derived once with `passphrase` (a passphrase that
 * opens no key here is refused where a key is opened, as openDepot's is).
 */
export async function sessionOn(dir: string, store: RecordStore, passphrase: string): Promise<Session> {
  const d = await store.read((tx) => tx.depot());
  const salt = Buffer.from(d.kdf.salt, "base64");
  const key = Buffer.from(await deriveKey(passphrase, salt, d.kdf.iterations));
  return new Session(dir, store, { salt, iterations: d.kdf.iterations, key }, passphrase);
}

/**
 * Refuses a passphrase that does not open NAME's key with WrongPassphraseError (a prompt asks again), before
 * anything is written; `hint` says what the passphrase was for. A key held elsewhere: nothing to check. Returns
 * the key it opened (for Session.adopt).
 */
export async function checkKeyPassphrase(
  store: RecordStore, name: string, passphrase: string, hint?: string,
): Promise<OpenedKey | undefined> {
  let der = await store.read((tx) => tx.blob({ name, kind: "key" }));
  if (der && tokenKeyUri(der, who(name))) der = await store.read(firstSealedKey);
  if (!der) return undefined;
  try {
    const { der: plain, key } = await decryptPkcs8Key(toPem("ENCRYPTED PRIVATE KEY", der), passphrase, keyLabel(name));
    plain.fill(0);
    return { der, keys: keyObjectsOf(key) };
  } catch (e) {
    if (e instanceof WrongPassphraseError) throw hint ? new WrongPassphraseError(`${keyLabel(name)} (${hint})`) : e;
    throw keyProblem(e, keyLabel(name));
  }
}

/**
 * With a CA's key in a token, the depot's passphrase seals only the keys issued under it: the first of them is what
 * a passphrase must open (none yet: the first one sealed sets it, as init's confirmed prompt did).
 */
export async function firstSealedKey(tx: ReadTx): Promise<Uint8Array | undefined> {
  for await (const e of tx.list({}, { pageSize: 16 })) {
    const key = await tx.blob({ name: e.name, kind: "key" });
    if (key && !tokenKeyUri(key, who(e.name))) return key;
  }
  return undefined;
}

/** Decrypts an encrypted PKCS#8 DER; a wrong passphrase is an InputError naming the key. */
export async function openKey(der: Uint8Array, passphrase: string, label: string): Promise<KeyObjects> {
  try {
    const { der: plain, key } = await decryptPkcs8Key(toPem("ENCRYPTED PRIVATE KEY", der), passphrase, label);
    plain.fill(0);
    return keyObjectsOf(key);
  } catch (e) {
    if (e instanceof WrongPassphraseError) throw new InputError(e.message);
    throw keyProblem(e, label);
  }
}

function keyProblem(e: unknown, label: string): Error {
  if (e instanceof InputError || e instanceof DepotError) return e;
  return new DepotError(`${label} in the depot cannot be opened (${(e as Error).message}): run 'pki doctor'`);
}

/** NAME's current certificate, read back from its row (a blob that does not parse is damage). */
export async function certOf(tx: ReadTx, name: string): Promise<CertInfo> {
  const der = await tx.blob({ name, kind: "cert" });
  if (!der) throw new DepotError(`${who(name)} has no certificate in the depot: run 'pki doctor'`);
  try {
    return new CertInfo(der);
  } catch (e) {
    if (!(e instanceof DerError)) throw e;
    throw new DepotError(`the certificate of ${who(name)} is damaged (${e.message}): run 'pki doctor'`);
  }
}
