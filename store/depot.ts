/**
 * The depot: a directory (0700) holding the CA and every issued certificate.
 *
 *   depot.json          layout version, KDF salt and iteration count
 *   index.json          every name: kind, issuer, status, serial, validity, SANs; every serial ever issued
 *   ca.crt  ca.key      the root CA (key: encrypted PKCS#8, 0600)
 *   certs/NAME.key      encrypted PKCS#8 (0600)
 *   certs/NAME.csr      PKCS#10 request
 *   certs/NAME.crt      the certificate, once signed (an intermediate CA is a NAME of kind "ca")
 *   ca.crl certs/NAME.crl  the latest CRL of the root / of an intermediate (`pki crl`)
 *   history/NAME.SERIAL.crt (.key)  certificates replaced by `pki renew` (and keys replaced by --rekey)
 *   lock                present while a command changes the depot
 *
 * Every write is atomic; a command that changes the depot holds the lock.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { x509 } from "../lib/x509/peculiar.js";
import { parsePem } from "../lib/x509/pem.js";
import { DEFAULT_ITERATIONS } from "../lib/formats/pkcs8.js";
import { describeKey, generateKeyPair, KeySpec } from "../lib/x509/keys.js";
import { createRootCertificate } from "../lib/x509/cert.js";
import type { Profile, RawExtension, Sans, Subject } from "../lib/x509/cert.js";
import { constraintsExtension, type NameConstraints } from "../lib/x509/constraints.js";
import type { RevocationReason } from "../lib/x509/crl.js";
import { checkX509Date } from "../lib/x509/validate.js";
import { DepotError, mkdirInDepot, readText, writeAtomic } from "./fsutil.js";
import { prepareNewDepotDir } from "./ownership.js";
import { testKdfIterations } from "./integrity.js";
import { checkRoomForCA, LAYOUT_VERSION, readMeta, ROOT } from "./view.js";
import { DepotCore } from "./core.js";
import { renewCert } from "./renew.js";
import { publishCrl, revokeCert } from "./revoke.js";
import { readExportMaterial, readLatestCrl, verifyChain } from "./chain.js";
import { parseCertPem } from "./cert-file.js";
import { issueIntermediate, issueUnderLock, newCertEntry, openIssuer, signEntry } from "./sign.js";
import type { IntermediateOptions, IssueOptions } from "./sign.js";

export { DepotError };
export { profileOf } from "./records.js";
export { parseCertPem } from "./cert-file.js";
export { defaultDepotDir, LAYOUT_VERSION, parseJson, ROOT, stateOf } from "./view.js";

export interface DepotMeta { layout: number; kdf: { salt: string; iterations: number }; created: string }

// What an entry records: one definition, the record store's (store/records/schema.ts).
import type { Entry, PastCert } from "./records/schema.js";
export type { Entry, PastCert, Revocation, Status } from "./records/schema.js";
export interface Index {
  entries: Record<string, Entry>;
  serials: string[];
  crlNumbers?: Record<string, number>;
  serialFloor?: string /* hex (import) */;
  // certificates of entries removed by `pki rm`: their revocations stay on CRLs
  removed?: Array<PastCert & { name: string }>;
}

export interface InitOptions {
  subject: Subject;
  key: KeySpec;
  notAfter: Date;
  notBefore?: Date;
  passphrase: string;
  pathLength?: number;
  iterations?: number;
  constraints?: NameConstraints;
}
export interface NewCertOptions {
  subject: Subject;
  sans: Sans;
  key: KeySpec;
  /** the depot's: it seals the new key, and must open the key of the CA that signs it (new-cert: is checked) */
  passphrase: string;
  /** the new key's own (--key-passphrase-file): it seals the key instead, unchecked */
  keyPassphrase?: string;
  profile?: Profile;
  issuer?: string;
}
export interface SignOptions {
  caPassphrase: string;
  notAfter: (from: Date) => Date;
  notBefore?: Date;
  profile?: Profile;
  issuer?: string;
  extensions?: RawExtension[];
}
export interface RenewOptions {
  caPassphrase: string; notAfter: (from: Date) => Date; notBefore?: Date; rekey?: { passphrase: string; key?: KeySpec };
  csr?: { publicKey: x509.PublicKey; pem: string; keyType: string }; // external key: a new request from its holder
}

export class Depot extends DepotCore {
  private constructor(dir: string, meta: DepotMeta) { super(dir, meta); }

  /** Opens an existing depot; refuses a layout newer than this binary understands. */
  static open(dir: string, o: { lax?: boolean } = {}): Depot {
    return new Depot(dir, readMeta(dir, o));
  }

