/**
 * How the depot records a CA key held in a token, in the key's own place (the "key" blob, which holds an encrypted
 * PKCS#8 for a file key): an EncryptedPrivateKeyInfo-shaped SEQUENCE { AlgorithmIdentifier { OID }, OCTET STRING }
 * whose OID says "held in a PKCS#11 token" and whose octets are the token's URI without PIN. Both backends, the
 * layout-1 reader and the record validator take it as they are; no private key and no PIN is in the depot.
 */
import { children, DerError, octets, oid, oidText, readTlv, seq, value } from "../../lib/x509/der.js";
import { checkKeyUri, parsePkcs11Uri, redactedUri } from "../../lib/pkcs11/uri.js";
import { DepotError } from "../fsutil.js";

/** 2.25 (X.667, a UUID as an OID): pki's arc for "this key is in the PKCS#11 token this URI names". */
export const OID_TOKEN_KEY = "2.25.185844190749218513786339123471062203936";

/** The key record of a token-held key: its URI with any PIN taken out. */
export function tokenKeyRecord(uri: string): Buffer {
  const text = redactedUri(checkKeyUri(parsePkcs11Uri(uri)));
  return seq(seq(oid(OID_TOKEN_KEY)), octets(Buffer.from(text, "utf8")));
}

/** The URI (no PIN) in a key record of a token-held key; undefined for an encrypted PKCS#8 key. */
export function tokenKeyUri(record: Uint8Array, whose: string): string | undefined {
  let uri: string;
  try {
    const [alg, data] = children(record, readTlv(record));
    const [algOid] = children(record, alg);
    if (algOid?.tag !== 0x06 || oidText(value(record, algOid)) !== OID_TOKEN_KEY) return undefined;
    uri = Buffer.from(value(record, data)).toString("utf8");
  } catch (e) {
    if (e instanceof DerError) return undefined; // not ours: the PKCS#8 reader says what is wrong with it
    throw e;
  }
  try {
    return redactedUri(checkKeyUri(parsePkcs11Uri(uri)));
  } catch (e) {
    const why = (e as Error).message;
    throw new DepotError(`the key record of ${whose} names no usable token (${why}): run 'pki doctor'`);
  }
}
