/** The profile and subject of certificates issued from ACME orders, whichever depot format records them. */
import { isIP } from "node:net";
import type { Profile, Sans } from "../../lib/x509/cert.js";
import type { x509 } from "../../lib/x509/peculiar.js";
import { checkDomain, checkIp, InputError } from "../../lib/x509/validate.js";
import { checkCertifiable } from "../../lib/acme/checks.js";
import { AcmeProblem, boundName, type Identifier } from "../../lib/acme/protocol.js";

export const ACME_PROFILE: Profile = { kind: "leaf", usage: "peer" };

/**
 * The CSR's CN when it is one of the order's DNS names, else the first DNS name, else none: an IP address is no
 * host name, and a CN holding one is judged as a DNS name by verifiers that fall back to the CN.
 */
export function commonNameFor(csrCn: string | undefined, ids: Identifier[]): string | undefined {
  const dns = ids.filter((i) => i.type === "dns").map((i) => i.value);
  return csrCn && dns.includes(csrCn.toLowerCase()) ? csrCn : dns[0];
}

/**
 * The names `pki acme serve`'s own certificate carries: the address it binds (and --external-url's host), each one
 * the CA's name constraints permit (else refused), plus the other loopback spelling where they permit it too.
 */
export function serverNames(host: string, externalHost: string | undefined, issuerPath: x509.X509Certificate[]) {
  const idOf = (h: string): Identifier =>
    isIP(h) ? { type: "ip", value: checkIp(h) } : { type: "dns", value: checkDomain(h).toLowerCase() };
  const bound = idOf(boundName(host));
  const required = externalHost ? [bound, idOf(externalHost)] : [bound];
  const why = (id: Identifier) => {
    try {
      checkCertifiable(id, issuerPath);
      return undefined;
    } catch (e) {
      if (e instanceof AcmeProblem) return e.detail;
      throw e;
    }
  };
  for (const id of required) {
    const refused = why(id);
    if (refused) throw new InputError(`cannot serve as ${id.value}: ${refused}`);
  }
  const extra: Identifier =
    bound.type === "ip" ? { type: "dns", value: "localhost" } : { type: "ip", value: "127.0.0.1" };
  const ids = why(extra) || required.some((i) => i.value === extra.value) ? required : [...required, extra];
  const sans: Sans = {
    ips: ids.filter((i) => i.type === "ip").map((i) => i.value),
    domains: ids.filter((i) => i.type === "dns").map((i) => i.value),
  };
  return { required, sans };
}
