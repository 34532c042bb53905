/** Checks of client input that need no state: the finalize CSR, revocation requests, contacts, account keys. */
import type { JWK } from "jose";
import { x509 } from "../x509/peculiar.js";
import { sansOf } from "../x509/cert.js";
import { spkiOf } from "./jws.js";
import { REASONS } from "../x509/crl.js";
import { checkNameConstraints } from "../x509/constraints.js";
import { InputError } from "../x509/validate.js";
import { Identifier, problem, sameIdentifiers } from "./protocol.js";

export const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);

/** The CSR must verify, name exactly the order's identifiers (CN among them), and not use the account key. */
export async function checkOrderCsr(der: Uint8Array, identifiers: Identifier[], accountJwk: JWK): Promise<void> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(new Uint8Array(der));
  } catch {
    throw problem("badCSR", "the CSR is not valid DER PKCS#10");
  }
  let ok = false;
  try {
    ok = await csr.verify();
  } catch {
    /* unsupported key or algorithm */
  }
  if (!ok) throw problem("badCSR", "the CSR's signature does not verify (or its key type is not supported)");
  const s = sansOf(csr);
  if (s.uris?.length || s.emails?.length) throw problem("badCSR", "the CSR may only name DNS names and IP addresses");
  const names: Identifier[] = [
    ...s.domains.map((v) => ({ type: "dns" as const, value: v.toLowerCase() })),
    ...s.ips.map((v) => ({ type: "ip" as const, value: v })),
  ];
  const cn = csr.subjectName.getField("CN")[0];
  if (
    cn &&
    !names.some((n) => n.value === cn.toLowerCase()) &&
    !identifiers.some((n) => n.value === cn.toLowerCase())
  ) {
    throw problem(
      "badCSR",
      `the CSR's common name ${JSON.stringify(cn).slice(0, 70)} is not one of the order's identifiers`,
    );
  }
  if (cn && !names.length) names.push(...identifiers.filter((n) => n.value === cn.toLowerCase()));
  if (!sameIdentifiers(names, identifiers)) {
    throw problem(
      "badCSR",
      `the CSR names ${
        names
          .map((n) => n.value)
          .join(", ")
          .slice(0, 200) || "nothing"
      }, the order ${identifiers.map((n) => n.value).join(", ")}`,
    );
  }
  if (Buffer.from(csr.publicKey.rawData).equals(spkiOf(accountJwk)))
    throw problem("badCSR", "the CSR's key is the account key: use a separate key for the certificate");
}

/**
 * Refuses (rejectedIdentifier) an identifier that a CA on `path` (the issuer first) may not certify: the order
 * would fail at finalize anyway, and validating it first would make the server connect where it has no business.
 */
export function checkCertifiable(id: Identifier, path: x509.X509Certificate[]): void {
  const sans = id.type === "dns" ? { domains: [id.value], ips: [] } : { domains: [], ips: [id.value] };
  try {
    checkNameConstraints(new x509.Name([]), sans, path, { leaf: true });
  } catch (e) {
    if (e instanceof InputError) throw problem("rejectedIdentifier", `this CA cannot certify it: ${e.message}`, 403);
    throw e;
  }
}

/** revokeCert's payload: the certificate (DER, base64url) and a reason code RFC 5280 allows here. */
export function parseRevocation(p: unknown): { cert: x509.X509Certificate; reason: string } {
  if (!isObj(p) || typeof p.certificate !== "string")
    throw problem("malformed", "revokeCert needs a base64url certificate");
  const reasonCode = p.reason === undefined ? 0 : p.reason;
  // RFC 5280 codes by number (x509.X509CrlReason maps them back to names); removeFromCRL has no place here.
  const reason = Number.isInteger(reasonCode) ? x509.X509CrlReason[reasonCode as number] : undefined;
  if (!reason || !(REASONS as string[]).includes(reason))
    throw problem("badRevocationReason", `unsupported revocation reason ${JSON.stringify(p.reason)}`);
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(Buffer.from(p.certificate, "base64url"));
  } catch {
    throw problem("malformed", "the certificate is not valid DER");
  }
  return { cert, reason };
}

export function checkContact(v: unknown): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > 10) throw problem("malformed", "contact must be a list of at most 10 URLs");
  return v.map((c) => {
    if (typeof c !== "string" || !c.startsWith("mailto:"))
      throw problem("unsupportedContact", "only mailto: contacts are supported");
    if (!/^mailto:[^\s,?@]{1,64}@[A-Za-z0-9.-]{1,253}$/.test(c))
      throw problem("invalidContact", `invalid contact ${JSON.stringify(c).slice(0, 80)}`);
    return c;
  });
}

export function publicOnly(jwk: JWK): Record<string, unknown> {
  const keep = ["kty", "crv", "x", "y", "n", "e"];
  return Object.fromEntries(Object.entries(jwk).filter(([k]) => keep.includes(k)));
}
