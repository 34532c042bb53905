/**
 * The check a chain passes before pki prints or serves it: each certificate names and is signed by the next (the
 * root by itself), and each is within its validity period now. One check for the record store's chain
 * (export.ts) and layout 1's (store/chain.ts).
 */
import type { x509 } from "../../lib/x509/peculiar.js";
import { DepotError } from "../fsutil.js";

/** `certs`: NAME's certificate then its issuers up to the root. */
export async function checkChain(name: string, certs: x509.X509Certificate[], now: Date): Promise<void> {
  for (const [i, c] of certs.entries()) {
    const issuer = certs[i + 1] ?? c;
    const what = i === 0 ? `"${name}"` : `its issuer "${c.subject}"`;
    if (c.issuer !== issuer.subject || !(await c.verify({ publicKey: issuer, signatureOnly: true })))
      throw new DepotError(`the chain of "${name}" does not verify: ${what} is not signed by "${issuer.subject}"`);
    if (c.notAfter <= now || c.notBefore > now)
      throw new DepotError(
        `the chain of "${name}" does not verify: ${what} is outside its validity period ` +
          `(${c.notBefore.toISOString()} to ${c.notAfter.toISOString()})`,
      );
  }
}
