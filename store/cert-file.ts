/** A certificate file of the depot, parsed (a file that does not parse is damage: DepotError naming it). */
import { x509 } from "../lib/x509/peculiar.js";
import { parsePem } from "../lib/x509/pem.js";
import { DepotError } from "./fsutil.js";

export function parseCertPem(pem: string, what: string): x509.X509Certificate {
  try { return new x509.X509Certificate(parsePem(pem, "CERTIFICATE", what)); }
  catch (e) { throw new DepotError(`${what}: not a valid certificate (${(e as Error).message})`); }
}

export function parseCertDer(der: ArrayBuffer, what: string): x509.X509Certificate {
  try { return new x509.X509Certificate(der); }
  catch (e) { throw new DepotError(`${what}: not a valid certificate (${(e as Error).message})`); }
}
