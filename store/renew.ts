/** `pki renew`: a new certificate for an entry; the one it replaces goes to history/ (with its key on --rekey). */
import { existsSync } from "node:fs";
import type { x509 } from "../lib/x509/peculiar.js";
import { createCsr, keySpecOfCert } from "../lib/x509/cert.js";
import { describeKey, generateKeyPair, type KeySpec } from "../lib/x509/keys.js";
import { OID_NAME_CONSTRAINTS } from "../lib/x509/constraints.js";
import { InputError } from "../lib/x509/validate.js";
import { mkdirInDepot, readText, writeAtomic } from "./fsutil.js";
import { checkCurrentCert, keyCompromised, stillValidUnder } from "./crosscheck.js";
import { certFields, profileOf } from "./records.js";
import { ROOT } from "./view.js";
import type { Depot, Entry, RenewOptions } from "./depot.js";

/**
 * `pki renew`: a new certificate (new serial, same subject, SANs, profile and issuer); the old one goes to history/.
 */
export async function renewCert(
  depot: Depot,
  name: string,
  o: RenewOptions,
): Promise<{ entry: Entry; cert: x509.X509Certificate }> {
  const pre = depot.entry(name);
  if (name === ROOT)
    throw new InputError("renewing the root CA is not supported: its certificate is what every peer trusts");
  if (pre.status === "unsigned") throw new InputError(`"${name}" is not signed yet: run 'pki sign ${name}'`);
  const old = depot.readCert(name);
  if (pre.external && o.rekey)
    throw new InputError(
      `the key of "${name}" is held elsewhere: renew with --csr FILE (a new request from its holder)`,
    );
  if (!pre.external && o.csr) throw new InputError(`the key of "${name}" is in the depot: use --rekey for a new one`);
  const profile = profileOf(pre);
  const { issuerCert, issuerKeys } = await depot.unlockIssuer(pre.issuer ?? ROOT, profile, o.caPassphrase);
  await checkCurrentCert(depot, pre, old, issuerCert);
  let publicKey = o.csr?.publicKey ?? old.publicKey;
  if (!o.rekey && keyCompromised(depot, pre, old, publicKey)) {
    throw new InputError(
      `a certificate of "${name}" for ${o.csr ? "that" : "its current"} key was revoked for keyCompromise: renew with ${o.csr ? "a CSR for a new key" : "--rekey"}`,
    );
  }
  let rekeyed: { keyPem: string; csrPem: string; spec: KeySpec } | undefined;
  if (o.rekey) {
    const spec = o.rekey.key ?? (await keySpecOfCert(old));
    const keys = await generateKeyPair(spec);
    const csr = await createCsr(old.subjectName, pre.sans, keys);
    publicKey = csr.publicKey;
    rekeyed = {
      keyPem: await depot.sealKey(keys.privateKey, o.rekey.passphrase),
      csrPem: csr.toString("pem") + "\n",
      spec,
    };
  }
  return depot.withLock(async () => {
    const idx = depot.readIndex();
    const entry = idx.entries[name];
    if (!entry || entry.serial !== pre.serial) throw new InputError(`"${name}" changed while renewing: try again`);
    // A renewed intermediate keeps its name constraints.
    const extensions = old.extensions
      .filter((e) => e.type === OID_NAME_CONSTRAINTS)
      .map((e) => ({ oid: e.type, critical: e.critical, value: new Uint8Array(e.value) }));
    const cert = await depot.issue(idx, {
      subject: old.subjectName,
      publicKey,
      sans: entry.sans,
      issuer: pre.issuer ?? ROOT,
      issuerCert,
      issuerKeys,
      profile,
      notAfter: o.notAfter,
      notBefore: o.notBefore,
      extensions,
    });
    mkdirInDepot(depot.path("history"));
    writeAtomic(depot.historyPath(name, entry.serial!, "crt"), old.toString("pem") + "\n", 0o644);
    if (rekeyed) {
      writeAtomic(depot.historyPath(name, entry.serial!, "key"), depot.readKeyPem(name), 0o600);
      // The old CSR too, so that 'pki doctor --fix' can roll back a rekey interrupted after this point.
      if (existsSync(depot.csrPath(name)))
        writeAtomic(depot.historyPath(name, entry.serial!, "csr"), readText(depot.csrPath(name)), 0o644);
      writeAtomic(depot.keyPath(name), rekeyed.keyPem, 0o600);
      writeAtomic(depot.csrPath(name), rekeyed.csrPem, 0o644);
      entry.keyType = describeKey(rekeyed.spec);
    } else if (o.csr) {
      if (existsSync(depot.csrPath(name)))
        writeAtomic(depot.historyPath(name, entry.serial!, "csr"), readText(depot.csrPath(name)), 0o644);
      writeAtomic(depot.csrPath(name), o.csr.pem, 0o644);
      entry.keyType = o.csr.keyType;
    }
    writeAtomic(depot.certPath(name), cert.toString("pem") + "\n", 0o644);
    if (rekeyed && entry.kind === "ca") {
      const n = stillValidUnder(idx, name);
      if (n)
        depot.warnings.push(
          `${n} certificate${n === 1 ? "" : "s"} "${name}" issued stay${n === 1 ? "s" : ""} valid under its old key: renew them, or revoke them if that key is compromised`,
        );
    }
    (entry.history ??= []).push({
      serial: entry.serial!,
      issuer: entry.issuer ?? ROOT,
      notBefore: entry.notBefore!,
      notAfter: entry.notAfter!,
      revoked: entry.revoked,
    });
    Object.assign(entry, { status: "signed", revoked: undefined, ...certFields(cert) } satisfies Partial<Entry>);
    depot.writeIndex(idx);
    return { entry, cert };
  });
}
