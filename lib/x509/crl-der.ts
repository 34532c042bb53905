/**
 * CRL v2 (RFC 5280 §5) built with the DER writer: cRLNumber and authorityKeyIdentifier, one entry per revoked serial
 * with its reasonCode (omitted for "unspecified", and no empty crlEntryExtensions: strict DER), signed with
 * node:crypto. The one CRL writer: crl.ts parses its output for the callers that want an X509Crl.
 */
import { ctxCons, int, seq, bitString, time, tlv } from "./der.js";
import { akiValue, extensionDer, OIDS, signerOf } from "./build.js";
import { issuerInfo, type CertLike } from "./issuance.js";
import type { SigningKey } from "./keys.js";
import { REASON_CODES, type RevocationReason } from "./reasons.js";
import { InputError } from "./validate.js";

const OID_CRL_NUMBER = "2.5.29.20";
const OID_REASON_CODE = "2.5.29.21";

export interface RevokedCert { serial: string /* hex */; date: Date; reason?: RevocationReason }

export function createCrlDer(o: {
  issuerCert: CertLike;
  issuerKeys: SigningKey;
  revoked: RevokedCert[];
  crlNumber: number;
  thisUpdate?: Date;
  nextUpdate: Date;
}): Buffer {
  const thisUpdate = o.thisUpdate ?? new Date();
  if (o.nextUpdate <= thisUpdate) throw new InputError("the CRL's nextUpdate must be after thisUpdate");
  const issuer = issuerInfo(o.issuerCert);
  const signer = signerOf(o.issuerKeys.spec, o.issuerKeys.privateKey);
  const entries = o.revoked.map((r) => {
    const code = r.reason && r.reason !== "unspecified" ? REASON_CODES.indexOf(r.reason) : -1;
    const reason = tlv(0x0a, Buffer.from([code])); // ENUMERATED CRLReason
    const exts = code > 0 ? [seq(extensionDer({ oid: OID_REASON_CODE, critical: false, value: reason }))] : [];
    return seq(int(r.serial), time(r.date), ...exts);
  });
  const extensions = seq(
    extensionDer({ oid: OID_CRL_NUMBER, critical: false, value: int(o.crlNumber) }),
    extensionDer({ oid: OIDS.authorityKeyId, critical: false, value: akiValue(issuer.keyId) }),
  );
  const tbs = seq(
    int(1), // v2
    signer.algorithm,
    issuer.subject,
    time(thisUpdate),
    time(o.nextUpdate),
    ...(entries.length ? [seq(...entries)] : []),
    ctxCons(0, extensions),
  );
  return seq(tbs, signer.algorithm, bitString(signer.sign(tbs)));
}
