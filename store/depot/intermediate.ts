/**
 * `pki init --intermediate` on the record store: a key, its CSR and a CA certificate under `parent`, in one
 * write (store/depot/issue.ts issueNew with a CA profile). Name constraints given to the new CA must lie within
 * every constraint above it: a CA promising names its parent forbids could never serve them.
 */
import { checkNestedConstraints, constraintsExtension, type NameConstraints } from "../../lib/x509/constraints.js";
import type { Subject } from "../../lib/x509/issuance.js";
import type { KeySpec } from "../../lib/x509/keys.js";
import { INTERMEDIATE_PATH_LENGTH } from "../../lib/x509/validate.js";
import { makeTokenCaKey, openTokenCaKey, type PinOptions } from "../keys/index.js";
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
  caKey?: { uri: string; existing?: boolean; pin?: PinOptions };
}

export async function newIntermediate(s: Session, name: string, o: IntermediateOptions) {
  checkNewName(name, { ips: [], domains: [] });
  if (o.constraints) {
    const path = await s.store.read((tx) => issuerPath(tx, o.parent));
    const { x509 } = await import("../../lib/x509/peculiar.js");
    checkNestedConstraints(o.constraints, path.map((c) => new x509.X509Certificate(c.rawData)));
  }
  if (!o.caKey) return issueNew(s, name, newKeyed(o));
  const { uri, existing, pin } = o.caKey;
  await s.store.read((tx) => checkFree(tx, name)); // before a key is made in the token
  const held = existing ? await openTokenCaKey(uri, pin ?? s.pin) : await makeTokenCaKey(uri, o.key, pin ?? s.pin);
  try {
    const made = await issueNew(s, name, { ...newKeyed(o), held });
    held.close();
    return made;
  } catch (e) {
    // a key made for this CA goes with it: the token keeps no key that no depot names
    if (existing) held.close();
    else held.destroy();
    throw e;
  }
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
  };
}
