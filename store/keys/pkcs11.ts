/**
 * A CA key in a PKCS#11 token: made there (sensitive, never extractable, on the token, for signing only) or found
 * by the URI's id/object, its public half read back as an SPKI, and signatures over digests pki computes: CKM_ECDSA
 * (the token's raw r‖s encoded as DER, as X.509 carries it) and CKM_RSA_PKCS over a DigestInfo (as step-ca and
 * Boulder sign). One session per key, kept open; a session the token drops is opened again once, with the PIN
 * already given.
 */
import { createPublicKey } from "node:crypto";
import type * as P11 from "pkcs11js";
import { keyIdOfSpki } from "../../lib/x509/build.js";
import { int, NULL, octets, oid, oidText, readTlv, seq, value } from "../../lib/x509/der.js";
import { describeKey, type HeldKey, type KeySpec } from "../../lib/x509/keys.js";
import { redactedUri, type Pkcs11Uri } from "../../lib/pkcs11/uri.js";
import { InputError, quote } from "../../lib/x509/validate.js";
import { DepotError } from "../fsutil.js";
import { TokenUnavailableError, type CaKey } from "./types.js";
import { pinFor, type PinOptions } from "./pin.js";
import {
  call, ckr, closeSession, code, findToken, login, openSession, p11, PinRefusedError, restartModule, tokenName,
  type Handle, type Token,
} from "./pkcs11-token.js";

export { finalizeModules } from "./pkcs11-token.js";

type KeyUri = Pkcs11Uri & { modulePath: string };

const CURVES = { "P-256": { oid: "1.2.840.10045.3.1.7", bytes: 32 }, "P-384": { oid: "1.3.132.0.34", bytes: 48 } };
const DIGEST_OIDS = { sha256: "2.16.840.1.101.3.4.2.1", sha384: "2.16.840.1.101.3.4.2.2" };

const b64u = (b: Buffer) => b.toString("base64url");
const keyName = (u: Pkcs11Uri) =>
  [u.object !== undefined ? `object=${quote(u.object)}` : "", u.id ? `id=${Buffer.from(u.id).toString("hex")}` : ""]
    .filter(Boolean).join(" ");

/** The handles of objects of `cls` the URI's id and object match. */
function findObjects(t: Token, session: Handle, cls: number, u: Pkcs11Uri): Handle[] {
  const b = p11();
  const template: P11.Template = [{ type: b.CKA_CLASS, value: cls }];
  if (u.object !== undefined) template.push({ type: b.CKA_LABEL, value: u.object });
  if (u.id !== undefined) template.push({ type: b.CKA_ID, value: Buffer.from(u.id) });
  return call(() => {
    t.lib.C_FindObjectsInit(session, template);
    try {
      return t.lib.C_FindObjects(session, 8);
    } finally {
      t.lib.C_FindObjectsFinal(session);
    }
  }, `searching ${tokenName(t)}`);
}

function attr(t: Token, session: Handle, h: Handle, type: number): Buffer | undefined {
  try {
    return t.lib.C_GetAttributeValue(session, h, [{ type }])[0]?.value;
  } catch {
    return undefined;
  }
}

