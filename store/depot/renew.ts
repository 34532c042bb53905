/**
 * `depot.renew(name, ...)` on the record store, with `pki renew`'s rules (store/renew.ts): a new certificate of
 * the same subject, SANs, profile and issuer under a new serial (a renewed intermediate keeps its name
 * constraints); the one it replaces goes to the entry's history with its revocation, and with its key and CSR on
 * `rekey`. A key once revoked for keyCompromise is never certified again: renew it with `rekey`. One write.
 */
import { parseKeyOption, parseWhen, type KeyOption, type When } from "../../lib/api/options.js";
import { CertInfo, OID_NAME_CONSTRAINTS } from "../../lib/x509/certinfo.js";
import { createCsrDer, type RawExtension } from "../../lib/x509/issuance.js";
import { describeKey, generateKeyDer, keyObjectsOf, specOfSpki } from "../../lib/x509/keys.js";
import { toPem } from "../../lib/x509/pem.js";
import { nameText } from "../../lib/x509/name-text.js";
import { checkName, checkX509Date, InputError, quote } from "../../lib/x509/validate.js";
import { DepotError } from "../fsutil.js";
import { certFields, profileOf } from "./fields.js";
import type { Entry, EntryRecord, WriteTx } from "../records/schema.js";
import { tokenKeyUri } from "../keys/ref.js";
import { signUnder, type DepotCert } from "./issue.js";
import { keyFields } from "./read.js";
import { certOf, ROOT, type Session } from "./session.js";

export interface RenewOptions {
  /** how long the new certificate is valid ("1 year", the default) or until when; never past the issuer */
  lifetime?: When;
  /** a new key (true: of the same type; or a key option as issue takes it); the old key goes to history */
  rekey?: boolean | KeyOption;
  /** with rekey: seal the new key under a passphrase of its own instead of the depot's */
  keyPassphrase?: string;
  /** backdate or postdate the new certificate (default: a few minutes before now, as issue) */
  notBefore?: Date;
  /** an external-key entry: a new request from the key's holder (DER, checked by the caller), its key's type */
  csr?: { der: Uint8Array; spki: Uint8Array; keyType: string };
}

const same = (a: ArrayBuffer, b: ArrayBuffer) => Buffer.from(a).equals(Buffer.from(b));

/** A certificate of NAME for `spki` revoked for keyCompromise: the current one or a past one. */
async function compromised(tx: WriteTx, e: EntryRecord, current: CertInfo, spki: ArrayBuffer): Promise<boolean> {
  if (e.revoked?.reason === "keyCompromise" && same(current.publicKey.rawData, spki)) return true;
  for (const h of await tx.history(e.name)) {
    if (h.revoked?.reason !== "keyCompromise") continue;
    const der = await tx.blob({ name: e.name, kind: "cert", serial: h.serial });
    if (!der || same(new CertInfo(der).publicKey.rawData, spki)) return true; // no certificate left: assume it
  }
  return false;
}

export interface Renewed extends DepotCert { certificate: string; history: Entry["history"]; warnings: string[] }

