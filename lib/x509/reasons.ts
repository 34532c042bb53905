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
/** CRLReason names by their code (RFC 5280 5.3.1); code 7 is unused. */
export const REASON_CODES = [
  "unspecified",
  "keyCompromise",
  "cACompromise",
  "affiliationChanged",
  "superseded",
  "cessationOfOperation",
  "certificateHold",
  "",
  "removeFromCRL",
  "privilegeWithdrawn",
  "aACompromise",
] as const;
/** The reasons a revocation may give (removeFromCRL belongs to delta CRLs only). */
export const REASONS = REASON_CODES.filter((r): r is RevocationReason => r !== "" && r !== "removeFromCRL");

export function checkReason(r: string): RevocationReason {
  if (!(REASONS as string[]).includes(r))
    throw new InputError(`unknown revocation reason "${r}": use one of ${REASONS.join(", ")}`);
  return r as RevocationReason;
}
