/**
 * `pki init --intermediate` on the record store: a key, its CSR and a CA certificate under `parent`, in one
 * write (store/depot/issue.ts issueNew with a CA profile). Name constraints given to the new CA must lie within
 * every constraint above it: a CA promising names its parent forbids could never serve them.
 */
import { checkNestedConstraints, constraintsExtension, type NameConstraints } from "../../lib/x509/constraints.js";
import type { Subject } from "../../lib/x509/issuance.js";
import type { KeySpec } from "../../lib/x509/keys.js";
import { INTERMEDIATE_PATH_LENGTH } from "../../lib/x509/validate.js";
import { withTokenCaKey, type TokenKeyChoice } from "../keys/index.js";
import { checkFree, issueNew, issuerPath, validityOf, type NewKeyed } from "./issue.js";
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
  /** its key in a PKCS#11 token: made there (`key` says its type), or one already there (`existing`) */
  caKey?: TokenKeyChoice;
  /** where its CRL will be published: put in every certificate it signs (checked by the caller) */
  crlUrl?: string;
}

export async function newIntermediate(s: Session, name: string, o: IntermediateOptions) {
  checkNewName(name, { ips: [], domains: [] });
  if (o.constraints) {
    const path = await s.store.read((tx) => issuerPath(tx, o.parent));
    const { x509 } = await import("../../lib/x509/peculiar.js");
    checkNestedConstraints(o.constraints, path.map((c) => new x509.X509Certificate(c.rawData)));
  }
  if (!o.caKey) return issueNew(s, name, newKeyed(o));
  await s.store.read((tx) => checkFree(tx, name)); // before a key is made in the token
  return withTokenCaKey(o.caKey, o.key, (held) => issueNew(s, name, { ...newKeyed(o), held }), s.pin);
}

function newKeyed(o: IntermediateOptions): NewKeyed {
  return {
    subject: o.subject,
    sans: { ips: [], domains: [] },
    keyType: o.key,
    issuer: o.parent,
    profile: { kind: "ca", pathLength: o.pathLength ?? INTERMEDIATE_PATH_LENGTH },
    ...validityOf(o.notAfter, o.notBefore),
    pastOk: true,
    extensions: o.constraints ? [constraintsExtension(o.constraints)] : undefined,
    keyPassphrase: o.keyPassphrase,
    crlUrl: o.crlUrl,
  };
}
