/**
 * What needs @peculiar/x509 or the keystore writers, in one module that core.ts loads only when asked
 * (loadParsers) and api.ts registers at once: neither imports the other through it.
 */
import { x509 } from "../x509/peculiar.js";
import { buildPkcs12 } from "../formats/pkcs12.js";
import { buildJks } from "../formats/jks.js";

export const parsers = {
  parseCert: (der: Uint8Array): x509.X509Certificate => new x509.X509Certificate(Uint8Array.from(der)),
  parseCrl: (der: Uint8Array): x509.X509Crl => new x509.X509Crl(Uint8Array.from(der)),
  buildPkcs12,
  buildJks,
};
