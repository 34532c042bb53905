/** Certificate revocation lists: CRL v2 with cRLNumber, AKI and per-entry reason codes (RFC 5280 §5). */
import { AsnConvert } from "@peculiar/asn1-schema";
import { CertificateList, CRLNumber, id_ce_cRLNumber } from "@peculiar/asn1-x509";
import { KeyObject, sign } from "node:crypto";
import { x509 } from "./peculiar.js";
import { KeyPair, keyAlgorithm } from "./keys.js";
import { InputError } from "./validate.js";
import { toPem } from "./pem.js";
import { authorityKeyId } from "./cert.js";

export { checkReason, REASONS, type RevocationReason } from "./reasons.js";
import type { RevocationReason } from "./reasons.js";
export interface RevokedCert { serial: string /* hex */; date: Date; reason?: RevocationReason }

/** A CRL v2 signed by the issuer: cRLNumber and authorityKeyIdentifier extensions, one entry per revoked serial. */
export async function createCrl(o: {
  issuerCert: x509.X509Certificate;
  issuerKeys: KeyPair;
  revoked: RevokedCert[];
  crlNumber: number;
  thisUpdate?: Date;
  nextUpdate: Date;
}): Promise<x509.X509Crl> {
  const thisUpdate = o.thisUpdate ?? new Date();
  if (o.nextUpdate <= thisUpdate) throw new InputError("the CRL's nextUpdate must be after thisUpdate");
  const made = await x509.X509CrlGenerator.create({
    issuer: o.issuerCert.subjectName,
    thisUpdate,
    nextUpdate: o.nextUpdate,
    signingAlgorithm: keyAlgorithm(o.issuerKeys.spec).sign,
    signingKey: o.issuerKeys.privateKey,
    extensions: [
      new x509.Extension(id_ce_cRLNumber, false, AsnConvert.serialize(new CRLNumber(o.crlNumber))),
      await authorityKeyId(o.issuerCert),
    ],
    entries: o.revoked.map((r) => ({
      serialNumber: r.serial,
      revocationDate: r.date,
      // RFC 5280 §5.3.1: omit the reason code rather than write "unspecified".
      reason: r.reason && r.reason !== "unspecified" ? x509.X509CrlReason[r.reason] : undefined,
    })),
  });
  return withoutEmptyEntryExtensions(made, o.issuerKeys);
}

/**
 * @peculiar/x509 writes an empty crlEntryExtensions SEQUENCE for an entry without a reason, which RFC 5280 forbids
 * (strict DER omits an absent OPTIONAL). The TBS is rebuilt without it and signed again with the same key and
 * algorithm.
 */
async function withoutEmptyEntryExtensions(crl: x509.X509Crl, keys: KeyPair): Promise<x509.X509Crl> {
  const asn = AsnConvert.parse(crl.rawData, CertificateList);
  const entries = asn.tbsCertList.revokedCertificates ?? [];
  if (entries.every((r) => r.crlEntryExtensions?.length)) return crl;
  for (const r of entries) if (!r.crlEntryExtensions?.length) r.crlEntryExtensions = undefined;
  const tbs = Buffer.from(AsnConvert.serialize(asn.tbsCertList));
  const spec = keys.spec;
  const hash = spec.type === "ed25519" ? null : spec.type === "ecdsa" && spec.curve === "P-384" ? "sha384" : "sha256";
  const sig = sign(hash, tbs, { key: KeyObject.from(keys.privateKey), dsaEncoding: "der" });
  asn.signature = new Uint8Array(sig).buffer;
  return new x509.X509Crl(AsnConvert.serialize(asn));
}

/** PEM with the label OpenSSL, curl and node expect ("X509 CRL"; @peculiar writes "CRL"). */
export function crlToPem(crl: x509.X509Crl): string {
  return toPem("X509 CRL", new Uint8Array(crl.rawData));
}