export async function renew(s: Session, name: string, o: RenewOptions = {}): Promise<Renewed> {
  s.check();
  checkName(name);
  if (name === ROOT)
    throw new InputError("renewing the root CA is not supported: its certificate is what every peer trusts");
  const notAfter = checkX509Date(parseWhen(o.lifetime ?? "1 year"), "notAfter");
  if (notAfter.getTime() <= Date.now()) throw new InputError(`lifetime ends in the past (${notAfter.toISOString()})`);
  const pre = await s.store.read(async (tx) => {
    const e = await tx.entry(name);
    if (!e) throw new InputError(`unknown name "${name}": see 'pki list'`);
    if (e.status === "unsigned") throw new InputError(`"${name}" is not signed yet: run 'pki sign ${name}'`);
    if (e.external && o.rekey)
      throw new InputError(`the key of "${name}" is held elsewhere: renew it from a new request of its holder`);
    if (!e.external && o.csr) throw new InputError(`the key of "${name}" is in the depot: use --rekey for a new one`);
    const key = o.rekey ? await tx.blob({ name, kind: "key" }) : undefined;
    if (key && tokenKeyUri(key, `"${name}"`))
      throw new InputError(`the key of "${name}" is in a PKCS#11 token: pki does not replace it (renew without --rekey)`
      );
    return { e, cert: await certOf(tx, name) };
  });
  // The new key and its sealing before the transaction, as issue does.
  let rekeyed: { sealed: Buffer; csr: Buffer; spki: Buffer; keyType: string } | undefined;
  if (o.rekey) {
    const spec = o.rekey === true ? specOfSpki(pre.cert.publicKey.rawData) : parseKeyOption(o.rekey);
    const keys = await generateKeyDer(spec);
    const csr = createCsrDer(pre.cert.subjectDer, pre.e.sans, keyObjectsOf(keys));
    const sealed = await s.sealKeyFor(keys.pkcs8, o.keyPassphrase);
    rekeyed = { sealed, csr, spki: keys.spki, keyType: describeKey(spec) };
    keys.pkcs8.fill(0);
  }
  const warnings: string[] = [];
  const out = await s.store.write(async (tx) => {
    const e = await tx.entry(name);
    if (!e || e.serial !== pre.e.serial) throw new InputError(`"${name}" changed while renewing: try again`);
    const old = await certOf(tx, name);
    if (old.serialNumber !== e.serial)
      throw new DepotError(`the certificate of "${name}" has serial ${old.serialNumber}, not the recorded ` +
        `${e.serial}: run 'pki doctor'`);
    // A certificate swapped in with its serial recorded must not choose the subject the CA renews.
    const subject = nameText(old.subjectDer) ?? (await peculiarSubject(old.rawData));
    if (subject !== e.subject)
      throw new DepotError(`the certificate of "${name}" is for ${quote(subject)}, but the depot records ` +
        `${quote(e.subject)}: refusing to renew`);
    const spki = rekeyed?.spki ?? o.csr?.spki ?? Buffer.from(old.publicKey.rawData);
    if (!rekeyed && (await compromised(tx, e, old, new Uint8Array(spki).buffer)))
      throw new InputError(`a certificate of "${name}" for ${o.csr ? "that" : "its current"} key was revoked for ` +
        `keyCompromise: renew with ${o.csr ? "a CSR for a new key" : "--rekey"}`);
    const nc = old.extensions.get(OID_NAME_CONSTRAINTS);
    const extensions: RawExtension[] = nc ? [{ oid: OID_NAME_CONSTRAINTS, ...nc }] : [];
    const issuer = e.issuer ?? ROOT;
    const cert = await signUnder(s, tx, {
      issuer, subject: old.subjectDer, publicKey: spki, sans: e.sans, profile: profileOf(e), notAfter, extensions,
      notBefore: o.notBefore,
    }, undefined, warnings);
    const past = { serial: e.serial!, issuer, notBefore: e.notBefore!, notAfter: e.notAfter!, revoked: e.revoked };
    await tx.addHistory(name, past);
    await tx.retireBlob(name, "cert", past.serial);
    if (rekeyed) {
      await tx.retireBlob(name, "key", past.serial);
      await tx.retireBlob(name, "csr", past.serial);
      await tx.putBlob({ name, kind: "key" }, rekeyed.sealed);
      await tx.putBlob({ name, kind: "csr" }, rekeyed.csr);
    } else if (o.csr) {
      await tx.retireBlob(name, "csr", past.serial);
      await tx.putBlob({ name, kind: "csr" }, o.csr.der);
    }
    if (rekeyed && e.kind === "ca") {
      const n = await tx.count({ issuer: name, status: "signed" });
      if (n)
        warnings.push(`${n} certificate${n === 1 ? "" : "s"} "${name}" issued stay${n === 1 ? "s" : ""} valid ` +
          "under its old key: renew them, or revoke them if that key is compromised");
    }
    await tx.putBlob({ name, kind: "cert" }, new Uint8Array(cert.rawData));
    const next: EntryRecord = {
      ...e, status: "signed", revoked: undefined, ...(certFields(cert) as Partial<EntryRecord>),
      ...(rekeyed || o.csr ? { keyType: (rekeyed ?? o.csr)!.keyType } : {}),
    };
    await tx.putEntry(next);
    const key = await tx.blob({ name, kind: "key" });
    return {
      ...next, history: await tx.history(name), certificate: toPem("CERTIFICATE", new Uint8Array(cert.rawData)),
      ...keyFields(key, name),
    };
  });
  return { ...out, warnings };
}

/** A Name nameText does not render (a string type pki never writes), as @peculiar/x509 renders it. */
async function peculiarSubject(der: ArrayBuffer): Promise<string> {
  return new (await import("../../lib/x509/peculiar.js")).x509.X509Certificate(der).subject;
}
