/**
 * Flattened JWS as ACME uses it (RFC 8555 §6.2): the protected header must carry alg, nonce, url and
 * exactly one of jwk (new accounts, revocation by certificate key) or kid (everything else).
 * Signatures are checked with `jose`; this file only enforces the ACME rules around them.
 */
import { base64url, calculateJwkThumbprint, flattenedVerify, importJWK, type JWK } from "jose";
import { createPublicKey } from "node:crypto";
import { problem } from "./protocol.js";

export const ALGORITHMS = ["ES256", "ES384", "RS256", "EdDSA"];
export const EAB_ALGORITHMS = ["HS256", "HS384", "HS512"];
/** Largest request body accepted (a CSR with many names, an RSA-4096 JWS). */
export const MAX_BODY = 64 * 1024;

export interface FlatJws {
  protected: string;
  payload: string;
  signature: string;
}
export interface Header {
  alg: string;
  nonce?: string;
  url: string;
  jwk?: JWK;
  kid?: string;
}

/** The request body as a flattened JWS: JSON with string protected, payload and signature members. */
export function parseJws(body: Buffer | string): FlatJws {
  let j: unknown;
  try {
    j = JSON.parse(body.toString());
  } catch {
    throw problem("malformed", "the request body is not JSON");
  }
  const o = j as Partial<FlatJws> & Record<string, unknown>;
  if (!o || typeof o !== "object" || Array.isArray(o))
    throw problem("malformed", "the request body is not a JWS object");
  if ("signatures" in o || "header" in o)
    throw problem("malformed", "only flattened JWS with a protected header only is accepted");
  for (const k of ["protected", "payload", "signature"] as const) {
    if (typeof o[k] !== "string" || !/^[A-Za-z0-9_-]*$/.test(o[k] as string))
      throw problem("malformed", `the JWS has no valid "${k}" member`);
  }
  return { protected: o.protected!, payload: o.payload!, signature: o.signature! };
}

function decodeJson(b64: string, what: string): unknown {
  try {
    return JSON.parse(Buffer.from(base64url.decode(b64)).toString("utf8"));
  } catch {
    throw problem("malformed", `the ${what} is not base64url JSON`);
  }
}

/** The protected header, checked for the ACME rules (alg known, url present, one of jwk/kid). */
export function protectedHeader(jws: FlatJws, o: { needNonce?: boolean; algorithms?: string[] } = {}): Header {
  const h = decodeJson(jws.protected, "protected header") as Record<string, unknown>;
  if (!h || typeof h !== "object" || Array.isArray(h))
    throw problem("malformed", "the protected header is not an object");
  const algs = o.algorithms ?? ALGORITHMS;
  if (typeof h.alg !== "string" || !algs.includes(h.alg)) {
    throw problem(
      "badSignatureAlgorithm",
      `unsupported JWS algorithm ${JSON.stringify(String(h.alg)).slice(0, 30)}: use ${algs.join(", ")}`,
    );
  }
  if (typeof h.url !== "string") throw problem("malformed", "the protected header has no url");
  if (o.needNonce !== false && typeof h.nonce !== "string")
    throw problem("badNonce", "the protected header has no nonce");
  if (o.needNonce === false && h.nonce !== undefined)
    throw problem("malformed", "the inner JWS must not carry a nonce");
  if ((h.jwk === undefined) === (h.kid === undefined))
    throw problem("malformed", "the protected header needs exactly one of jwk and kid");
  if (h.kid !== undefined && typeof h.kid !== "string") throw problem("malformed", "kid is not a string");
  if (h.jwk !== undefined) checkPublicJwk(h.jwk);
  return h as unknown as Header;
}

function checkPublicJwk(jwk: unknown): asserts jwk is JWK {
  const k = jwk as JWK;
  if (!k || typeof k !== "object" || Array.isArray(k) || typeof k.kty !== "string")
    throw problem("malformed", "jwk is not a JSON Web Key");
  if ("d" in k || "p" in k || "k" in k) throw problem("malformed", "jwk must be a public key");
}

