/**
 * The depot: a directory (0700) holding the CA and every issued certificate.
 *
 *   depot.json          layout version, KDF salt and iteration count
 *   index.json          every name: kind, issuer, status, serial, validity, SANs; every serial ever issued
 *   ca.crt  ca.key      the root CA (key: encrypted PKCS#8, 0600)
 *   certs/NAME.key      encrypted PKCS#8 (0600)
 *   certs/NAME.csr      PKCS#10 request
 *   certs/NAME.crt      the certificate, once signed
 *   lock                present while a command changes the depot
 *
 * Every write is atomic; a command that changes the depot holds the lock.
 */
import { existsSync, mkdirSync, chmodSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { x509 } from "../lib/x509.js";
import { parsePem, toPem } from "../lib/pem.js";
import { encryptPkcs8, decryptPkcs8, DEFAULT_ITERATIONS } from "../lib/pkcs8.js";
import { describeKey, exportPkcs8, generateKeyPair, importPkcs8, KeyPair, KeySpec } from "../lib/keys.js";
import { checkCsr, clampToIssuer, createCsr, createRootCertificate, issueCertificate, Profile, randomSerial, Sans, sansOf, Subject, subjectName } from "../lib/cert.js";
import { checkName, InputError } from "../lib/validate.js";
import { DepotError, readText, writeAtomic } from "./fsutil.js";
import { acquireLock } from "./lock.js";
import type { ExportMaterial } from "../lib/export.js";

export { DepotError };
export const LAYOUT_VERSION = 1;
export const ROOT = "ca";

export interface DepotMeta { layout: number; kdf: { salt: string; iterations: number }; created: string }

export type Status = "unsigned" | "signed" | "revoked";
export interface Entry {
  name: string;
  kind: "leaf" | "ca";
  issuer?: string;
  subject: string;
  keyType: string;
  sans: Sans;
  status: Status;
  created: string;
  serial?: string;
  notBefore?: string;
  notAfter?: string;
  usage?: string;
}
export interface Index { entries: Record<string, Entry>; serials: string[] }

export interface InitOptions { subject: Subject; key: KeySpec; notAfter: Date; passphrase: string; pathLength?: number; iterations?: number }
export interface NewCertOptions { subject: Subject; sans: Sans; key: KeySpec; passphrase: string }
export interface SignOptions { caPassphrase: string; notAfter: (from: Date) => Date; profile?: Profile }

export function defaultDepotDir(flag?: string): string {
  return resolve(flag || process.env.PKI_DEPOT || ".pki");
}

export class Depot {
  readonly warnings: string[] = [];
  private constructor(readonly dir: string, readonly meta: DepotMeta) {}

  /** Opens an existing depot; refuses a layout newer than this binary understands. */
  static open(dir: string): Depot {
    if (!existsSync(join(dir, "depot.json"))) throw new DepotError(`no depot at ${dir}: run 'pki init' first (or pass --depot DIR)`);
    const meta = parseJson<DepotMeta>(readText(join(dir, "depot.json"), "depot.json"), "depot.json");
    if (typeof meta.layout !== "number" || !meta.kdf?.salt) throw new DepotError("depot.json is damaged: no layout version or KDF salt");
    if (meta.layout > LAYOUT_VERSION) throw new DepotError(`depot layout version ${meta.layout} is newer than this pki understands (${LAYOUT_VERSION}): upgrade pki`);
    return new Depot(dir, meta);
  }

  /** Creates the depot directory and its metadata (no CA yet). */
  private static create(dir: string, iterations = DEFAULT_ITERATIONS): Depot {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    mkdirSync(join(dir, "certs"), { recursive: true, mode: 0o700 });
    const meta: DepotMeta = { layout: LAYOUT_VERSION, kdf: { salt: randomBytes(16).toString("base64"), iterations }, created: new Date().toISOString() };
    if (!existsSync(join(dir, "depot.json"))) writeAtomic(join(dir, "depot.json"), JSON.stringify(meta, null, 2) + "\n", 0o600);
    return Depot.open(dir);
  }

  // ---- paths and files -------------------------------------------------
  path(...parts: string[]): string { return join(this.dir, ...parts); }
  certPath(name: string): string { return name === ROOT ? this.path("ca.crt") : this.path("certs", `${name}.crt`); }
  keyPath(name: string): string { return name === ROOT ? this.path("ca.key") : this.path("certs", `${name}.key`); }
  csrPath(name: string): string { return this.path("certs", `${name}.csr`); }
  private rel(p: string): string { return p.slice(this.dir.length + 1); }

  readIndex(): Index {
    const p = this.path("index.json");
    if (!existsSync(p)) return { entries: {}, serials: [] };
    const idx = parseJson<Index>(readText(p, "index.json"), "index.json");
    if (!idx.entries || !Array.isArray(idx.serials)) throw new DepotError("index.json is damaged: run 'pki doctor'");
    return idx;
  }
  writeIndex(idx: Index): void { writeAtomic(this.path("index.json"), JSON.stringify(idx, null, 2) + "\n", 0o600); }

  hasCA(): boolean { return existsSync(this.path("ca.crt")); }

  entry(name: string): Entry {
    checkName(name);
    const e = this.readIndex().entries[name];
    if (!e) throw new InputError(`unknown name "${name}": see 'pki list'`);
    return e;
  }

  readCert(name: string): x509.X509Certificate {
    const p = this.certPath(name);
    return parseCertPem(readText(p, this.rel(p)), this.rel(p));
  }
  readKeyPem(name: string): string {
    const p = this.keyPath(name);
    const pem = readText(p, this.rel(p));
    parsePem(pem, "ENCRYPTED PRIVATE KEY", this.rel(p));
    return pem;
  }
  readCsr(name: string): x509.Pkcs10CertificateRequest {
    const p = this.csrPath(name);
    const pem = readText(p, this.rel(p));
    try { return new x509.Pkcs10CertificateRequest(parsePem(pem, "CERTIFICATE REQUEST", this.rel(p))); }
    catch (e) { throw new DepotError(`${this.rel(p)}: not a valid CSR (${(e as Error).message})`); }
  }

  /** Decrypts NAME's key (root: "ca"); a wrong passphrase throws before anything is written. */
  async unlockKey(name: string, passphrase: string): Promise<{ der: Buffer; keys: KeyPair }> {
    const der = await decryptPkcs8(this.readKeyPem(name), passphrase, name === ROOT ? "the CA key" : `the key of "${name}"`);
    return { der, keys: await importPkcs8(der) };
  }

  async encryptKey(der: Uint8Array, passphrase: string): Promise<string> {
    return encryptPkcs8(der, passphrase, { salt: Buffer.from(this.meta.kdf.salt, "base64"), iterations: this.meta.kdf.iterations });
  }

  async withLock<T>(fn: () => Promise<T>): Promise<T> {
    const release = await acquireLock(this.dir);
    try { return await fn(); } finally { release(); }
  }

  /** A random serial not yet used in this depot. */
  freshSerial(idx: Index): string {
    for (;;) {
      const s = randomSerial();
      if (!idx.serials.includes(s)) return s;
    }
  }

  // ---- commands --------------------------------------------------------

  /** `pki init`: creates the depot and a self-signed root. */
  static async init(dir: string, o: InitOptions): Promise<{ depot: Depot; cert: x509.X509Certificate }> {
    if (existsSync(join(dir, "ca.crt"))) throw new DepotError(`a CA already exists in ${dir}`);
    const keys = await generateKeyPair(o.key); // before touching the disk
    const depot = Depot.create(dir, o.iterations);
    return depot.withLock(async () => {
      if (depot.hasCA()) throw new DepotError(`a CA already exists in ${dir}`);
      const idx = depot.readIndex();
      const serial = depot.freshSerial(idx);
      const cert = await createRootCertificate({ subject: o.subject, keys, notAfter: o.notAfter, pathLength: o.pathLength, serial });
      const keyPem = await depot.encryptKey(await exportPkcs8(keys.privateKey), o.passphrase);
      writeAtomic(depot.keyPath(ROOT), keyPem, 0o600);
      writeAtomic(depot.certPath(ROOT), cert.toString("pem") + "\n", 0o644);
      idx.serials.push(serial);
      idx.entries[ROOT] = {
        name: ROOT, kind: "ca", subject: cert.subject, keyType: describeKey(o.key), sans: { ips: [], domains: [] },
        status: "signed", created: new Date().toISOString(), serial, notBefore: cert.notBefore.toISOString(), notAfter: cert.notAfter.toISOString(),
      };
      depot.writeIndex(idx);
      return { depot, cert };
    });
  }

  /** `pki new-cert`: a key (encrypted) and a CSR, recorded as unsigned. */
  async newCert(name: string, o: NewCertOptions): Promise<Entry> {
    checkName(name);
    if (name === ROOT) throw new InputError(`the name "${ROOT}" is reserved for the root CA`);
    const keys = await generateKeyPair(o.key);
    const csr = await createCsr(o.subject, o.sans, keys);
    const keyPem = await this.encryptKey(await exportPkcs8(keys.privateKey), o.passphrase);
    return this.withLock(async () => {
      const idx = this.readIndex();
      if (idx.entries[name]) throw new InputError(`"${name}" already exists in the depot`);
      const entry: Entry = {
        name, kind: "leaf", subject: csr.subject, keyType: describeKey(o.key), sans: o.sans,
        status: "unsigned", created: new Date().toISOString(),
      };
      // Order: key, CSR, then the index entry that makes them visible.
      writeAtomic(this.keyPath(name), keyPem, 0o600);
      writeAtomic(this.csrPath(name), csr.toString("pem") + "\n", 0o644);
      idx.entries[name] = entry;
      this.writeIndex(idx);
      return entry;
    });
  }

  /** `pki sign`: the root CA signs NAME's CSR. */
  async sign(name: string, o: SignOptions): Promise<{ entry: Entry; cert: x509.X509Certificate }> {
    const pre = this.entry(name);
    if (pre.status !== "unsigned") throw new InputError(`"${name}" is already signed`);
    const csr = this.readCsr(name);
    const sans = await checkCsr(csr);
    const issuerCert = this.readCert(ROOT);
    const { keys: issuerKeys } = await this.unlockKey(ROOT, o.caPassphrase);
    return this.withLock(async () => {
      const idx = this.readIndex();
      const entry = idx.entries[name];
      if (!entry || entry.status !== "unsigned") throw new InputError(`"${name}" is already signed`);
      const clamp = clampToIssuer(o.notAfter(new Date()), issuerCert);
      if (clamp.warning) this.warnings.push(clamp.warning);
      const serial = this.freshSerial(idx);
      const profile: Profile = o.profile ?? { kind: "leaf" };
      const cert = await issueCertificate({
        subject: csr.subjectName, publicKey: csr.publicKey, sans, issuerCert, issuerKeys, serial, notAfter: clamp.notAfter, profile,
      });
      writeAtomic(this.certPath(name), cert.toString("pem") + "\n", 0o644);
      Object.assign(entry, {
        status: "signed", issuer: ROOT, serial, notBefore: cert.notBefore.toISOString(), notAfter: cert.notAfter.toISOString(),
        usage: profile.kind === "leaf" ? profile.usage ?? "peer" : undefined,
      } satisfies Partial<Entry>);
      idx.serials.push(serial);
      this.writeIndex(idx);
      return { entry, cert };
    });
  }

  /** The entry list, with a status derived from the certificate dates. */
  list(now = new Date()): Array<Entry & { state: string }> {
    const idx = this.readIndex();
    return Object.values(idx.entries)
      .sort((a, b) => (a.name === ROOT ? -1 : b.name === ROOT ? 1 : a.name.localeCompare(b.name)))
      .map((e) => ({ ...e, state: stateOf(e, now) }));
  }

  /** What export needs of NAME; with a passphrase the key is decrypted (and so the passphrase checked). */
  async exportMaterial(name: string, passphrase?: string): Promise<ExportMaterial> {
    const e = this.entry(name);
    if (e.status === "unsigned") throw new InputError(`"${name}" is not signed yet: run 'pki sign ${name}' first`);
    const certPem = this.readCert(name).toString("pem") + "\n";
    const encryptedKeyPem = this.readKeyPem(name);
    const keyDer = passphrase === undefined ? undefined : (await this.unlockKey(name, passphrase)).der;
    const chainPems = name === ROOT ? [] : [this.readCert(ROOT).toString("pem") + "\n"];
    return { name, certPem, encryptedKeyPem, keyDer, chainPems };
  }

  /** Permission check helper: the mode of a depot file. */
  mode(rel: string): number { return statSync(this.path(rel)).mode & 0o777; }
}

export function stateOf(e: Entry, now = new Date()): "unsigned" | "revoked" | "not-yet-valid" | "expired" | "valid" {
  if (e.status === "unsigned") return "unsigned";
  if (e.status === "revoked") return "revoked";
  if (e.notBefore && new Date(e.notBefore) > now) return "not-yet-valid";
  if (e.notAfter && new Date(e.notAfter) <= now) return "expired";
  return "valid";
}

function parseJson<T>(text: string, what: string): T {
  try { return JSON.parse(text) as T; } catch { throw new DepotError(`${what} is damaged (not JSON): run 'pki doctor'`); }
}

export function parseCertPem(pem: string, what: string): x509.X509Certificate {
  try { return new x509.X509Certificate(parsePem(pem, "CERTIFICATE", what)); }
  catch (e) { throw new DepotError(`${what}: not a valid certificate (${(e as Error).message})`); }
}

export { subjectName, sansOf, toPem };

