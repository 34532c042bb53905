/**
 * `pki init --intermediate` on the record store: a key, its CSR and a CA certificate under `parent`, in one
 * write (store/depot/issue.ts issueNew with a CA profile). Name constraints given to the new CA must lie within
 * every constraint above it: a CA promising names its parent forbids could never serve them.
 */
import { checkNestedConstraints, constraintsExtension, type NameConstraints } from "../../lib/x509/constraints.js";
import type { Subject } from "../../lib/x509/issuance.js";
import type { KeySpec } from "../../lib/x509/keys.js";
import { INTERMEDIATE_PATH_LENGTH } from "../../lib/x509/validate.js";
import { issueNew, issuerPath } from "./issue.js";
import { checkNewName } from "./request.js";
import type { Session } from "./session.js";

export interface IntermediateOptions {
  parent: string;
  subject: Subject;
  key: KeySpec;
  pathLength?: number;
  notAfter: (from: Date) => Date;
  notBefore?: Date;
  constraints?: NameConstraints;
  /** a passphrase of the new key's own; default the session's (the parent key's) */
  keyPassphrase?: string;
}

export async function newIntermediate(s: Session, name: string, o: IntermediateOptions) {
  const sans = { ips: [], domains: [] };
  checkNewName(name, sans);
  if (o.constraints) {
    const path = await s.store.read((tx) => issuerPath(tx, o.parent));
    const { x509 } = await import("../../lib/x509/peculiar.js");
    checkNestedConstraints(o.constraints, path.map((c) => new x509.X509Certificate(c.rawData)));
  }
  return issueNew(s, name, {
    subject: o.subject,
    sans,
    keyType: o.key,
    issuer: o.parent,
    profile: { kind: "ca", pathLength: o.pathLength ?? INTERMEDIATE_PATH_LENGTH },
    notAfter: o.notAfter(o.notBefore ?? new Date()),
    notBefore: o.notBefore,
    pastOk: true,
    extensions: o.constraints ? [constraintsExtension(o.constraints)] : undefined,
    keyPassphrase: o.keyPassphrase,
  });
}
