/**
 * What `pki export` and `pki chain` read, on the record store: NAME's certificate, its issuers' up to the root,
 * its sealed key and the latest CRL, from one read transaction (never a renewal's new key beside its old
 * certificate). Read-only: no passphrase unless the key is to be opened, and then it must match the certificate.
 */
import { tokenKeyUri } from "../keys/ref.js";
import type { ExportMaterial } from "../../lib/formats/export.js";
import { decryptPkcs8Key } from "../../lib/formats/pkcs8.js";
import { keyObjectsOf } from "../../lib/x509/keys.js";
import { toPem } from "../../lib/x509/pem.js";
import { checkName, InputError } from "../../lib/x509/validate.js";
import { validityState } from "../../lib/x509/validity.js";
import { DepotError } from "../fsutil.js";
import { isKeyOf } from "../../lib/x509/keys.js";
import type { EntryRecord, ReadTx, RecordStore } from "../records/schema.js";
import { certOf, ROOT } from "./session.js";
import { checkChain } from "./chain-check.js";

const keyLabel = (name: string) => (name === ROOT ? "the CA key" : `the key of "${name}"`);
const pem = (der: ArrayBuffer | Uint8Array) => toPem("CERTIFICATE", new Uint8Array(der));

async function entryOf(tx: ReadTx, name: string): Promise<EntryRecord> {
  checkName(name);
  const e = await tx.entry(name);
  if (!e) throw new InputError(`unknown name "${name}": see 'pki list'`);
  return e;
}

/** The names of NAME's issuers, nearest first, root last (empty for the root). */
async function issuerNames(tx: ReadTx, e: EntryRecord): Promise<string[]> {
  const out: string[] = [];
  for (let n = e; n.name !== ROOT; ) {
    const up = n.issuer ?? ROOT;
    const next = await tx.entry(up);
    if (!next || out.includes(up) || out.length > 16)
      throw new DepotError(`the issuer chain of "${e.name}" is broken: run 'pki doctor'`);
    out.push(up);
    n = next;
  }
  return out;
}

/** Whether NAME is an entry whose key the depot does not hold (signed from a foreign request). */
export async function exportKind(store: RecordStore, name: string): Promise<{ external: boolean; ca: boolean }> {
  const e = await store.read((tx) => entryOf(tx, name));
  return { external: Boolean(e.external), ca: e.kind === "ca" };
}

/** What export needs of NAME; with a passphrase the key is opened (so the passphrase checked) and matched. */
export async function exportMaterial(
  store: RecordStore, name: string, passphrase?: string, o: { crl?: boolean } = {},
): Promise<ExportMaterial> {
  const m = await store.read(async (tx) => {
    const e = await entryOf(tx, name);
    if (e.status === "unsigned") throw new InputError(`"${name}" is not signed yet: run 'pki sign ${name}' first`);
    const cert = await certOf(tx, name);
    const chainPems: string[] = [];
    for (const n of await issuerNames(tx, e)) chainPems.push(pem((await certOf(tx, n)).rawData));
    const crlOf = e.kind === "ca" ? name : (e.issuer ?? ROOT);
    const crlDer = o.crl ? (await tx.crl(crlOf))?.der : undefined;
    if (o.crl && !crlDer)
      throw new InputError(
        `no CRL of "${crlOf}" yet: run 'pki crl${crlOf === ROOT ? "" : ` --issuer ${crlOf}`}' first`,
      );
    const record = e.external ? undefined : await tx.blob({ name, kind: "key" });
    if (!e.external && !record) throw new DepotError(`${keyLabel(name)} is missing from the depot: run 'pki doctor'`);
    // a CA key in a PKCS#11 token never leaves it: its certificate and chain export without it
    const key = record && tokenKeyUri(record, `"${name}"`) ? undefined : record;
    return {
      cert, chainPems, key,
      crl: crlDer ? { name: crlOf, pem: toPem("X509 CRL", crlDer) } : undefined,
    };
  });
  const material: ExportMaterial = {
    name,
    certPem: pem(m.cert.rawData),
    encryptedKeyPem: m.key ? toPem("ENCRYPTED PRIVATE KEY", m.key) : undefined,
    chainPems: m.chainPems,
    ...(m.crl ? { crl: m.crl } : {}),
  };
  if (passphrase === undefined || !material.encryptedKeyPem) return material;
  const { der, key } = await decryptPkcs8Key(material.encryptedKeyPem, passphrase, keyLabel(name));
  if (!(await isKeyOf(keyObjectsOf(key), m.cert.publicKey.rawData))) {
    der.fill(0);
    throw new DepotError(`the key of ${name === ROOT ? "the root CA" : `"${name}"`} does not match its certificate: ` +
      "run 'pki doctor'");
  }
  return { ...material, keyDer: der };
}

type X509 = import("../../lib/x509/peculiar.js").x509.X509Certificate;

/** NAME's certificate then its issuers up to the root, after checking each signature, name link and validity. */
export async function verifiedChain(store: RecordStore, name: string, now = new Date()): Promise<X509[]> {
  const ders = await store.read(async (tx) => {
    const e = await entryOf(tx, name);
    if (e.status !== "signed") throw new InputError(`"${name}" is ${e.status}: it has no valid chain`);
    const out = [(await certOf(tx, name)).rawData];
    for (const n of await issuerNames(tx, e)) out.push((await certOf(tx, n)).rawData);
    return out;
  });
  const { x509 } = await import("../../lib/x509/peculiar.js");
  const certs = ders.map((d) => new x509.X509Certificate(d));
  await checkChain(name, certs, now);
  return certs;
}

/** The root, then each intermediate valid now whose chain verifies (what `pki chain` prints without NAME). */
export async function caCertificates(store: RecordStore, now = new Date()): Promise<X509[]> {
  const cas: string[] = [];
  for await (const e of store.list({ status: "signed" })) {
    const valid = validityState(
      e.notBefore ? new Date(e.notBefore) : undefined, e.notAfter ? new Date(e.notAfter) : undefined, false, now,
    );
    if (e.kind === "ca" && e.name !== ROOT && valid === "valid") cas.push(e.name);
  }
  const root = await verifiedChain(store, ROOT, now);
  const rest = await Promise.all(cas.map(async (n) => (await verifiedChain(store, n, now))[0]));
  return [...root, ...rest];
}
