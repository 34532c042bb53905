/**
 * `pki import`, the reading: an etcd-ca depot or a certstrap `out/` directory (only read), checked whole before a
 * depot is written (store/import/write.ts).
 *
 *   etcd-ca:   ca.crt  ca.key (or ca.priv.key)  ca.crt.info (last serial)  NAME.host.crt .csr .key (or .priv.key)
 *   certstrap: CA.crt CA.key CA.crl (any name: the self-signed CA certificate)  NAME.crt .csr .key
 *
 * Keys may be legacy-encrypted PEM (Proc-Type: 4,ENCRYPTED, DES-EDE3-CBC; PKCS#1 or SEC1; an empty
 * passphrase too), PKCS#8 (go.step.sm/crypto's malformed one included), or plain. A certificate without
 * its key becomes an external-key entry; a certstrap CRL's revocations land in the index. Everything is
 * read, decrypted and checked (key matches certificate, certificate signed by an imported CA) before the
 * first byte is written.
 */
import { createPublicKey } from "node:crypto";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { x509 } from "../../lib/x509/peculiar.js";
import { parsePemAll } from "../../lib/x509/pem.js";
import { describeKey, specOfPkcs8, specOfSpki } from "../../lib/x509/keys.js";
import { EKU, sansOf } from "../../lib/x509/cert.js";
import { checkName, InputError } from "../../lib/x509/validate.js";
import { openForeignKey } from "../../lib/formats/foreign-keys.js";
import type { Entry } from "../records/schema.js";
import type { Index } from "../records/layout1-index.js";
import { readText } from "../fsutil.js";
import { readCrls, type ImportedCrl } from "./crl.js";
import { checkImportedIndex, keepLoadable } from "./check.js";
import { SERIAL_RE } from "../records/integrity.js";
import { ROOT } from "../records/schema.js";

export type ImportSource = "etcd-ca" | "certstrap";
export interface ImportOptions {
  from: ImportSource; src: string;
  passphrase: string;          // the new depot's keys (never empty)
  sourcePassphrase?: string;   // the source's keys, when it differs (may be empty: read only)
  hostPassphrase?: string;     // the certificates' keys, when it differs from the CA key's
  ca?: string;                 // certstrap: the CA to import when out/ holds several
}
export interface ImportPlan {
  idx: Index; root: Item; kept: Item[]; names: string[]; external: string[]; revoked: string[]; skipped: string[];
}

interface Files { name: string; crt?: string; csr?: string; key?: string }
export interface Item {
  name: string;
  f: Files;
  cert?: x509.X509Certificate;
  csr?: x509.Pkcs10CertificateRequest;
  keyDer?: Buffer;
  read: string;
  write: string;
  file: string;
  issuer?: string;
}

const MAX_FILE = 1 << 20;

/**
 * Everything an import of the depot at `o.src` makes, read, decrypted and checked, nothing written yet: the index,
 * the items with their certificates, requests and plain keys (each with the passphrase to seal it under).
 */