/** The key's spec and SPKI, from its private object (RSA, EC parameters) and its public one (EC point). */
function publicHalf(t: Token, session: Handle, priv: Handle, u: Pkcs11Uri): { spec: KeySpec; spki: Buffer } {
  const b = p11();
  const type = attr(t, session, priv, b.CKA_KEY_TYPE)?.readUIntLE(0, 4);
  if (type === b.CKK_RSA) {
    const n = attr(t, session, priv, b.CKA_MODULUS), e = attr(t, session, priv, b.CKA_PUBLIC_EXPONENT);
    if (!n || !e) throw new DepotError(`the RSA key ${keyName(u)} in ${tokenName(t)} shows no modulus`);
    const k = createPublicKey({ key: { kty: "RSA", n: b64u(n), e: b64u(e) }, format: "jwk" });
    const bits = k.asymmetricKeyDetails?.modulusLength;
    if (bits !== 2048 && bits !== 3072 && bits !== 4096)
      throw new InputError(
        `the RSA key ${keyName(u)} in ${tokenName(t)} has ${bits} bits: pki's CAs use 2048, 3072 or 4096`,
      );
    return { spec: { type: "rsa", bits }, spki: k.export({ format: "der", type: "spki" }) };
  }
  if (type !== b.CKK_EC)
    throw new InputError(`the key ${keyName(u)} in ${tokenName(t)} is neither EC nor RSA: pki cannot sign with it`);
  const params = attr(t, session, priv, b.CKA_EC_PARAMS);
  let curve: "P-256" | "P-384" | undefined;
  try {
    const o = params && oidText(value(params, readTlv(params)));
    curve = o === CURVES["P-256"].oid ? "P-256" : o === CURVES["P-384"].oid ? "P-384" : undefined;
  } catch {
    curve = undefined;
  }
  if (!curve) throw new InputError(`the EC key ${keyName(u)} in ${tokenName(t)} is not on P-256 or P-384`);
  const id = attr(t, session, priv, b.CKA_ID);
  const pubs = findObjects(t, session, b.CKO_PUBLIC_KEY, id?.length ? { id } : u);
  const point = pubs.length === 1 ? attr(t, session, pubs[0], b.CKA_EC_POINT) : undefined;
  const q = point && ecPoint(point, CURVES[curve].bytes);
  if (!q) throw new InputError(`${tokenName(t)} holds no public key (CKA_EC_POINT) for the key ${keyName(u)}`);
  const c = CURVES[curve].bytes;
  const jwk = { kty: "EC", crv: curve, x: b64u(q.subarray(1, 1 + c)), y: b64u(q.subarray(1 + c)) };
  const spki = createPublicKey({ key: jwk, format: "jwk" }).export({ format: "der", type: "spki" });
  return { spec: { type: "ecdsa", curve }, spki };
}

/** An uncompressed point, as the token gives it: DER OCTET STRING around it (PKCS#11 2.40) or bare. */
function ecPoint(p: Buffer, bytes: number): Buffer | undefined {
  const raw = 1 + 2 * bytes;
  const q = p.length === raw ? p : p.length === raw + 2 && p[0] === 0x04 && p[1] === raw ? p.subarray(2) : undefined;
  return q?.[0] === 0x04 ? q : undefined;
}

/** A key held in a token: signs digests through the session, reopened once if the token dropped it. */
export class TokenKey implements HeldKey, CaKey {
  /** where the key is: the URI without PIN */
  readonly held: string;
  readonly uri: string;
  readonly privateKey: HeldKey = this;
  private refused?: string;

  constructor(
    private t: Token,
    private session: Handle,
    private handle: Handle,
    readonly spec: KeySpec,
    readonly spki: Buffer,
    private readonly u: KeyUri,
    private readonly pin: string | undefined,
  ) {
    this.held = this.uri = redactedUri(u);
  }

  signDigest(digest: Buffer, hash: "sha256" | "sha384"): Buffer {
    // A PIN the token refused when pki logged in again is not tried on every request: that would lock the token.
    if (this.refused) throw new DepotError(`${this.refused}: restart pki with the token's current PIN`);
    const rsa = this.spec.type === "rsa";
    const input = rsa ? seq(seq(oid(DIGEST_OIDS[hash]), NULL), octets(digest)) : digest;
    const mechanism = rsa ? p11().CKM_RSA_PKCS : p11().CKM_ECDSA;
    let sig: Buffer;
    try {
      sig = this.signOnce(mechanism, input);
    } catch (e) {
      if (!dropped().has(code(e))) throw this.failed(e);
      try {
        this.reopen();
        sig = this.signOnce(mechanism, input);
      } catch (e2) {
        if (e2 instanceof PinRefusedError) this.refused = e2.message;
        if (e2 instanceof InputError || e2 instanceof DepotError || dropped().has(code(e2)))
          throw new TokenUnavailableError(`the key in ${tokenName(this.t)} cannot sign now: ${reason(e2)}`);
        throw this.failed(e2);
      }
    }
    if (rsa) return sig;
    const n = CURVES[this.spec.curve ?? "P-256"].bytes;
    if (sig.length !== 2 * n) throw new DepotError(`${tokenName(this.t)} returned a malformed ECDSA signature`);
    return seq(int(sig.subarray(0, n).toString("hex")), int(sig.subarray(n).toString("hex")));
  }

