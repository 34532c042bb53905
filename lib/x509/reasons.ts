/** CRL revocation reasons (RFC 5280 5.3.1), apart from crl.ts so that the index checks need no ASN.1. */
import { InputError } from "./validate.js";

export type RevocationReason =
  | "unspecified"
  | "keyCompromise"
  | "cACompromise"
  | "affiliationChanged"
  | "superseded"
  | "cessationOfOperation"
  | "certificateHold"
  | "privilegeWithdrawn"
  | "aACompromise";
export const REASONS: RevocationReason[] = [
  "unspecified",
  "keyCompromise",
  "cACompromise",
  "affiliationChanged",
  "superseded",
  "cessationOfOperation",
  "certificateHold",
  "privilegeWithdrawn",
  "aACompromise",
];

export function checkReason(r: string): RevocationReason {
  if (!(REASONS as string[]).includes(r))
    throw new InputError(`unknown revocation reason "${r}": use one of ${REASONS.join(", ")}`);
  return r as RevocationReason;
}