export async function readImport(o: ImportOptions): Promise<ImportPlan> {
  if (!existsSync(o.src) || !statSync(o.src).isDirectory()) throw new InputError(`${o.src} is not a directory`);
  const files = new Set(readdirSync(o.src));
  const read = (f: string) => {
    const p = join(o.src, f);
    const st = statSync(p);
    if (!st.isFile()) throw new InputError(`${p} is not a regular file`);
    if (st.size > MAX_FILE) throw new InputError(`${p} is larger than 1 MB`);
    return readText(p, p);
  };
  const layout = o.from === "etcd-ca" ? etcdCaLayout(files) : certstrapLayout(o.src, files, read, o.ca);
  const source = o.sourcePassphrase ?? o.passphrase;
  // A source passphrase that is empty (or absent) protects nothing in the new depot: its keys get the new one.
  const hostRead = o.hostPassphrase ?? source;
  const hostWrite = o.hostPassphrase || o.passphrase;
  const skipped = [...layout.skipped];
  const load = (name: string, f: Files, pass: string, write: string): Item => ({
    name,
    f,
    read: pass,
    write,
    file: join(o.src, f.crt ?? f.csr ?? f.key!),
    cert: f.crt ? parse(f.crt, read(f.crt), "CERTIFICATE", (d) => new x509.X509Certificate(d)) : undefined,
    csr: f.csr
      ? parse(f.csr, read(f.csr), "CERTIFICATE REQUEST", (d) => new x509.Pkcs10CertificateRequest(d))
      : undefined,
  });
  const root = load(ROOT, layout.root, source, o.passphrase);
  if (!root.cert || !(await root.cert.isSelfSigned()))
    throw new InputError(`${root.file} is not a self-signed CA certificate`);
  const hosts = layout.hosts.map((h) =>
    load(checkImportName(h.name, h.key ?? h.crt ?? h.csr!), h, hostRead, hostWrite),
  );

  // Certificates join once a CA already accepted signed them; with several roots in out/, the rest are left.
  const accepted: Item[] = [root];
  const pending = hosts.filter((h) => h.cert);
  for (let grew = true; grew; ) {
    grew = false;
    for (const i of [...pending]) {
      for (const c of accepted) {
        if (
          !c.cert ||
          !isCa(c.cert) ||
          c.cert.subject !== i.cert!.issuer ||
          !(await i.cert!.verify({ publicKey: c.cert, signatureOnly: true }))
        )
          continue;
        i.issuer = c.name;
        accepted.push(i);
        pending.splice(pending.indexOf(i), 1);
        grew = true;
        break;
      }
    }
  }
  for (const i of pending) {
    if (!layout.otherRoots.length)
      throw new InputError(`${i.file} is not signed by the imported CA ${root.cert.subject}`);
    skipped.push(`${i.f.crt}: not issued by ${layout.rootStem ?? "the imported CA"} (another CA in ${o.src})`);
  }
  for (const h of hosts.filter((h) => !h.cert)) {
    if (h.f.key && h.csr) accepted.push(h);
    else
      skipped.push(
        `${h.f.csr ?? h.f.key}: a ${h.f.csr ? "CSR" : "key"} without ${h.f.csr ? "key" : "CSR"} or certificate`,
      );
  }
  const external: string[] = [];
  for (const i of accepted) {
    if (!i.f.key) {
      if (isCa(i.cert!))
        throw new InputError(
          `${i.file}: a CA certificate without its key (${i.name}.key): the depot cannot issue from it`,
        );
      external.push(i.name);
      continue;
    }
    const key = openForeignKey(join(o.src, i.f.key), read(i.f.key), i.read);
    const spki = (i.cert ?? i.csr)?.publicKey.rawData;
    if (spki && !Buffer.from(spki).equals(createPublicKey(key).export({ type: "spki", format: "der" }))) {
      throw new InputError(`${join(o.src, i.f.key)} does not belong to ${join(o.src, (i.f.crt ?? i.f.csr)!)}`);
    }
    i.keyDer = key.export({ type: "pkcs8", format: "der" });
  }

  let floor = 0n;
  const serials: string[] = [];
  const entries: Record<string, Entry> = {};
  const now = new Date().toISOString();
  for (const i of accepted) {
    const keyType = describeKey(i.keyDer ? specOfPkcs8(i.keyDer) : specOfSpki(i.cert!.publicKey.rawData));
    const base = { name: i.name, keyType, created: now, ...(i.keyDer ? {} : { external: true }) };
    if (!i.cert) {
      entries[i.name] = { ...base, kind: "leaf", subject: i.csr!.subject, sans: sansOf(i.csr!), status: "unsigned" };
      continue;
    }
    const serial = i.cert.serialNumber.toLowerCase();
    if (serials.includes(serial)) throw new InputError(`${i.file}: serial ${serial} is used twice`);
    serials.push(serial);
    if (SERIAL_RE.test(serial) && BigInt(`0x${serial}`) > floor) floor = BigInt(`0x${serial}`);
    const bc = i.cert.getExtension(x509.BasicConstraintsExtension);
    entries[i.name] = {
      ...base, kind: isCa(i.cert) ? "ca" : "leaf", issuer: i.issuer, subject: i.cert.subject, sans: sansOf(i.cert),
      status: "signed", serial, notBefore: i.cert.notBefore.toISOString(), notAfter: i.cert.notAfter.toISOString(),
      ...(isCa(i.cert) ? { pathLength: bc?.pathLength } : usageOf(i.cert)),
    };
  }
  if (layout.rootStem && layout.rootStem !== ROOT) entries[ROOT].alias = layout.rootStem;
  // etcd-ca's ca.crt.info holds the last serial it handed out (JSON number).
  if (layout.info) {
    const n = read(layout.info).trim();
    if (!/^\d{1,48}$/.test(n))
      throw new InputError(
        `${join(o.src, layout.info)}: expected the last serial number, got ${JSON.stringify(n.slice(0, 40))}`,
      );
    if (BigInt(n) > floor) floor = BigInt(n);
  }
  const idx: Index = { entries, serials, serialFloor: floor.toString(16) };
  keepLoadable(idx, accepted.map((i) => i.name), (n) => accepted.find((i) => i.name === n)!.file, skipped);
  const kept = accepted.filter((i) => idx.entries[i.name]);
  const cas = kept.filter((i) => i.cert && isCa(i.cert)).map((i) => ({ name: i.name, cert: i.cert! }));
  const crls: ImportedCrl[] = await readCrls(layout.crls.map((f) => ({ file: f, text: read(f) })), cas, idx, skipped);
  checkImportedIndex(idx);

  return {
    idx, root, kept,
    names: Object.keys(entries),
    external: external.filter((n) => entries[n]),
    revoked: crls.flatMap((c) => c.revoked),
    skipped,
  };
}

