/**
 * NAME's request as `pki sign` reads it (certs/NAME.csr): parsed by the DER reader when it is in the plain form
 * pki writes (lib/x509/csrinfo.ts), by @peculiar/x509 otherwise; and the cross-checks at the point of use, so that
 * a request replaced by someone without the passphrase cannot choose what the CA certifies.
 */
import { csrViewOf, sameSans, type CsrView } from "../lib/x509/csrinfo.js";
import type { KeyObjects, KeyPair } from "../lib/x509/keys.js";
import { isKeyOf } from "./issuer.js";
import type { Sans } from "../lib/x509/issuance.js";
import { parsePem } from "../lib/x509/pem.js";
import { checkDomain, checkEmail, checkIp, checkUri, InputError, quote } from "../lib/x509/validate.js";
import { DepotError, readText } from "./fsutil.js";
import type { DepotCore } from "./core.js";
import type { Entry } from "./depot.js";

export async function readCsrView(depot: DepotCore, name: string): Promise<CsrView> {
  const p = depot.csrPath(name), rel = depot.rel(p);
  const invalid = (e: unknown) => new DepotError(`${rel}: not a valid CSR (${(e as Error).message})`);
  let der: Buffer<ArrayBuffer>;
  try { der = parsePem(readText(p, rel), "CERTIFICATE REQUEST", rel); }
  catch (e) { throw e instanceof DepotError ? e : invalid(e); }
  try { return await csrViewOf(der); }
  catch (e) { throw invalid(e); }
}

/** A request's SANs re-validated as the CLI's own; IPs and domains in their canonical form. */
export function requestedSans(csr: CsrView): Sans {
  if (!csr.verified) throw new InputError("the CSR's signature does not verify");
  const { ips, domains, uris, emails } = csr.sans;
  uris?.forEach(checkUri);
  emails?.forEach(checkEmail);
  return { ips: ips.map(checkIp), domains: domains.map(checkDomain), uris, emails };
}

/** `sign`: the CSR on disk asks for exactly the subject and SANs recorded in the index. */
export function checkCsrAgainstEntry(e: Entry, csr: CsrView): void {
  const file = `certs/${e.name}.csr`;
  if (csr.subject !== e.subject)
    throw new DepotError(
      `${file} asks for the subject ${quote(csr.subject)}, but index.json records ${quote(e.subject)}: refusing to sign`,
    );
  if (!sameSans(requestedSans(csr), e.sans))
    throw new DepotError(
      `${file} asks for other names (SANs) than index.json records for "${e.name}": refusing to sign`,
    );
}

/** `sign`, when the CA passphrase also opens NAME's key: the CSR carries that key. */
export async function checkCsrKey(name: string, csr: CsrView, keys: KeyPair | KeyObjects): Promise<void> {
  if (!(await isKeyOf(keys, csr.publicKey.rawData))) {
    throw new DepotError(`certs/${name}.csr does not carry the key of "${name}" (certs/${name}.key): refusing to sign`);
  }
}
