/**
 * `pki import`: reads an etcd-ca depot or a certstrap `out/` directory (only reads it) and writes a pki depot
 * with every key re-encrypted as PKCS#8.
 *
 *   etcd-ca:   ca.crt  ca.key (or ca.priv.key)  ca.crt.info (last serial)  NAME.host.crt .csr .key (or .priv.key)
 *   certstrap: CA.crt CA.key (any name: the self-signed CA certificate)  NAME.crt .csr .key
 *
 * Keys may be legacy-encrypted PEM (Proc-Type: 4,ENCRYPTED, DES-EDE3-CBC; PKCS#1 or SEC1), PKCS#8, or plain.
 * Everything is read, decrypted and checked (key matches certificate, certificate signed by an imported CA)
 * before the first byte is written.
 */
import { createPrivateKey, createPublicKey, KeyObject } from "node:crypto";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { x509 } from "../lib/x509/peculiar.js";
import { parsePemAll } from "../lib/x509/pem.js";
import { describeKey, specOfPkcs8 } from "../lib/x509/keys.js";
import { EKU, sansOf } from "../lib/x509/cert.js";
import { checkName, InputError } from "../lib/x509/validate.js";
import { Depot, Entry, Index, ROOT } from "./depot.js";
import { DepotError, readText, writeAtomic } from "./fsutil.js";

export type ImportSource = "etcd-ca" | "certstrap";
export interface ImportOptions { from: ImportSource; src: string; passphrase: string; hostPassphrase?: string }

interface Item { name: string; cert?: x509.X509Certificate; csr?: x509.Pkcs10CertificateRequest; keyDer: Buffer; passphrase: string; file: string }

const MAX_FILE = 1 << 20;

/** The depot `dir` made from the depot at `o.src`; returns the names imported. */
export async function importDepot(dir: string, o: ImportOptions): Promise<{ depot: Depot; names: string[]; serialFloor: string }> {
  if (existsSync(join(dir, "ca.crt"))) throw new DepotError(`a CA already exists in ${dir}: import into a new depot (--depot DIR)`);
  if (!existsSync(o.src) || !statSync(o.src).isDirectory()) throw new InputError(`${o.src} is not a directory`);
  const files = new Set(readdirSync(o.src));
  const layout = o.from === "etcd-ca" ? etcdCaLayout(files) : certstrapLayout(o.src, files);
  const hostPass = o.hostPassphrase ?? o.passphrase;
  const read = (f: string) => {
    const p = join(o.src, f);
    const st = statSync(p);
    if (!st.isFile()) throw new InputError(`${p} is not a regular file`);
    if (st.size > MAX_FILE) throw new InputError(`${p} is larger than 1 MB`);
    return readText(p, p);
  };
  const item = (name: string, f: { crt?: string; csr?: string; key: string }, passphrase: string): Item => {
    const cert = f.crt ? parse(f.crt, read(f.crt), "CERTIFICATE", (d) => new x509.X509Certificate(d)) : undefined;
    const csr = f.csr ? parse(f.csr, read(f.csr), "CERTIFICATE REQUEST", (d) => new x509.Pkcs10CertificateRequest(d)) : undefined;
    const key = openKey(join(o.src, f.key), read(f.key), passphrase);
    const spki = (cert ?? csr)?.publicKey.rawData;
    if (spki && !Buffer.from(spki).equals(createPublicKey(key).export({ type: "spki", format: "der" }))) {
      throw new InputError(`${join(o.src, f.key)} does not belong to ${join(o.src, (f.crt ?? f.csr)!)}`);
    }
    return { name, cert, csr, keyDer: key.export({ type: "pkcs8", format: "der" }), passphrase, file: join(o.src, f.crt ?? f.csr ?? f.key) };
  };

  const root = item(ROOT, layout.root, o.passphrase);
  if (!root.cert || !(await root.cert.isSelfSigned())) throw new InputError(`${root.file} is not a self-signed CA certificate`);
  const items = layout.hosts.map((h) => item(checkImportName(h.name, h.key), h, hostPass));
  // Each certificate must be signed by the root or by an imported CA (an intermediate).
  const cas = [root, ...items.filter((i) => i.cert && isCa(i.cert))];
  const issuerOf = async (i: Item) => {
    for (const c of cas) if (c !== i && c.cert!.subject === i.cert!.issuer && (await i.cert!.verify({ publicKey: c.cert!, signatureOnly: true }))) return c.name;
    throw new InputError(`${i.file} is not signed by the imported CA ${root.cert!.subject}`);
  };
  let floor = 0n;
  const serials: string[] = [];
  const entries: Record<string, Entry> = {};
  const now = new Date().toISOString();
  for (const i of [root, ...items]) {
    const spec = specOfPkcs8(i.keyDer);
    const base = { name: i.name, keyType: describeKey(spec), created: now };
    if (!i.cert) {
      if (!i.csr) throw new InputError(`${i.file}: a key without a CSR or certificate`);
      entries[i.name] = { ...base, kind: "leaf", subject: i.csr.subject, sans: sansOf(i.csr), status: "unsigned" };
      continue;
    }
    const serial = i.cert.serialNumber.toLowerCase();
    if (serials.includes(serial)) throw new InputError(`${i.file}: serial ${serial} is used twice`);
    serials.push(serial);
    floor = BigInt(`0x${serial}`) > floor ? BigInt(`0x${serial}`) : floor;
    const bc = i.cert.getExtension(x509.BasicConstraintsExtension);
    entries[i.name] = {
      ...base, kind: isCa(i.cert) ? "ca" : "leaf", issuer: i.name === ROOT ? undefined : await issuerOf(i), subject: i.cert.subject, sans: sansOf(i.cert),
      status: "signed", serial, notBefore: i.cert.notBefore.toISOString(), notAfter: i.cert.notAfter.toISOString(),
      ...(isCa(i.cert) ? { pathLength: bc?.pathLength } : usageOf(i.cert)),
    };
  }
  // etcd-ca's ca.crt.info holds the last serial it handed out (JSON number).
  if (layout.info) {
    const n = read(layout.info).trim();
    if (!/^\d{1,48}$/.test(n)) throw new InputError(`${join(o.src, layout.info)}: expected the last serial number, got ${JSON.stringify(n.slice(0, 40))}`);
    if (BigInt(n) > floor) floor = BigInt(n);
  }

  // Everything checked: now write the new depot.
  const depot = Depot.create(dir);
  return depot.withLock(async () => {
    if (depot.hasCA()) throw new DepotError(`a CA already exists in ${dir}`);
    for (const i of [...items, root]) {
      writeAtomic(depot.keyPath(i.name), await depot.encryptKey(i.keyDer, i.passphrase), 0o600);
      if (i.csr) writeAtomic(depot.csrPath(i.name), i.csr.toString("pem") + "\n", 0o644);
      if (i.cert) writeAtomic(depot.certPath(i.name), i.cert.toString("pem") + "\n", 0o644);
    }
    const idx: Index = { entries, serials, serialFloor: floor.toString(16) };
    depot.writeIndex(idx);
    return { depot, names: Object.keys(entries), serialFloor: idx.serialFloor! };
  });
}

