/**
 * X.509 name constraints (RFC 5280 4.2.1.10): parsing the --permit/--exclude flags, the critical
 * nameConstraints extension (dNSName and iPAddress subtrees, encoded with @peculiar/asn1-x509), and the
 * check that a new certificate's names lie within the constraints of every CA on its path. The CA
 * certificates themselves are read, so an imported CA's constraints count as much as our own.
 *
 * Matching follows what openssl verify enforces: a DNS name matches a subtree when it equals it or ends
 * in "." + it ("example.test" covers "web.example.test"; ".example.test" covers subdomains only); an IP
 * matches a subtree of its own family whose address/mask covers it. A leaf's subject CN that is an IP address is
 * judged against the IP subtrees (clients that still match a CN would take it for that address); a CN that looks
 * like a DNS name, dotted IPv4 included, is also checked as one when the certificate has no DNS SAN, because
 * openssl verify does exactly that (cn2dnsid) and would refuse the certificate otherwise.
 */
import { AsnConvert } from "@peculiar/asn1-schema";
import {
  GeneralName,
  GeneralSubtree,
  GeneralSubtrees,
  NameConstraints as AsnNameConstraints,
} from "@peculiar/asn1-x509";
import { ipBytes as ipBytesOf } from "./build.js";
import { x509 } from "./peculiar.js";
import { checkDomain, checkIp, InputError, isIPv4Text, isIPv6Text, splitList } from "./validate.js";
import type { Sans } from "./cert.js";

export const OID_NAME_CONSTRAINTS = "2.5.29.30";

/** Domains in canonical form (optional leading "."), IP ranges as "address/prefix". */
export interface NameConstraints {
  permitDomains: string[];
  excludeDomains: string[];
  permitIps: string[];
  excludeIps: string[];
}
export interface ConstraintFlags {
  permitDomain?: unknown;
  excludeDomain?: unknown;
  permitIp?: unknown;
  excludeIp?: unknown;
}

/** The constraints from the four repeatable, comma-separable flags; undefined when none was given. */
export function constraintsFrom(a: ConstraintFlags): NameConstraints | undefined {
  const nc: NameConstraints = {
    permitDomains: splitList(a.permitDomain).map((d) => constraintDomain(d, "--permit-domain")),
    excludeDomains: splitList(a.excludeDomain).map((d) => constraintDomain(d, "--exclude-domain")),
    permitIps: splitList(a.permitIp).map((c) => cidr(c, "--permit-ip")),
    excludeIps: splitList(a.excludeIp).map((c) => cidr(c, "--exclude-ip")),
  };
  return isEmpty(nc) ? undefined : nc;
}

function isEmpty(nc: NameConstraints): boolean {
  return !nc.permitDomains.length && !nc.excludeDomains.length && !nc.permitIps.length && !nc.excludeIps.length;
}

function constraintDomain(d: string, flag: string): string {
  const dot = d.trim().startsWith(".");
  const rest = dot ? d.trim().slice(1) : d;
  if (rest.startsWith("*"))
    throw new InputError(
      `invalid ${flag} "${d}": a domain like example.test (it covers its subdomains), not a wildcard`,
    );
  try {
    return (dot ? "." : "") + checkDomain(rest);
  } catch (e) {
    throw new InputError(`invalid ${flag}: ${(e as Error).message}`);
  }
}

/**
 * "ADDRESS/PREFIX" canonical, host bits zero (10.1.2.3/8 is refused: it reads like a mistake). A bare IP is a /32 or
 * /128.
 */
function cidr(text: string, flag: string): string {
  const [addr, prefix, extra] = text.trim().split("/");
  let ip: string;
  try {
    ip = checkIp(addr);
  } catch {
    throw new InputError(`invalid ${flag} "${text}": a CIDR range like 127.0.0.0/8 or fd00::/8`);
  }
  const bits = isIPv4Text(ip) ? 32 : 128;
  const n = prefix === undefined ? bits : Number(prefix);
  if (extra !== undefined || !/^\d{0,3}$/.test(prefix ?? "") || prefix === "" || !Number.isInteger(n) || n > bits) {
    throw new InputError(`invalid ${flag} "${text}": the prefix length must be 0-${bits}`);
  }
  const bytes = ipBytes(ip),
    mask = maskBytes(n, bytes.length);
  if (bytes.some((b, i) => (b & ~mask[i] & 0xff) !== 0))
    throw new InputError(`invalid ${flag} "${text}": host bits are set (did you mean ${networkOf(bytes, mask)}/${n}?)`);
  return `${ip}/${n}`;
}