  /** Creates the depot directory and its metadata (no CA yet). */
  static create(dir: string, iterations = testKdfIterations() ?? DEFAULT_ITERATIONS): Depot {
    prepareNewDepotDir(dir);
    mkdirInDepot(join(dir, "certs"));
    const meta: DepotMeta = {
      layout: LAYOUT_VERSION,
      kdf: { salt: randomBytes(16).toString("base64"), iterations },
      created: new Date().toISOString(),
    };
    if (!existsSync(join(dir, "depot.json")))
      writeAtomic(join(dir, "depot.json"), JSON.stringify(meta, null, 2) + "\n", 0o600);
    return Depot.open(dir);
  }

  // ---- parsed files ----------------------------------------------------
  readCert(name: string): x509.X509Certificate {
    const p = this.certPath(name);
    return parseCertPem(readText(p, this.rel(p)), this.rel(p));
  }
  readCsr(name: string): x509.Pkcs10CertificateRequest {
    const p = this.csrPath(name);
    const pem = readText(p, this.rel(p));
    try { return new x509.Pkcs10CertificateRequest(parsePem(pem, "CERTIFICATE REQUEST", this.rel(p))); }
    catch (e) { throw new DepotError(`${this.rel(p)}: not a valid CSR (${(e as Error).message})`); }
  }


  // ---- commands --------------------------------------------------------

  /** `pki init`: creates the depot and a self-signed root. */
  static async init(dir: string, o: InitOptions): Promise<{ depot: Depot; cert: x509.X509Certificate }> {
    checkRoomForCA(dir);
    if (o.notBefore) checkX509Date(o.notBefore, "notBefore");
    checkX509Date(o.notAfter, "notAfter");
    const keys = await generateKeyPair(o.key); // before touching the disk
    const depot = Depot.create(dir, o.iterations);
    return depot.withLock(async () => {
      if (depot.hasCA()) throw new DepotError(`a CA already exists in ${dir}`);
      const idx = depot.readIndex();
      const serial = depot.freshSerial(idx);
      const extensions = o.constraints ? [constraintsExtension(o.constraints)] : [];
      const cert = await createRootCertificate({
        subject: o.subject,
        keys,
        notBefore: o.notBefore,
        notAfter: o.notAfter,
        pathLength: o.pathLength,
        serial,
        extensions,
      });
      const keyPem = await depot.sealKey(keys.privateKey, o.passphrase);
      writeAtomic(depot.keyPath(ROOT), keyPem, 0o600);
      writeAtomic(depot.certPath(ROOT), cert.toString("pem") + "\n", 0o644);
      idx.serials.push(serial);
      idx.entries[ROOT] = {
        name: ROOT,
        kind: "ca",
        subject: cert.subject,
        keyType: describeKey(o.key),
        sans: { ips: [], domains: [] },
        status: "signed",
        created: new Date().toISOString(),
        serial,
        notBefore: cert.notBefore.toISOString(),
        notAfter: cert.notAfter.toISOString(),
      };
      depot.writeIndex(idx);
      return { depot, cert };
    });
  }

  // ---- issuing (store/sign.ts) -------------------------------------------
  newCert(name: string, o: NewCertOptions) { return newCertEntry(this, name, o); }
  sign(name: string, o: SignOptions) { return signEntry(this, name, o); }
  newIntermediate(name: string, o: IntermediateOptions) { return issueIntermediate(this, name, o); }
  unlockIssuer(issuer: string, profile: Profile, passphrase: string) {
    return openIssuer(this, issuer, profile, passphrase);
  }
  /** Issues under the lock: a fresh serial (recorded in idx), validity clamped to the issuer's. Store-internal. */
  issue(idx: Index, o: IssueOptions) { return issueUnderLock(this, idx, o); }

  /** The issuers of NAME, nearest first, root last (empty for the root). */
  issuerChain(name: string): Array<{ name: string; cert: x509.X509Certificate }> {
    return this.issuerNames(name).map((n) => ({ name: n, cert: this.readCert(n) }));
  }

  // ---- commands in their own modules ------------------------------------
  renew(name: string, o: RenewOptions) { return renewCert(this, name, o); }
  revoke(name: string, o: { reason: RevocationReason; serial?: string; date?: Date }) {
    return revokeCert(this, name, o);
  }
  crl(issuer: string, o: { passphrase: string; nextUpdate: (from: Date) => Date }) {
    return publishCrl(this, issuer, o);
  }
  verifiedChain(name: string, now = new Date()) { return verifyChain(this, name, now); }
  exportMaterial(name: string, passphrase?: string, o: { crl?: boolean } = {}) {
    return readExportMaterial(this, name, passphrase, o);
  }
  latestCrl(issuer: string) { return readLatestCrl(this, issuer); }

}
