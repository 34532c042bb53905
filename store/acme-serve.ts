/**
 * What `pki acme serve` needs from the depot at start: the issuing CA unlocked once, and the server's
 * own TLS certificate — the depot entry `acme-server` (made on first start, renewed when it nears expiry
 * or lacks the address it serves on), its key sealed with the same passphrase as the CA's.
 */
import { isIP } from "node:net";
import { checkDomain, checkIp, checkName, InputError } from "../lib/x509/validate.js";
import { toPem } from "../lib/x509/pem.js";
import { ACME_PROFILE, AcmeState } from "./acme-state.js";
import { Depot, ROOT } from "./depot.js";

export interface AcmeServeSetup {
  issuer: string;
  passphrase: string;
  lifetimeMs: number;
  host: string;
  tlsName: string;
}
export interface AcmeServeMaterial {
  state: AcmeState;
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
  const host = o.host === "0.0.0.0" || o.host === "::" ? "127.0.0.1" : o.host;
  const sans = isIP(host)
    ? { ips: [checkIp(host)], domains: ["localhost"] }
    : { ips: ["127.0.0.1"], domains: [checkDomain(host)] };
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
    const covers =
      sans.ips.every((ip) => e.sans.ips.includes(ip)) && sans.domains.every((d) => e.sans.domains.includes(d));
    if (!covers)
      throw new InputError(`"${name}" does not name ${host}: serve on an address it names, or pick another --tls-name`);
    const soon = !e.notAfter || new Date(e.notAfter).getTime() - Date.now() < 7 * DAY;
    if (e.status === "revoked" || soon) await depot.renew(name, { caPassphrase: o.passphrase, notAfter });
  }
  const m = await depot.exportMaterial(name, o.passphrase);
  const chain = (m.chainPems ?? []).slice(0, -1).join("");
  const keyPem = toPem("PRIVATE KEY", m.keyDer!);
  m.keyDer!.fill(0);
  return { state, certPem: m.certPem + chain, keyPem, created };
}