interface Layout {
  root: Files;
  hosts: Files[];
  info?: string;
  crls: string[];
  skipped: string[];
  otherRoots: string[];
  rootStem?: string;
}

function etcdCaLayout(files: Set<string>): Layout {
  const pick = (...names: string[]) => names.find((n) => files.has(n));
  const rootKey = pick("ca.key", "ca.priv.key");
  if (!files.has("ca.crt") || !rootKey)
    throw new InputError("not an etcd-ca depot: ca.crt and ca.key are missing (pass the .etcd-ca directory)");
  const names = new Set(
    [...files].map((f) => /^(.+)\.host\.(crt|csr|key|priv\.key)$/.exec(f)?.[1]).filter((n): n is string => !!n),
  );
  const hosts = [...names]
    .sort()
    .map((n) => ({
      name: n,
      crt: pick(`${n}.host.crt`),
      csr: pick(`${n}.host.csr`),
      key: pick(`${n}.host.key`, `${n}.host.priv.key`),
    }));
  return {
    root: { name: ROOT, crt: "ca.crt", key: rootKey },
    hosts,
    info: pick("ca.crt.info"),
    crls: [],
    skipped: [],
    otherRoots: [],
  };
}

function certstrapLayout(src: string, files: Set<string>, read: (f: string) => string, pick?: string): Layout {
  const stems = new Set([...files].map((f) => /^(.+)\.(crt|csr|key)$/.exec(f)?.[1]).filter((n): n is string => !!n));
  const roots = [...stems].filter((s) => {
    if (!files.has(`${s}.crt`)) return false;
    try {
      const c = new x509.X509Certificate(parsePemAll(read(`${s}.crt`)).find((b) => b.label === "CERTIFICATE")!.der);
      return c.subject === c.issuer && isCa(c);
    } catch { return false; }
  }).sort();
  if (!roots.length) throw new InputError(`not a certstrap depot: no self-signed CA certificate in ${src}`);
  if (pick !== undefined && !roots.includes(pick))
    throw new InputError(`no CA "${pick}" in ${src}: its CAs are ${roots.join(", ")}`);
  if (roots.length > 1 && pick === undefined)
    throw new InputError(`${src} holds several CAs: ${roots.join(", ")}: pick one with --ca NAME`);
  const ca = pick ?? roots[0];
  if (!files.has(`${ca}.key`)) throw new InputError(`the CA key ${ca}.key is missing`);
  const has = (f: string) => (files.has(f) ? f : undefined);
  const hosts = [...stems]
    .filter((s) => s !== ca)
    .sort()
    .map((s) => ({ name: s, crt: has(`${s}.crt`), csr: has(`${s}.csr`), key: has(`${s}.key`) }));
  const crls = [...files].filter((f) => f.endsWith(".crl")).sort();
  const known = /\.(crt|csr|key|crl)$/;
  const skipped = [...files]
    .filter((f) => !known.test(f) && statSync(join(src, f)).isFile())
    .sort()
    .map((f) => `${f}: not a certificate, CSR, key or CRL`);
  return {
    root: { name: ROOT, crt: `${ca}.crt`, key: `${ca}.key` },
    hosts,
    crls,
    skipped,
    otherRoots: roots.filter((r) => r !== ca),
    rootStem: ca,
  };
}

function checkImportName(name: string, file: string): string {
  if (name === ROOT) throw new InputError(`${file}: the name "${ROOT}" is reserved for the root CA in a pki depot`);
  try { return checkName(name); } catch (e) { throw new InputError(`${file}: ${(e as Error).message}`); }
}

function parse<T>(file: string, text: string, label: string, make: (der: Buffer<ArrayBuffer>) => T): T {
  try {
    const b = parsePemAll(text).find((x) => x.label === label);
    if (!b) throw new Error(`no PEM "${label}" block`);
    return make(b.der);
  } catch (e) { throw new InputError(`${file}: not a valid ${label.toLowerCase()} (${(e as Error).message})`); }
}

function isCa(c: x509.X509Certificate): boolean {
  return c.getExtension(x509.BasicConstraintsExtension)?.ca === true;
}

function usageOf(c: x509.X509Certificate): Partial<Entry> {
  const eku = (c.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? []).map(String);
  const server = eku.includes(EKU.serverAuth), client = eku.includes(EKU.clientAuth);
  if (eku.length === 2 && server && client) return { usage: "peer" };
  if (eku.length === 1 && (server || client)) return { usage: server ? "server" : "client" };
  return eku.length ? { usage: "peer", eku } : { usage: "peer" };
}
