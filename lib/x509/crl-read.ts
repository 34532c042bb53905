/**
 * A CRL read with the DER reader, not @peculiar/x509 (whose ASN.1 parser stops at a node limit a CRL of a few
 * thousand entries passes): its issuer, dates, serials and whether a CA's key signed it.
 */
import { verify, type KeyObject } from "node:crypto";
import { timeOf } from "./certinfo.js";
import { SIGNATURES } from "./csrinfo.js";
import { children, DerError, oidText, readTlv, value, whole } from "./der.js";

export interface CrlView {
  issuerDer: Buffer;
  thisUpdate: Date;
  nextUpdate?: Date;
  /** the revoked serials, lowercase hex as CertInfo writes them */
  serials: string[];
  /** whether `key` (the issuing CA's public key) signed it */
  signedBy(key: KeyObject): boolean;
}

const isTime = (tag: number) => tag === 0x17 || tag === 0x18;

export function readCrl(der: Uint8Array): CrlView {
  const buf = Uint8Array.from(der);
  const top = readTlv(buf);
  if (top.tag !== 0x30 || top.end !== buf.length) throw new DerError("not a CRL");
  const [tbs, alg, sig, ...rest] = children(buf, top);
  if (rest.length || tbs?.tag !== 0x30 || alg?.tag !== 0x30 || sig?.tag !== 0x03) throw new DerError("not a CRL");
  let f = children(buf, tbs);
  if (f[0]?.tag === 0x02) f = f.slice(1); // version
  const [, issuer, thisUpdate, ...more] = f;
  if (issuer?.tag !== 0x30 || !isTime(thisUpdate?.tag)) throw new DerError("not a CRL");
  const next = more[0] && isTime(more[0].tag) ? more.shift() : undefined;
  const serials: string[] = [];
  if (more[0]?.tag === 0x30)
    for (const r of children(buf, more.shift()!)) {
      const s = value(buf, children(buf, r)[0]);
      serials.push((s.length > 1 && s[0] === 0 ? s.subarray(1) : s).toString("hex"));
    }
  const algOid = oidText(value(buf, children(buf, alg)[0]));
  const signature = value(buf, sig).subarray(1);
  const tbsBytes = whole(buf, tbs);
  return {
    issuerDer: whole(buf, issuer),
    thisUpdate: timeOf(buf, thisUpdate),
    ...(next ? { nextUpdate: timeOf(buf, next) } : {}),
    serials,
    signedBy(key) {
      if (!(algOid in SIGNATURES)) return false;
      try {
        return verify(SIGNATURES[algOid] ?? null, tbsBytes, key, signature);
      } catch {
        return false;
      }
    },
  };
}
