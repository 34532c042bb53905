/**
 * The name constraints of every CA on a path (the issuer first), checked as the CA certificates say. Most paths
 * carry none: then nothing more is loaded; otherwise the check itself (constraints.ts, @peculiar/x509) loads.
 */
import { CertInfo, OID_NAME_CONSTRAINTS } from "./certinfo.js";
import type { CertLike, IssueOptions, Sans } from "./issuance.js";

const constrained = (c: CertLike) =>
  c instanceof CertInfo
    ? c.extensions.has(OID_NAME_CONSTRAINTS)
    : (c as unknown as { extensions: { type: string }[] }).extensions.some((e) => e.type === OID_NAME_CONSTRAINTS);

/** Refuses names outside the constraints of any CA on `path` (issuer first), as the CA certificates say. */
export async function checkPathConstraints(
  subject: IssueOptions["subject"],
  sans: Sans,
  path: CertLike[],
  leaf: boolean,
): Promise<void> {
  if (!path.some(constrained)) return;
  const [{ checkNameConstraints }, { x509 }, { subjectDer }] = await Promise.all([
    import("./constraints.js"),
    import("./peculiar.js"),
    import("./issuance.js"),
  ]);
  const certs = path.map((c) => new x509.X509Certificate(c.rawData));
  checkNameConstraints(new x509.Name(Uint8Array.from(subjectDer(subject))), sans, certs, { leaf });
}

