/**
 * What `pki acme serve` needs at start from a record-store depot (a depot.db directory, or a PostgreSQL URL that
 * several nodes share): the depot's KDF derived once, the issuing CA's key opened once (a wrong passphrase stops
 * here), and the server's own TLS certificate, the entry --tls-name (made on first start, renewed when it nears
 * expiry or is revoked, its key sealed like every key of the depot). Nodes starting together make it once: the
 * one whose write loses finds it made.
 */
import { x509 } from "../../lib/x509/peculiar.js";
import { toPem } from "../../lib/x509/pem.js";
import { checkName, InputError } from "../../lib/x509/validate.js";
import type { RecordStore } from "../records/schema.js";
import { depotLabel, openRecords, type DepotTarget } from "../depot/locate.js";
import { issue, issuerPath } from "../depot/issue.js";
import { derive } from "../depot/open.js";
import { renew } from "../depot/renew.js";
import { openKey, ROOT, Session } from "../depot/session.js";
import { serverNames } from "./names.js";
import { RecordAcme } from "./state.js";

/** What `pki acme serve` was asked for (the passphrase comes once the depot is open). */
export interface AcmeServeOptions {
  issuer: string;
  lifetimeMs: number;
  host: string;
  tlsName: string;
  /** --external-url's host: the server's certificate names it too. */
  externalHost?: string;
}
export type RecordServeSetup = AcmeServeOptions & { passphrase: string };

const DAY = 864e5;
const TLS_LIFETIME = "90d";

/** A Session on an open store: the KDF derived once; the caller's `label` names the depot in messages. */
export async function sessionOn(store: RecordStore, label: string, passphrase: string): Promise<Session> {
  const kdf = await derive(await store.read((tx) => tx.depot()), passphrase);
  return new Session(label, store, kdf, passphrase);
}

export async function openRecordAcme(s: Session, o: RecordServeSetup) {
  checkName(o.issuer);
  const name = checkName(o.tlsName);
  const path = await s.store.read(async (tx) => {
    const p = await issuerPath(tx, o.issuer);
    await s.caKeys(tx, o.issuer, p[0]); // a wrong passphrase stops here
    return p;
  });
  const issuerCerts = path.map((c) => new x509.X509Certificate(new Uint8Array(c.rawData)));
  const { required, sans } = serverNames(o.host, o.externalHost, issuerCerts);
  let created = false;
  let e = await s.store.read((tx) => tx.entry(name));
  if (!e) {
    try {
      await issue(s, name, { ...sans, key: "ecdsa", lifetime: TLS_LIFETIME, issuer: o.issuer, usage: "server" });
      created = true;
    } catch (err) {
      // Another node starting at the same moment made it: use theirs.
      if (!(err instanceof InputError) || !(await s.store.read((tx) => tx.entry(name)))) throw err;
    }
    e = (await s.store.read((tx) => tx.entry(name)))!;
  }
  if (e.kind !== "leaf" || e.external)
    throw new InputError(`"${name}" is not a server certificate with its key in the depot: pick another --tls-name`);
  if (e.status === "unsigned") throw new InputError(`"${name}" is not signed: pick another --tls-name`);
  const missing = required.find((i) => !(i.type === "ip" ? e.sans.ips : e.sans.domains).includes(i.value));
  if (missing)
    throw new InputError(
      `"${name}" does not name ${missing.value}: serve on an address it names, or pick another --tls-name`,
    );
  const soon = !e.notAfter || new Date(e.notAfter).getTime() - Date.now() < 7 * DAY;
  if (e.status === "revoked" || soon) await renew(s, name, { lifetime: TLS_LIFETIME });
  const m = await s.store.read(async (tx) => {
    const cur = (await tx.entry(name))!;
    const cert = await tx.blob({ name, kind: "cert" });
    const key = await tx.blob({ name, kind: "key" });
    const chain = [];
    for (let up = cur.issuer ?? ROOT; up !== ROOT && chain.length < 16; ) {
      chain.push(await tx.blob({ name: up, kind: "cert" }));
      up = (await tx.entry(up))?.issuer ?? ROOT;
    }
    return { cur, cert, key, chain };
  });
  if (!m.cert || !m.key || m.chain.some((c) => !c)) throw new InputError(`"${name}" is incomplete: run 'pki doctor'`);
  const keys = await openKey(m.key, o.passphrase, `the key of "${name}"`);
  const keyPem = keys.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const certPem = [m.cert, ...m.chain].map((d) => toPem("CERTIFICATE", d!)).join("");
  const state = new RecordAcme(s, { name: o.issuer, lifetimeMs: o.lifetimeMs });
  const names = [...m.cur.sans.domains, ...m.cur.sans.ips];
  return { state, issuerPath: issuerCerts, names, certPem, keyPem, created };
}

/** The depot's store, opened for `pki acme serve` once the issuing CA is known to be in it (before any prompt). */
export async function openServeStore(t: DepotTarget, issuer: string): Promise<{ store: RecordStore; label: string }> {
  checkName(issuer);
  const store = await openRecords(t, { write: true });
  try {
    const e = await store.read((tx) => tx.entry(issuer));
    if (!e) throw new InputError(`unknown issuer "${issuer}": see 'pki list'`);
    return { store, label: await depotLabel(t) };
  } catch (err) {
    await store.close();
    throw err;
  }
}
