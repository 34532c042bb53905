/** The profile and subject of certificates issued from ACME orders, whichever depot format records them. */
import type { Profile } from "../../lib/x509/cert.js";
import type { Identifier } from "../../lib/acme/protocol.js";

export const ACME_PROFILE: Profile = { kind: "leaf", usage: "peer" };

/**
 * The CSR's CN when it is one of the order's DNS names, else the first DNS name, else none: an IP address is no
 * host name, and a CN holding one is judged as a DNS name by verifiers that fall back to the CN.
 */
export function commonNameFor(csrCn: string | undefined, ids: Identifier[]): string | undefined {
  const dns = ids.filter((i) => i.type === "dns").map((i) => i.value);
  return csrCn && dns.includes(csrCn.toLowerCase()) ? csrCn : dns[0];
}
