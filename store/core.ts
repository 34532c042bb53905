/**
 * The depot's files without the certificate parser: paths, keys (decrypt, encrypt), the lock, index writes,
 * serials, and certificates read with the DER reader (lib/x509/certinfo.ts). `pki issue` works on this class
 * alone, so it never loads @peculiar/x509; Depot (depot.ts) extends it with parsed certificates and requests.
 */
import { existsSync } from "node:fs";
import { decryptPkcs8, decryptPkcs8Key, encryptPkcs8, WrongPassphraseError } from "../lib/formats/pkcs8.js";
import { exportPkcs8, importPkcs8, keyObjectsOf, type KeyObjects, type KeyPair } from "../lib/x509/keys.js";
import { randomSerial } from "../lib/x509/issuance.js";
import { CertInfo } from "../lib/x509/certinfo.js";
import { parsePem } from "../lib/x509/pem.js";
import { DepotError, readText, writeAtomic, type FileWrite } from "./fsutil.js";
import { acquireLock } from "./lock.js";
import { DepotView, readMeta, ROOT, defaultDepotDir } from "./view.js";
import type { Index } from "./depot.js";

export class DepotCore extends DepotView {
  readonly warnings: string[] = [];

  /** The depot named by --depot / PKI_DEPOT / ./.pki, with every check DepotView makes. */
  static openCore(flag?: string): DepotCore {
    const dir = defaultDepotDir(flag);
    return new DepotCore(dir, readMeta(dir));
  }

  certPath(name: string): string { return name === ROOT ? this.path("ca.crt") : this.path("certs", `${name}.crt`); }
  keyPath(name: string): string { return name === ROOT ? this.path("ca.key") : this.path("certs", `${name}.key`); }
  csrPath(name: string): string { return this.path("certs", `${name}.csr`); }
  crlPath(name: string): string { return name === ROOT ? this.path("ca.crl") : this.path("certs", `${name}.crl`); }
  historyPath(name: string, serial: string, ext: "crt" | "key" | "csr"): string {
    return this.path("history", `${name}.${serial}.${ext}`);
  }
  rel(p: string): string { return p.slice(this.dir.length + 1); }

  writeIndex(idx: Index): void {
    const f = this.indexWrite(idx);
    writeAtomic(f.path, f.data, f.mode);
  }
  /** index.json as a FileWrite, for writeAtomicAll (last: it names the files written before it). */
  indexWrite(idx: Index): FileWrite {
    return { path: this.path("index.json"), data: JSON.stringify(idx, null, 2) + "\n", mode: 0o600 };
  }

  hasCA(): boolean { return existsSync(this.path("ca.crt")); }


  readKeyPem(name: string): string {
    const p = this.keyPath(name);
    const pem = readText(p, this.rel(p));
    parsePem(pem, "ENCRYPTED PRIVATE KEY", this.rel(p));
    return pem;
  }
  /** Decrypts NAME's key (root: "ca"); a wrong passphrase throws before anything is written. */
  async unlockKey(name: string, passphrase: string): Promise<{ der: Buffer; keys: KeyPair }> {
    const der = await decryptPkcs8(this.readKeyPem(name), passphrase, this.keyLabel(name));
    return { der, keys: await importPkcs8(der) };
  }

  /** unlockKey for node's crypto alone (sign, compare with a certificate): no webcrypto import, no plain DER kept. */
  async unlockKeyObjects(name: string, passphrase: string): Promise<KeyObjects> {
    const { der, key } = await decryptPkcs8Key(this.readKeyPem(name), passphrase, this.keyLabel(name));
    der.fill(0);
    return keyObjectsOf(key);
  }
  private keyLabel(name: string): string { return name === ROOT ? "the CA key" : `the key of "${name}"`; }

  /**
   * Refuses a passphrase for a new key that does not open the key of the CA that signs it (a typo would seal the
   * key under a passphrase nobody knows). Keys share the depot's salt: the KDF run is the one that seals the key.
   */
  async checkPassphrase(ca: string, passphrase: string): Promise<void> {
    try {
      (await decryptPkcs8Key(this.readKeyPem(ca), passphrase, this.keyLabel(ca))).der.fill(0);
    } catch (e) {
      if (!(e instanceof WrongPassphraseError)) throw e;
      const hint = "a new key takes the passphrase of the CA that signs it; one of its own: --key-passphrase-file";
      throw new WrongPassphraseError(`${this.keyLabel(ca)} (${hint})`);
    }
  }

  async encryptKey(der: Uint8Array, passphrase: string): Promise<string> {
    return encryptPkcs8(der, passphrase, {
      salt: Buffer.from(this.meta.kdf.salt, "base64"),
      iterations: this.meta.kdf.iterations,
    });
  }

  /** Exports `key` as PKCS#8 and encrypts it; the plain DER is zeroed. */
  async sealKey(key: CryptoKey, passphrase: string): Promise<string> {
    const der = await exportPkcs8(key);
    try { return await this.encryptKey(der, passphrase); } finally { der.fill(0); }
  }

  async withLock<T>(fn: () => Promise<T>): Promise<T> {
    const release = await acquireLock(this.dir);
    try { return await fn(); } finally { release(); }
  }

  /**
   * A random 127-bit serial not yet used in this depot. After an import the old serials are in `serials`, so
   * uniqueness holds even when an imported one is at or above 2^127 (certstrap's are random too): no floor.
   */
  freshSerial(idx: Index): string {
    for (;;) {
      const s = randomSerial();
      if (!idx.serials.includes(s)) return s;
    }
  }

  /** NAME's certificate read with the DER reader (a file that does not parse is damage). */
  readCertInfo(name: string): CertInfo {
    const p = this.certPath(name);
    try {
      return new CertInfo(parsePem(readText(p, this.rel(p)), "CERTIFICATE", this.rel(p)));
    } catch (e) {
      if (e instanceof DepotError) throw e;
      throw new DepotError(`${this.rel(p)}: not a valid certificate (${(e as Error).message})`);
    }
  }

  /** The issuers of NAME by name, nearest first, root last (empty for the root). */
  issuerNames(name: string): string[] {
    const idx = this.readIndex();
    const out: string[] = [];
    for (let n = name; n !== ROOT; ) {
      const e = idx.entries[n];
      if (!e) throw new DepotError(`index.json names no entry "${n}": run 'pki doctor'`);
      n = e.issuer ?? ROOT;
      if (out.includes(n) || out.length > 16)
        throw new DepotError(`the issuer chain of "${name}" loops: run 'pki doctor'`);
      out.push(n);
    }
    return out;
  }
}
