/** Validity states from dates alone: no certificate parsing (the depot's list and status need only this). */
export type ValidityState = "valid" | "expired" | "not-yet-valid" | "revoked";

/** A certificate's state at `now` from its dates (and whether its issuer revoked it). */
export function validityState(
  notBefore: Date | undefined,
  notAfter: Date | undefined,
  revoked: boolean,
  now = new Date(),
): ValidityState {
  if (revoked) return "revoked";
  if (notBefore && notBefore > now) return "not-yet-valid";
  if (notAfter && notAfter <= now) return "expired";
  return "valid";
}