/** Verifies the signature with `jwk` under the header's alg; returns the payload bytes. */
export async function verifyWith(jws: FlatJws, jwk: JWK, alg: string): Promise<Uint8Array> {
  let key: CryptoKey | Uint8Array;
  try {
    key = await importJWK(jwk, alg);
  } catch (e) {
    throw problem("badPublicKey", `the key cannot be used with ${alg}: ${(e as Error).message}`);
  }
  try {
    return (await flattenedVerify(jws, key, { algorithms: [alg] })).payload;
  } catch (e) {
    throw problem("malformed", `the JWS signature does not verify (${(e as Error).message})`);
  }
}

/** The payload as JSON ("" = POST-as-GET → undefined). */
export function payloadJson(payload: Uint8Array): unknown {
  if (payload.length === 0) return undefined;
  try {
    return JSON.parse(Buffer.from(payload).toString("utf8"));
  } catch {
    throw problem("malformed", "the JWS payload is not JSON");
  }
}

export const thumbprint = (jwk: JWK) => calculateJwkThumbprint(jwk, "sha256");

/** The SubjectPublicKeyInfo DER of a JWK (to compare with a CSR's or certificate's key). */
export function spkiOf(jwk: JWK): Buffer {
  try {
    return createPublicKey({ key: jwk as never, format: "jwk" }).export({ format: "der", type: "spki" });
  } catch {
    throw problem("badPublicKey", "the JWK is not a usable public key");
  }
}

/**
 * External account binding (RFC 8555 §7.3.4): an HS256/384/512 JWS whose kid names an EAB key,
 * whose url is the newAccount URL and whose payload is the account's JWK. Returns the kid.
 */
export async function verifyEab(
  eab: unknown,
  o: { url: string; accountJwk: JWK; hmacKey: (kid: string) => Promise<Uint8Array | undefined> },
): Promise<string> {
  const jws = parseJws(JSON.stringify(eab ?? null));
  const h = decodeJson(jws.protected, "EAB protected header") as Record<string, unknown>;
  if (!h || typeof h.alg !== "string" || !EAB_ALGORITHMS.includes(h.alg))
    throw problem("malformed", "the external account binding must use HS256, HS384 or HS512");
  if (typeof h.kid !== "string" || h.nonce !== undefined || h.url !== o.url)
    throw problem("malformed", "the external account binding needs a kid, the newAccount url and no nonce");
  const key = await o.hmacKey(h.kid);
  if (!key) throw problem("unauthorized", `unknown external account key id ${JSON.stringify(h.kid).slice(0, 70)}`, 403);
  let payload: Uint8Array;
  try {
    payload = (await flattenedVerify(jws, key, { algorithms: [h.alg] })).payload;
  } catch {
    throw problem("unauthorized", "the external account binding's MAC does not verify", 403);
  }
  const bound = payloadJson(payload) as JWK;
  checkPublicJwk(bound);
  if ((await thumbprint(bound)) !== (await thumbprint(o.accountJwk)))
    throw problem("malformed", "the external account binding signs another key");
  return h.kid;
}

/** keyChange's inner JWS (RFC 8555 §7.3.5): signed by the new key, same url, payload {account, oldKey}. */
export async function verifyKeyChange(
  inner: unknown,
  o: { url: string; accountUrl: string; oldJwk: JWK },
): Promise<JWK> {
  const jws = parseJws(JSON.stringify(inner ?? null));
  const h = protectedHeader(jws, { needNonce: false });
  if (!h.jwk) throw problem("malformed", "the inner JWS must carry the new key as jwk");
  if (h.url !== o.url) throw problem("unauthorized", "the inner JWS url differs from the outer one", 403);
  const p = payloadJson(await verifyWith(jws, h.jwk, h.alg)) as { account?: unknown; oldKey?: unknown } | undefined;
  if (!p || p.account !== o.accountUrl) throw problem("malformed", "the inner payload must name the account");
  checkPublicJwk(p.oldKey);
  if ((await thumbprint(p.oldKey)) !== (await thumbprint(o.oldJwk)))
    throw problem("malformed", "oldKey is not the account's current key");
  return h.jwk;
}
