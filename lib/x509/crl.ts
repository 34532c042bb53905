/** Certificate revocation lists: CRL v2 with cRLNumber, AKI and per-entry reason codes (RFC 5280 §5). */
import { x509 } from "./peculiar.js";
import type { SigningKey } from "./keys.js";
import { toPem } from "./pem.js";
import { createCrlDer, type RevokedCert } from "./crl-der.js";

export { checkReason, REASONS, type RevocationReason } from "./reasons.js";
export type { RevokedCert };

/** A CRL v2 signed by the issuer (built by crl-der.ts), parsed: cRLNumber, AKI, one entry per revoked serial. */
export async function createCrl(o: {
  issuerCert: x509.X509Certificate;
  issuerKeys: SigningKey;
  revoked: RevokedCert[];
  crlNumber: number;
  thisUpdate?: Date;
  nextUpdate: Date;
}): Promise<x509.X509Crl> {
  return new x509.X509Crl(Uint8Array.from(createCrlDer(o)));
}

/** PEM with the label OpenSSL, curl and node expect ("X509 CRL"; @peculiar writes "CRL"). */
export function crlToPem(crl: x509.X509Crl): string {
  return toPem("X509 CRL", new Uint8Array(crl.rawData));
}