function networkOf(bytes: number[], mask: number[]): string {
  const net = bytes.map((b, i) => b & mask[i]);
  return net.length === 4
    ? net.join(".")
    : checkIp(net.reduce((s, b, i) => s + (i % 2 ? "" : i ? ":" : "") + b.toString(16).padStart(2, "0"), ""));
}

/** The address's bytes (build.ts's writer, which the iPAddress SANs use too). */
const ipBytes = (ip: string): number[] => [...ipBytesOf(ip)];

function maskBytes(prefix: number, len: number): number[] {
  return Array.from({ length: len }, (_, i) =>
    prefix >= (i + 1) * 8 ? 0xff : prefix <= i * 8 ? 0 : (0xff << (8 - (prefix - i * 8))) & 0xff,
  );
}

/** The nameConstraints extension (critical, as RFC 5280 requires) as a RawExtension. */
export function constraintsExtension(nc: NameConstraints): { oid: string; critical: boolean; value: Uint8Array } {
  const trees = (domains: string[], ips: string[]) => {
    const items = [
      ...domains.map((d) => new GeneralName({ dNSName: d })),
      ...ips.map((c) => new GeneralName({ iPAddress: c })),
    ];
    return items.length ? new GeneralSubtrees(items.map((base) => new GeneralSubtree({ base }))) : undefined;
  };
  const asn = new AsnNameConstraints({
    permittedSubtrees: trees(nc.permitDomains, nc.permitIps),
    excludedSubtrees: trees(nc.excludeDomains, nc.excludeIps),
  });
  return { oid: OID_NAME_CONSTRAINTS, critical: true, value: new Uint8Array(AsnConvert.serialize(asn)) };
}

/**
 * The constraints a certificate carries (undefined: none). Subtree types other than dNSName and iPAddress
 * (e.g. directoryName, rfc822Name) are listed in `other` so that a check can say it does not enforce them.
 */
export function constraintsOf(cert: x509.X509Certificate): (NameConstraints & { other: string[] }) | undefined {
  const ext = cert.extensions.find((e) => e.type === OID_NAME_CONSTRAINTS);
  if (!ext) return undefined;
  let asn: AsnNameConstraints;
  try {
    asn = AsnConvert.parse(ext.value, AsnNameConstraints);
  } catch (e) {
    throw new InputError(
      `the CA "${cert.subject}" has an unreadable nameConstraints extension (${(e as Error).message})`,
    );
  }
  const out = {
    permitDomains: [] as string[],
    excludeDomains: [] as string[],
    permitIps: [] as string[],
    excludeIps: [] as string[],
    other: [] as string[],
  };
  const read = (trees: GeneralSubtrees | undefined, domains: string[], ips: string[]) => {
    for (const t of trees ?? []) {
      if (t.base.dNSName !== undefined) domains.push(t.base.dNSName.toLowerCase());
      else if (t.base.iPAddress !== undefined) ips.push(t.base.iPAddress);
      else
        out.other.push(
          Object.keys(t.base).find((k) => (t.base as unknown as Record<string, unknown>)[k] !== undefined) ?? "unknown",
        );
    }
  };
  read(asn.permittedSubtrees, out.permitDomains, out.permitIps);
  read(asn.excludedSubtrees, out.excludeDomains, out.excludeIps);
  return out;
}

/** Whether DNS name `name` lies in the subtree `base` (RFC 5280: zero or more labels added on the left). */
export function domainWithin(name: string, base: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, ""),
    b = base.toLowerCase().replace(/\.$/, "");
  if (!b) return true;
  if (b.startsWith(".")) return n.endsWith(b);
  return n === b || n.endsWith(`.${b}`);
}

/** Whether IP address `ip` lies in the range `range` ("address/prefix", same family). */
export function ipWithin(ip: string, range: string): boolean {
  const [addr, p] = range.split("/");
  if (isIPv4Text(ip) !== isIPv4Text(addr)) return false;
  const a = ipBytes(ip),
    b = ipBytes(addr),
    mask = maskBytes(Number(p ?? a.length * 8), a.length);
  return a.every((x, i) => (x & mask[i]) === (b[i] & mask[i]));
}

/** A CN that openssl would treat as a DNS name for constraints: dotted LDH labels. */
function cnAsDns(cn: string | undefined): string | undefined {
  return cn && /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$/.test(cn) ? cn : undefined;
}

function commonNameOf(subject: x509.Name | string): string | undefined {
  const name = typeof subject === "string" ? new x509.Name(subject) : subject;
  const cns = name.getField("CN");
  return cns.length ? cns[cns.length - 1] : undefined;
}

