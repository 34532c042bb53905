/**
 * What `pki acme serve` needs from the depot at start: the issuing CA unlocked once, and the server's
 * own TLS certificate — the depot entry `acme-server` (made on first start, renewed when it nears expiry
 * or lacks the address it serves on), its key sealed with the same passphrase as the CA's.
 */
import { checkName, InputError } from "../lib/x509/validate.js";
import { toPem } from "../lib/x509/pem.js";
import type { x509 } from "../lib/x509/peculiar.js";
import { ACME_PROFILE, AcmeState } from "./acme-state.js";
import { serverNames } from "./acme/names.js";
import type { RecordServeSetup } from "./acme/serve.js";
import { Depot, ROOT } from "./depot.js";

/** The same setup as on the record store (store/acme/serve.ts). */
export type AcmeServeSetup = RecordServeSetup;
export interface AcmeServeMaterial {
  state: AcmeState;
  /** The issuing CA's certificate, then its issuers (their name constraints bound what may be ordered). */
  issuerPath: x509.X509Certificate[];
  /** The DNS names and IP addresses the server's certificate carries. */
  names: string[];
  certPem: string;
  keyPem: string;
  created: boolean;
}

const DAY = 864e5;

export async function openAcme(depot: Depot, o: AcmeServeSetup): Promise<AcmeServeMaterial> {
  checkName(o.issuer);
  const { issuerCert, issuerKeys } = await depot.unlockIssuer(o.issuer, ACME_PROFILE, o.passphrase);
  const state = new AcmeState(depot, { name: o.issuer, cert: issuerCert, keys: issuerKeys, lifetimeMs: o.lifetimeMs });
  await depot.withLock(async () => state.prepare());
  const name = checkName(o.tlsName);
  const issuerPath = [depot.readCert(o.issuer), ...depot.issuerChain(o.issuer).map((c) => c.cert)];
  const { required, sans } = serverNames(o.host, o.externalHost, issuerPath);
  const issuer = o.issuer === ROOT ? undefined : o.issuer;
  const e = depot.readIndex().entries[name];
  const notAfter = (from: Date) => new Date(from.getTime() + 90 * DAY);
  let created = false;
  if (!e) {
    await depot.newCert(name, {
      subject: { commonName: name },
      sans,
      key: { type: "ecdsa", curve: "P-256" },
      passphrase: o.passphrase,
      profile: { kind: "leaf", usage: "server" },
      issuer,
    });
    await depot.sign(name, { caPassphrase: o.passphrase, notAfter, issuer: o.issuer });
    created = true;
  } else {
    if (e.kind !== "leaf" || e.external)
      throw new InputError(`"${name}" is not a server certificate with its key in the depot: pick another --tls-name`);
    if (e.status === "unsigned") await depot.sign(name, { caPassphrase: o.passphrase, notAfter, issuer: o.issuer });
    const missing = required.find((i) => !(i.type === "ip" ? e.sans.ips : e.sans.domains).includes(i.value));
    if (missing)
      throw new InputError(
        `"${name}" does not name ${missing.value}: serve on an address it names, or pick another --tls-name`,
      );
    const soon = !e.notAfter || new Date(e.notAfter).getTime() - Date.now() < 7 * DAY;
    if (e.status === "revoked" || soon) await depot.renew(name, { caPassphrase: o.passphrase, notAfter });
  }
  const m = await depot.exportMaterial(name, o.passphrase);
  const chain = (m.chainPems ?? []).slice(0, -1).join("");
  const keyPem = toPem("PRIVATE KEY", m.keyDer!);
  m.keyDer!.fill(0);
  const { sans: held } = depot.readIndex().entries[name];
  return { state, issuerPath, names: [...held.domains, ...held.ips], certPem: m.certPem + chain, keyPem, created };
}
