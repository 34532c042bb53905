/** Reading a certificate with its chain (verified, or as export needs it) and the latest CRL, from one snapshot. */
import { existsSync } from "node:fs";
import type { x509 } from "../lib/x509/peculiar.js";
import { decryptPkcs8 } from "../lib/formats/pkcs8.js";
import { importPkcs8 } from "../lib/x509/keys.js";
import { InputError } from "../lib/x509/validate.js";
import type { ExportMaterial } from "../lib/formats/export.js";
import { readText } from "./fsutil.js";
import { checkKeyMatchesCert } from "./issuer.js";
import { readConsistent } from "./lock.js";
import { ROOT } from "./view.js";
import type { Depot } from "./depot.js";
import type { DepotCore } from "./core.js";
import { checkChain } from "./depot/chain-check.js";

/** NAME's certificate then its issuers up to the root, after checking each signature, name link and validity period. */
export async function verifyChain(depot: Depot, name: string, now = new Date()): Promise<x509.X509Certificate[]> {
  const certs = await readConsistent(depot.dir, () => {
    const e = depot.entry(name);
    if (e.status !== "signed") throw new InputError(`"${name}" is ${e.status}: it has no valid chain`);
    return [depot.readCert(name), ...depot.issuerChain(name).map((c) => c.cert)];
  });
  await checkChain(name, certs, now);
  return certs;
}

/** What export needs of NAME; with a passphrase the key is decrypted (and so the passphrase checked). */
export async function readExportMaterial(
  depot: DepotCore,
  name: string,
  passphrase?: string,
  o: { crl?: boolean } = {},
): Promise<ExportMaterial> {
  // One consistent snapshot (never a renewal's new key beside its old certificate); the key is decrypted after.
  const m = await readConsistent(depot.dir, () => {
    const e = depot.entry(name);
    if (e.status === "unsigned") throw new InputError(`"${name}" is not signed yet: run 'pki sign ${name}' first`);
    const cert = depot.readCertInfo(name);
    const chainPems = depot.issuerNames(name).map((n) => depot.readCertInfo(n).toString("pem") + "\n");
    const crl = o.crl ? readLatestCrl(depot, e.kind === "ca" ? name : (e.issuer ?? ROOT)) : undefined;
    const certPem = cert.toString("pem") + "\n";
    return { name, cert, certPem, encryptedKeyPem: e.external ? undefined : depot.readKeyPem(name), chainPems, crl };
  });
  const { cert, ...material } = m;
  if (passphrase === undefined || m.encryptedKeyPem === undefined) return material;
  const keyDer = await decryptPkcs8(
    m.encryptedKeyPem,
    passphrase,
    name === ROOT ? "the CA key" : `the key of "${name}"`,
  );
  await checkKeyMatchesCert(name, cert, (await importPkcs8(keyDer)).publicKey);
  return { ...material, keyDer };
}

/** The CRL `pki crl` last wrote for the CA `issuer`. */
export function readLatestCrl(depot: DepotCore, issuer: string): { name: string; pem: string } {
  const p = depot.crlPath(issuer);
  if (!existsSync(p))
    throw new InputError(
      `no CRL of "${issuer}" yet: run 'pki crl${issuer === ROOT ? "" : ` --issuer ${issuer}`}' first`,
    );
  return { name: issuer, pem: readText(p, depot.rel(p)) };
}