/**
 * Refuses (InputError, one line naming the constraint and the CA) a certificate for `subject`/`sans`
 * that a CA on `path` (the issuer first, up to the root) does not permit.
 */
export function checkNameConstraints(
  subject: x509.Name | string,
  sans: Sans,
  path: x509.X509Certificate[],
  o: { leaf?: boolean } = {},
): void {
  const leaf = o.leaf ?? true;
  const dnsNames = [...sans.domains];
  const cnText = leaf ? commonNameOf(subject) : undefined;
  const cn = cnAsDns(cnText);
  if (cn && !dnsNames.length) dnsNames.push(cn);
  const cnIp = cnText !== undefined && (isIPv4Text(cnText) || isIPv6Text(cnText)) ? checkIp(cnText) : undefined;
  const ips = cnIp === undefined || sans.ips.includes(cnIp) ? sans.ips : [...sans.ips, cnIp];
  for (const ca of path) {
    const nc = constraintsOf(ca);
    if (!nc) continue;
    const where = `the name constraints of the CA "${ca.subject}"`;
    for (const d of dnsNames) {
      const byCn = d === cn && !sans.domains.includes(d);
      const what = byCn ? `common name ${d}` : `DNS name ${d}`;
      // openssl verify reads an IPv4 CN as a DNS name here: say so, or the refusal of an IP that is permitted puzzles.
      const why = byCn && cnIp ? "; openssl verify judges a CN as a DNS name when there is no DNS SAN: add one" : "";
      // A wildcard also reaches every excluded name below its base.
      const ex = nc.excludeDomains.find(
        (b) => domainWithin(d, b) || (d.startsWith("*.") && domainWithin(b.replace(/^\./, ""), d.slice(2))),
      );
      if (ex) throw new InputError(`${what} is excluded by ${where} (excluded: ${ex})${why}`);
      if (nc.permitDomains.length && !nc.permitDomains.some((b) => domainWithin(d, b))) {
        throw new InputError(`${what} is outside ${where} (permitted DNS: ${nc.permitDomains.join(", ")})${why}`);
      }
    }
    for (const ip of ips) {
      const what = ip === cnIp && !sans.ips.includes(ip) ? `common name ${ip}` : `IP ${ip}`;
      const ex = nc.excludeIps.find((r) => ipWithin(ip, r));
      if (ex) throw new InputError(`${what} is excluded by ${where} (excluded: ${ex})`);
      if (nc.permitIps.length && !nc.permitIps.some((r) => ipWithin(ip, r))) {
        throw new InputError(`${what} is outside ${where} (permitted IP: ${nc.permitIps.join(", ")})`);
      }
    }
  }
}

/**
 * Refuses a new CA's constraints that reach beyond a constraint of a CA above it: verifiers would
 * intersect them anyway, so such a CA would promise names it can never serve.
 */
export function checkNestedConstraints(child: NameConstraints | undefined, path: x509.X509Certificate[]): void {
  if (!child) return;
  for (const ca of path) {
    const nc = constraintsOf(ca);
    if (!nc) continue;
    const where = `the name constraints of the CA "${ca.subject}"`;
    for (const d of child.permitDomains) {
      if (nc.permitDomains.length && !nc.permitDomains.some((b) => domainWithin(d, b)))
        throw new InputError(
          `--permit-domain ${d} is outside ${where} (permitted DNS: ${nc.permitDomains.join(", ")})`,
        );
    }
    for (const r of child.permitIps) {
      const [addr, p] = r.split("/");
      const inside = (b: string) => ipWithin(addr, b) && Number(p) >= Number(b.split("/")[1]);
      if (nc.permitIps.length && !nc.permitIps.some(inside))
        throw new InputError(`--permit-ip ${r} is outside ${where} (permitted IP: ${nc.permitIps.join(", ")})`);
    }
  }
}

/** A one-line summary, e.g. "permit DNS example.test, IP 127.0.0.0/8; exclude DNS evil.example.test". */
export function describeConstraints(nc: NameConstraints): string {
  const part = (verb: string, d: string[], i: string[]) =>
    d.length || i.length
      ? [
          `${verb} ${[d.length ? `DNS ${d.join(", ")}` : "", i.length ? `IP ${i.join(", ")}` : ""].filter(Boolean).join(", ")}`,
        ]
      : [];
  return [...part("permit", nc.permitDomains, nc.permitIps), ...part("exclude", nc.excludeDomains, nc.excludeIps)].join(
    "; ",
  );
}