  private signOnce(mechanism: number, input: Buffer): Buffer {
    this.t.lib.C_SignInit(this.session, { mechanism }, this.handle);
    return Buffer.from(this.t.lib.C_Sign(this.session, input, Buffer.alloc(1024)));
  }

  private failed(e: unknown): Error {
    if (e instanceof InputError || e instanceof DepotError) return e;
    return new DepotError(`cannot sign with the key in ${tokenName(this.t)} (${this.held}): ${ckr(e)}`);
  }

  /** The token again (it may sit in another slot now), a session, the login, the same key. */
  private reopen(): void {
    closeSession(this.t, this.session);
    let t: Token;
    try {
      t = findToken(this.u);
    } catch {
      restartModule(this.u.modulePath);
      t = findToken(this.u);
    }
    const session = call(
      () => t.lib.C_OpenSession(t.slot, p11().CKF_SERIAL_SESSION | p11().CKF_RW_SESSION),
      tokenName(t),
    );
    try {
      if (call(() => t.lib.C_GetTokenInfo(t.slot), tokenName(t)).flags & p11().CKF_LOGIN_REQUIRED)
        login(t, session, this.pin);
      const { handle, spki } = privateKey(t, session, this.u);
      if (!spki.equals(this.spki)) throw new DepotError(`the key in ${tokenName(t)} is no longer the one pki opened`);
      Object.assign(this, { t, session, handle });
    } catch (e) {
      closeSession(t, session);
      throw e;
    }
  }

  close(): void {
    closeSession(this.t, this.session);
  }

  /** Removes a key just made, when what it was made for failed: the token keeps nothing pki does not record. */
  destroy(): void {
    const b = p11();
    const pubs = findObjects(this.t, this.session, b.CKO_PUBLIC_KEY, this.u);
    for (const h of [this.handle, ...pubs]) call(() => this.t.lib.C_DestroyObject(this.session, h), tokenName(this.t));
    this.close();
  }
}

const reason = (e: unknown) => (e instanceof InputError || e instanceof DepotError ? e.message : ckr(e));

const DROPPED = new Set<number>();
function dropped(): Set<number> {
  if (!DROPPED.size) {
    const b = p11();
    for (const c of [b.CKR_SESSION_HANDLE_INVALID, b.CKR_SESSION_CLOSED, b.CKR_DEVICE_REMOVED, b.CKR_TOKEN_NOT_PRESENT,
      b.CKR_USER_NOT_LOGGED_IN, b.CKR_OBJECT_HANDLE_INVALID, b.CKR_KEY_HANDLE_INVALID,
      b.CKR_CRYPTOKI_NOT_INITIALIZED]) DROPPED.add(c);
  }
  return DROPPED;
}

/** The one private key the URI names, with its public half. */
function privateKey(t: Token, session: Handle, u: KeyUri): { handle: Handle; spec: KeySpec; spki: Buffer } {
  const found = findObjects(t, session, p11().CKO_PRIVATE_KEY, u);
  if (!found.length) throw new InputError(`no private key with ${keyName(u)} in ${tokenName(t)}`);
  if (found.length > 1)
    throw new InputError(`${found.length} private keys with ${keyName(u)} in ${tokenName(t)}: add id= to the URI`);
  return { handle: found[0], ...publicHalf(t, session, found[0], u) };
}

async function start(u: KeyUri, o: PinOptions): Promise<{ t: Token; session: Handle; pin?: string }> {
  const t = findToken(u);
  let pin: string | undefined;
  const session = await openSession(t, async () => (pin = await pinFor(u, t.label, o)));
  return { t, session, pin };
}

/** The key a URI names, already in the token (`pki init --existing-key`, and every command a token CA signs in). */
export async function openTokenKey(u: KeyUri, o: PinOptions = {}): Promise<TokenKey> {
  const { t, session, pin } = await start(u, o);
  try {
    const { handle, spec, spki } = privateKey(t, session, u);
    // the key's id goes into the URI pki records: labels are easier to change than ids
    const id = u.id ?? attr(t, session, handle, p11().CKA_ID);
    return new TokenKey(t, session, handle, spec, spki, id?.length ? { ...u, id: new Uint8Array(id) } : u, pin);
  } catch (e) {
    closeSession(t, session);
    throw e;
  }
}

