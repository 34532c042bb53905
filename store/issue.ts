/**
 * `pki issue`: key, CSR and certificate in one process. It is new-cert then sign, run in an order
 * that writes nothing until the issuer's key has opened: one passphrase protects both keys, so the
 * depot's KDF (salt + passphrase, cached per process) runs once for the CA key and the new key.
 */
import type { Depot, NewCertOptions, SignOptions, Entry } from "./depot.js";
import type { x509 } from "../lib/x509/peculiar.js";
import { InputError } from "../lib/x509/validate.js";
import { subjectName } from "../lib/x509/cert.js";
import { checkNameConstraints } from "../lib/x509/constraints.js";

export type IssueNewOptions = NewCertOptions & Omit<SignOptions, "caPassphrase" | "profile" | "issuer">;

export async function issueNew(
  depot: Depot,
  name: string,
  o: IssueNewOptions,
): Promise<{ entry: Entry; cert: x509.X509Certificate }> {
  const issuer = o.issuer ?? "ca";
  const profile = o.profile ?? { kind: "leaf" as const, usage: "peer" as const };
  if (depot.readIndex().entries[name]) throw new InputError(`"${name}" already exists in the depot`);
  const { issuerCert } = await depot.unlockIssuer(issuer, profile, o.passphrase);
  const notAfter = o.notAfter(o.notBefore ?? new Date());
  if (o.notBefore && o.notBefore >= (notAfter < issuerCert.notAfter ? notAfter : issuerCert.notAfter)) {
    throw new InputError(`--not-before ${o.notBefore.toISOString()} is not before the expiry`);
  }
  // Refused before new-cert writes anything (sign would refuse too, after the key and CSR exist).
  checkNameConstraints(subjectName(o.subject), o.sans, [issuerCert, ...depot.issuerChain(issuer).map((c) => c.cert)], {
    leaf: profile.kind === "leaf",
  });
  await depot.newCert(name, { ...o, profile, issuer });
  return depot.sign(name, {
    caPassphrase: o.passphrase,
    notAfter: o.notAfter,
    notBefore: o.notBefore,
    profile,
    issuer,
  });
}