interface Files { name: string; crt?: string; csr?: string; key: string }

function etcdCaLayout(files: Set<string>): { root: Files; hosts: Files[]; info?: string } {
  const pick = (...names: string[]) => names.find((n) => files.has(n));
  const rootKey = pick("ca.key", "ca.priv.key");
  if (!files.has("ca.crt") || !rootKey) throw new InputError("not an etcd-ca depot: ca.crt and ca.key are missing (pass the .etcd-ca directory)");
  const names = new Set([...files].map((f) => /^(.+)\.host\.(crt|csr|key|priv\.key)$/.exec(f)?.[1]).filter((n): n is string => !!n));
  const hosts = [...names].sort().map((n) => {
    const key = pick(`${n}.host.key`, `${n}.host.priv.key`);
    if (!key) throw new InputError(`${n}.host: no key (${n}.host.key) in the etcd-ca depot`);
    return { name: n, crt: pick(`${n}.host.crt`), csr: pick(`${n}.host.csr`), key };
  });
  return { root: { name: ROOT, crt: "ca.crt", key: rootKey }, hosts, info: pick("ca.crt.info") };
}

function certstrapLayout(src: string, files: Set<string>): { root: Files; hosts: Files[]; info?: string } {
  const stems = new Set([...files].map((f) => /^(.+)\.(crt|csr|key)$/.exec(f)?.[1]).filter((n): n is string => !!n));
  const selfSigned = [...stems].filter((s) => {
    if (!files.has(`${s}.crt`)) return false;
    try {
      const c = new x509.X509Certificate(parsePemAll(readText(join(src, `${s}.crt`))).find((b) => b.label === "CERTIFICATE")!.der);
      return c.subject === c.issuer && isCa(c);
    } catch { return false; }
  });
  if (selfSigned.length !== 1) throw new InputError(`not a certstrap depot: expected one self-signed CA certificate in ${src}, found ${selfSigned.length}`);
  const [ca] = selfSigned;
  if (!files.has(`${ca}.key`)) throw new InputError(`the CA key ${ca}.key is missing`);
  const hosts = [...stems].filter((s) => s !== ca).sort().map((s) => {
    if (!files.has(`${s}.key`)) throw new InputError(`${s}: no key (${s}.key) in the certstrap depot`);
    return { name: s, crt: files.has(`${s}.crt`) ? `${s}.crt` : undefined, csr: files.has(`${s}.csr`) ? `${s}.csr` : undefined, key: `${s}.key` };
  });
  return { root: { name: ROOT, crt: `${ca}.crt`, key: `${ca}.key` }, hosts };
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

/** Opens any PEM private key OpenSSL reads (legacy Proc-Type encryption included). */
function openKey(file: string, pem: string, passphrase: string): KeyObject {
  const encrypted = /Proc-Type: 4,ENCRYPTED|BEGIN ENCRYPTED PRIVATE KEY/.test(pem);
  try {
    const key = createPrivateKey(encrypted ? { key: pem, format: "pem", passphrase } : { key: pem, format: "pem" });
    specOfPkcs8(key.export({ type: "pkcs8", format: "der" }));
    return key;
  } catch (e) {
    const msg = (e as Error).message;
    if (encrypted && /bad decrypt|decrypt|passphrase/i.test(msg)) throw new InputError(`${file}: wrong passphrase (the key is encrypted)`);
    throw new InputError(`${file}: not a usable private key (${msg})`);
  }
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