/**
 * A new key pair made in the token, labelled with the URI's object and given its id (else the SHA-1 key id a
 * certificate's SKI carries, as OpenSC tools set it). A key with that object or id already there is refused.
 */
export async function generateTokenKey(u: KeyUri, spec: KeySpec, o: PinOptions = {}): Promise<TokenKey> {
  if (spec.type === "ed25519") throw new InputError("pki makes EC (P-256, P-384) and RSA keys in a token, not Ed25519");
  const { t, session, pin } = await start(u, o);
  try {
    const b = p11();
    for (const cls of [b.CKO_PRIVATE_KEY, b.CKO_PUBLIC_KEY]) {
      for (const key of [{ object: u.object }, { id: u.id }].filter((k) => Object.values(k)[0] !== undefined)) {
        if (findObjects(t, session, cls, key).length)
          throw new InputError(
            `${tokenName(t)} already holds a key with ${keyName(key)}: use --existing-key to make the CA for it, ` +
              "or name a new key (pki never replaces a key in a token)",
          );
      }
    }
    const named: P11.Template = [
      ...(u.object !== undefined ? [{ type: b.CKA_LABEL, value: u.object }] : []),
      ...(u.id !== undefined ? [{ type: b.CKA_ID, value: Buffer.from(u.id) }] : []),
    ];
    const rsa = spec.type === "rsa";
    const pub: P11.Template = [
      { type: b.CKA_CLASS, value: b.CKO_PUBLIC_KEY }, { type: b.CKA_KEY_TYPE, value: rsa ? b.CKK_RSA : b.CKK_EC },
      { type: b.CKA_TOKEN, value: true }, { type: b.CKA_PRIVATE, value: false }, { type: b.CKA_VERIFY, value: true },
      { type: b.CKA_ENCRYPT, value: false }, { type: b.CKA_WRAP, value: false }, ...named,
      ...(rsa
        ? [
          { type: b.CKA_MODULUS_BITS, value: spec.bits ?? 2048 },
          { type: b.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
        ]
        : [
          { type: b.CKA_EC_PARAMS, value: oid(CURVES[spec.curve ?? "P-256"].oid) },
          { type: b.CKA_DERIVE, value: false },
        ]),
    ];
    // Only CKA_SIGN asked for still gets decrypt/unwrap/derive on SoftHSM: each is turned off.
    const priv: P11.Template = [
      { type: b.CKA_CLASS, value: b.CKO_PRIVATE_KEY }, { type: b.CKA_KEY_TYPE, value: rsa ? b.CKK_RSA : b.CKK_EC },
      { type: b.CKA_TOKEN, value: true }, { type: b.CKA_PRIVATE, value: true }, { type: b.CKA_SENSITIVE, value: true },
      { type: b.CKA_EXTRACTABLE, value: false }, { type: b.CKA_SIGN, value: true },
      { type: b.CKA_DECRYPT, value: false }, { type: b.CKA_UNWRAP, value: false }, { type: b.CKA_DERIVE, value: false },
      ...named,
    ];
    const mechanism = rsa ? b.CKM_RSA_PKCS_KEY_PAIR_GEN : b.CKM_EC_KEY_PAIR_GEN;
    const pair = call(() => t.lib.C_GenerateKeyPair(session, { mechanism }, pub, priv),
      `making a ${describeKey(spec)} key in ${tokenName(t)}`);
    const withId: KeyUri = { ...u };
    const { spec: made, spki } = publicHalf(t, session, pair.privateKey, u);
    if (u.id === undefined) {
      const id = keyIdOfSpki(spki);
      try {
        for (const h of [pair.privateKey, pair.publicKey])
          t.lib.C_SetAttributeValue(session, h, [{ type: b.CKA_ID, value: id }]);
        withId.id = new Uint8Array(id);
      } catch {
        // a token that will not relabel: the key is found by its object= alone
      }
    }
    return new TokenKey(t, session, pair.privateKey, made, spki, withId, pin);
  } catch (e) {
    closeSession(t, session);
    throw e;
  }
}
