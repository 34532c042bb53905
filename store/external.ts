/**
 * External-key entries: certificates for keys the depot never holds ("bring your own key"). The holder sends a
 * CSR (e.g. from `openssl req`); its signature is verified and its contents validated before it gets here
 * (lib/x509/csr.ts). The index marks the entry `external: true`: there is no certs/NAME.key, the request is
 * kept as certs/NAME.csr. `pki sign --csr`, `pki new-cert --csr` and the ACME server issue through here.
 */
import { existsSync, mkdirSync } from "node:fs";
import type { x509 } from "../lib/x509/peculiar.js";
import type { Profile, Sans } from "../lib/x509/cert.js";
import { InputError } from "../lib/x509/validate.js";
import { OID_NAME_CONSTRAINTS } from "../lib/x509/certinfo.js";
import { Depot, Entry, profileOf, ROOT } from "./depot.js";
import { checkFree, checkIssuerEntry } from "./records.js";
import { readText, writeAtomic } from "./fsutil.js";
import { externalEntry } from "./depot/request.js";

export interface ExternalRequest {
  subject: x509.Name; // validated (checkForeignCsr)
  publicKey: x509.PublicKey; // the holder's key, proven by the CSR's signature
  sans: Sans; // validated; the CSR's own or the --ip/--domain/--uri/--email override
  keyType: string; // e.g. "ECDSA P-256" (describeKey)
  csrPem: string; // kept as certs/NAME.csr
}

export interface ExternalIssueOptions {
  profile?: Profile; // default: a leaf for server and client auth ("peer")
  issuer?: string; // the depot CA that signs; default the root
  caPassphrase: string;
  notAfter: (from: Date) => Date;
  notBefore?: Date;
  /** Issue over an existing external-key entry of that name (its current certificate moves to history/). */
  replace?: boolean;
}

/** `pki new-cert --csr`: files a verified foreign request as an unsigned external-key entry, to sign later. */
export async function fileExternalRequest(
  depot: Depot,
  name: string,
  req: ExternalRequest,
  o: { profile?: Profile; issuer?: string } = {},
): Promise<Entry> {
  if (name === ROOT) throw new InputError(`the name "${ROOT}" is reserved for the root CA`);
  // Names outside the issuing CA's name constraints are refused when filed, as sign would refuse them.
  const issuer = o.issuer ?? ROOT, ie = depot.readIndex().entries[issuer];
  if (ie?.kind === "ca" && ie.status === "signed") {
    const path = [issuer, ...depot.issuerNames(issuer)].map((n) => depot.readCertInfo(n));
    if (path.some((c) => c.extensions.has(OID_NAME_CONSTRAINTS))) {
      const [{ checkNameConstraints }, { x509: X509 }] =
        await Promise.all([import("../lib/x509/constraints.js"), import("../lib/x509/peculiar.js")]);
      checkNameConstraints(req.subject, req.sans, path.map((c) => new X509.X509Certificate(c.rawData)));
    }
  }
  return depot.withLock(async () => {
    const idx = depot.readIndex();
    checkFree(idx, name, () => false);
    if (o.issuer) checkIssuerEntry(idx, o.issuer);
    const entry = externalEntry(name, req, o.profile, o.issuer) as Entry;
    writeAtomic(depot.csrPath(name), req.csrPem, 0o644);
    idx.entries[name] = entry;
    depot.writeIndex(idx);
    return entry;
  });
}

/**
 * Issues a certificate for a foreign key under the depot lock: a new external-key entry NAME, or NAME's filed
 * request (unsigned external entry), or with `replace` a re-issue of an external entry. Returns entry and cert.
 */
export async function issueExternal(
  depot: Depot,
  name: string,
  req: ExternalRequest,
  o: ExternalIssueOptions,
): Promise<{ entry: Entry; cert: x509.X509Certificate }> {
  if (name === ROOT) throw new InputError(`the name "${ROOT}" is reserved for the root CA`);
  const pre = depot.readIndex().entries[name];
  const issuer = o.issuer ?? pre?.issuer ?? ROOT;
  const profile: Profile = o.profile ?? (pre ? profileOf(pre) : { kind: "leaf", usage: "peer" });
  if (profile.kind === "ca")
    throw new InputError(
      "a CA certificate for a key outside the depot is not supported: the depot only holds CAs whose keys it holds",
    );
  const { issuerCert, issuerKeys } = await depot.unlockIssuer(issuer, profile, o.caPassphrase);
  return depot.withLock(async () => {
    const idx = depot.readIndex();
    const old = checkFree(idx, name, (e) => Boolean(e.external) && (e.status === "unsigned" || Boolean(o.replace)));
    if (old && old.serial !== pre?.serial) throw new InputError(`"${name}" changed while signing: try again`);
    const cert = await depot.issue(idx, {
      subject: req.subject,
      publicKey: req.publicKey,
      sans: req.sans,
      issuer,
      issuerCert,
      issuerKeys,
      profile,
      notAfter: o.notAfter,
      notBefore: o.notBefore,
    });
    const entry: Entry = {
      ...externalEntry(name, req, profile, issuer),
      created: old?.created ?? new Date().toISOString(),
      history: old?.history,
    };
    if (old && old.status !== "unsigned") {
      mkdirSync(depot.path("history"), { recursive: true, mode: 0o700 });
      writeAtomic(depot.historyPath(name, old.serial!, "crt"), readText(depot.certPath(name)), 0o644);
      if (existsSync(depot.csrPath(name)))
        writeAtomic(depot.historyPath(name, old.serial!, "csr"), readText(depot.csrPath(name)), 0o644);
      (entry.history ??= []).push({
        serial: old.serial!,
        issuer: old.issuer ?? ROOT,
        notBefore: old.notBefore!,
        notAfter: old.notAfter!,
        revoked: old.revoked,
      });
    }
    writeAtomic(depot.csrPath(name), req.csrPem, 0o644);
    writeAtomic(depot.certPath(name), cert.toString("pem") + "\n", 0o644);
    Object.assign(entry, {
      status: "signed",
      serial: cert.serialNumber,
      notBefore: cert.notBefore.toISOString(),
      notAfter: cert.notAfter.toISOString(),
    });
    idx.entries[name] = entry;
    depot.writeIndex(idx);
    return { entry, cert };
  });
}
