/** Foreign CSRs (made elsewhere, e.g. by `openssl req`): parsed, verified and validated before anything signs them. */
import { x509 } from "./peculiar.js";
import { parsePemAll } from "./pem.js";
import { Sans, sansOf } from "./cert.js";
import { describeKey, KeySpec, specOfSpki } from "./keys.js";
import { checkDomain, checkEmail, checkIp, checkSubjectValue, checkUri, InputError } from "./validate.js";

/** Subject attributes a request may carry, with new-cert's names for them and their upper bounds (RFC 5280 ub-*). */
const SUBJECT_ATTRS: Record<string, [string, number]> = {
  CN: ["common name", 64],
  O: ["organization", 64],
  OU: ["organizational unit", 64],
  C: ["country", 2],
  L: ["locality", 128],
  ST: ["state", 128],
  DC: ["domain component", 63],
  E: ["email address", 255],
  G: ["given name", 64],
  SN: ["surname", 64],
  T: ["title", 64],
  "2.5.4.5": ["serial number", 64],
};

export interface CheckedCsr {
  csr: x509.Pkcs10CertificateRequest;
  subject: x509.Name;
  sans: Sans;
  spec: KeySpec;
  keyType: string;
  pem: string;
}

/** One CSR from PEM ("CERTIFICATE REQUEST" or the older "NEW CERTIFICATE REQUEST") or DER bytes. */
export function parseCsr(data: Uint8Array, what = "the CSR"): x509.Pkcs10CertificateRequest {
  const text = Buffer.from(data).toString("latin1");
  let der: Uint8Array = data;
  if (text.includes("-----BEGIN")) {
    let blocks;
    try {
      blocks = parsePemAll(text);
    } catch (e) {
      throw new InputError(`${what}: ${(e as Error).message}`);
    }
    const csrs = blocks.filter((b) => b.label === "CERTIFICATE REQUEST" || b.label === "NEW CERTIFICATE REQUEST");
    if (csrs.length !== 1)
      throw new InputError(`${what}: expected one PEM "CERTIFICATE REQUEST" block, found ${csrs.length}`);
    der = csrs[0].der;
  }
  try {
    return new x509.Pkcs10CertificateRequest(Buffer.from(der));
  } catch (e) {
    throw new InputError(`${what} is not a PKCS#10 certificate request (${(e as Error).message})`);
  }
}

/**
 * Verifies a request's self-signature (proof that its maker holds the key) and validates what it asks for as
 * strictly as `pki new-cert` would: subject attributes, every SAN, a supported key of adequate size; a request
 * for CA:TRUE is refused (the depot only holds CAs whose keys it holds).
 */
export async function checkForeignCsr(csr: x509.Pkcs10CertificateRequest, what = "the CSR"): Promise<CheckedCsr> {
  let ok = false;
  try {
    ok = await csr.verify();
  } catch (e) {
    throw new InputError(`${what}: its signature cannot be checked (${(e as Error).message})`);
  }
  if (!ok) throw new InputError(`${what}: its signature does not verify (it was not made with the key it carries)`);
  let spec: KeySpec;
  try {
    spec = specOfSpki(csr.publicKey.rawData);
  } catch (e) {
    throw new InputError(`${what}: ${(e as Error).message}: use ECDSA P-256/P-384, RSA 2048+ or Ed25519`);
  }
  if (spec.type === "rsa" && (spec.bits ?? 0) < 2048)
    throw new InputError(`${what}: an RSA key of ${spec.bits} bits is too weak: at least 2048`);
  const bcExt = csr.extensions.find((e) => e.type === "2.5.29.19");
  if (bcExt && new x509.BasicConstraintsExtension(bcExt.rawData).ca)
    throw new InputError(
      `${what} asks for a CA certificate (basicConstraints CA:TRUE): pki signs foreign keys only as leaves`,
    );
  const subject = checkSubject(csr.subjectName, what);
  return {
    csr,
    subject,
    sans: checkSans(sansOf(csr), what),
    spec,
    keyType: describeKey(spec),
    pem: csr.toString("pem") + "\n",
  };
}

/** Re-validates SANs with new-cert's rules (each kind present only when non-empty). */
export function checkSans(s: Sans, what = "the CSR"): Sans {
  try {
    const out: Sans = { ips: s.ips.map(checkIp), domains: s.domains.map(checkDomain) };
    if (s.uris?.length) out.uris = s.uris.map(checkUri);
    if (s.emails?.length) out.emails = s.emails.map(checkEmail);
    return out;
  } catch (e) {
    throw new InputError(`${what}: ${(e as Error).message}`);
  }
}

function checkSubject(name: x509.Name, what: string): x509.Name {
  const rdns = name.toJSON();
  if (!rdns.length) throw new InputError(`${what} has an empty subject: give one with --common-name`);
  for (const rdn of rdns) {
    for (const [type, values] of Object.entries(rdn)) {
      const rule = SUBJECT_ATTRS[type];
      if (!rule)
        throw new InputError(
          `${what}: subject attribute ${JSON.stringify(type).slice(0, 40)} is not allowed (use CN, O, OU, C, L, ST, DC, E)`,
        );
      try {
        for (const v of values) checkSubjectValue(rule[0], v, rule[1]);
      } catch (e) {
        throw new InputError(`${what}: ${(e as Error).message}`);
      }
    }
  }
  return name;
}
