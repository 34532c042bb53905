/**
 * The programmatic API: CAs and certificates in memory, for test runners.
 *
 *   const ca = await createCA({ name: "ca" });
 *   const server = await ca.issue({ name: "server", ip: ["127.0.0.1"] });
 *   server.certPem; server.keyPem; server.toP12("pass");
 *
 * Issuance goes through lib/cert.ts (the same code as `pki sign`), keystores
 * through lib/pkcs12.ts and lib/jks.ts, CRLs through lib/crl.ts.
 */
import type { Sans } from "../x509/cert.js";
import { randomBytes } from "node:crypto";
import { x509 } from "../x509/peculiar.js";
import {
  exportPkcs8, generateKeyPair, importPkcs8, KeyDer, KeyPair, keyPairOf, KeySpec, describeKey,
} from "../x509/keys.js";
import {
  BACKDATE_MS,
  validityState,
  ValidityState,
  clampToIssuer,
  createRootCertificate,
  issueCertificateDer,
  randomSerial,
  Subject,
  subjectName,
  Usage,
} from "../x509/cert.js";
import {
  checkNameConstraints,
  checkNestedConstraints,
  constraintsExtension,
  constraintsFrom,
  NameConstraints,
  OID_NAME_CONSTRAINTS,
} from "../x509/constraints.js";
import {
  checkDomain,
  checkEmail,
  checkIp,
  checkName,
  checkPathLength,
  checkUri,
  INTERMEDIATE_PATH_LENGTH,
  InputError,
} from "../x509/validate.js";
import { parseDurationMs } from "../x509/duration.js";
import { parsePem, parsePemAll, toPem } from "../x509/pem.js";
import { decryptPkcs8, encryptPkcs8, DEFAULT_ITERATIONS } from "../formats/pkcs8.js";
import { buildPkcs12 } from "../formats/pkcs12.js";
import { buildJks } from "../formats/jks.js";
import { checkReason, createCrl, crlToPem, RevocationReason } from "../x509/crl.js";
import { parseKeyOption, parseWhen, subjectOf, validityOf } from "./options.js";
import type { CAOptions, CertOptions, EncryptionOptions, LeafOptions, When } from "./options.js";

export type { KeyDer, KeySpec, Usage, Subject, RevocationReason };
export { x509 };

export { KEY_NAMES, parseKeyOption, parseWhen, validityOf } from "./options.js";
export type { CAOptions, CertOptions, EncryptionOptions, KeyOption, LeafOptions, When } from "./options.js";


/** What issuance already knows about a certificate, so reading it back needs no ASN.1 parse. */
export interface CertInfo { serial: string; notBefore: Date; notAfter: Date; selfSigned: boolean }

/** A certificate with its private key (PKCS#8, in memory) and its issuers. */
export class Certificate {
  /** Warnings from issuance (e.g. notAfter clamped to the issuer's). */
  readonly warnings: string[] = [];
  private parsed?: x509.X509Certificate;
  private readonly der: Buffer;
  private readonly info?: CertInfo;
  private pair?: KeyPair;
  private keyDer?: KeyDer;
  /** the key's type and size */
  readonly keySpec: KeySpec;
  constructor(
    readonly name: string,
    /** the certificate, parsed, or its DER with what issuance knows about it (parsed on first use of `cert`) */
    cert: x509.X509Certificate | { der: Buffer; info: CertInfo },
    /** CryptoKeys, or the key as DER (then `keys` needs loadKeys() first) */
    keys: KeyPair | KeyDer,
    /** the unencrypted PKCS#8 DER of the private key */
    readonly keyPkcs8Der: Buffer,
    readonly issuer?: CA,
  ) {
    if (cert instanceof x509.X509Certificate) { this.parsed = cert; this.der = Buffer.from(cert.rawData); }
    else { this.der = cert.der; this.info = cert.info; }
    this.keySpec = keys.spec;
    if ("privateKey" in keys) this.pair = keys;
    else this.keyDer = keys;
  }

  /** The key pair as CryptoKeys. */
  get keys(): KeyPair {
    if (!this.pair) throw new Error(`the key pair of "${this.name}" was made as DER only: await loadKeys() first`);
    return this.pair;
  }

  /** Imports the CryptoKeys of a key made as DER (a fixture set's leaves); `keys` works after it. */
  async loadKeys(): Promise<this> {
    if (!this.pair) this.pair = await keyPairOf(this.keyDer!);
    return this;
  }

  /** The parsed certificate (@peculiar/x509). */
  get cert(): x509.X509Certificate { return (this.parsed ??= new x509.X509Certificate(new Uint8Array(this.der))); }
  get kind(): "ca" | "leaf" { return "leaf"; }
  get serial(): string { return this.info?.serial ?? this.cert.serialNumber; }
  get notBefore(): Date { return this.info?.notBefore ?? this.cert.notBefore; }
  get notAfter(): Date { return this.info?.notAfter ?? this.cert.notAfter; }
  get keyType(): string { return describeKey(this.keySpec); }
  get certPem(): string { return toPem("CERTIFICATE", this.der); }
  get certDer(): Buffer { return Buffer.from(this.der); }
  /** The private key, unencrypted ("PRIVATE KEY"): what `pki export --insecure` writes. */
  get keyPem(): string { return toPem("PRIVATE KEY", this.keyPkcs8Der); }
  /** Issuers, nearest first, the root last (empty for a root). */
  get issuers(): CA[] { const out: CA[] = []; for (let c = this.issuer; c; c = c.issuer) out.push(c); return out; }
  /** Self-signed (a root), judged by the certificate itself: a CA from loadCA() may be an intermediate. */
  get selfSigned(): boolean { return this.info?.selfSigned ?? this.cert.subject === this.cert.issuer; }
  /** What a TLS peer sends: this certificate then the intermediates (no root). */
  get chainPem(): string { return [this, ...this.issuers.filter((c) => !c.selfSigned)].map((c) => c.certPem).join(""); }
  /** The whole path as DER, this certificate first, the root last. */
  get fullChainDer(): Buffer[] { return [this, ...this.issuers].map((c) => c.certDer); }

  /** "valid", "expired", "not-yet-valid" or "revoked" at `now`. */
  state(now = new Date()): ValidityState {
    return validityState(this.notBefore, this.notAfter, Boolean(this.issuer?.isRevoked(this)), now);
  }

  /**
   * The key as ENCRYPTED PRIVATE KEY (PBES2, AES-256-CBC, PBKDF2-SHA256), what the depot stores. Reuse `salt` to run
   * the KDF once for many keys.
   */
  encryptedKeyPem(passphrase: string, o: EncryptionOptions = {}): Promise<string> {
    return encryptPkcs8(this.keyPkcs8Der, passphrase, {
      salt: o.salt ?? randomBytes(16),
      iterations: o.iterations ?? DEFAULT_ITERATIONS,
    });
  }

  /** A PKCS#12 file with the key and the full chain; `legacy` for 3DES/SHA-1 (old macOS, Java 8). */
  toP12(password: string, o: { legacy?: boolean; friendlyName?: string } = {}): Buffer {
    return buildPkcs12({
      keyPkcs8Der: this.keyPkcs8Der,
      chainDer: this.fullChainDer,
      friendlyName: o.friendlyName ?? this.name,
      password,
      legacy: o.legacy,
    });
  }

  /** A Sun JKS keystore with one PrivateKeyEntry (alias: the name) holding the key and full chain. */
  toJks(storePassword: string, o: { alias?: string; keyPassword?: string } = {}): Buffer {
    return buildJks({
      alias: o.alias ?? this.name,
      keyPkcs8Der: this.keyPkcs8Der,
      chainDer: this.fullChainDer,
      storePassword,
      keyPassword: o.keyPassword,
    });
  }
}

interface Revocation { serial: string; date: Date; reason?: RevocationReason }

/** A certificate authority (root or intermediate) that issues, revokes and publishes a CRL. */
export class CA extends Certificate {
  private readonly revoked = new Map<string, Revocation>();
  private crlNumber = 0;

  override get kind(): "ca" | "leaf" { return "ca"; }

  /** Issues a leaf certificate with a fresh key (or `o.keys`, or `key` made as DER by generateKeyDer). */
  async issue(o: LeafOptions, key?: KeyDer): Promise<Certificate> {
    const name = checkName(o.name);
    const sans: Sans = { ips: (o.ip ?? []).map(checkIp), domains: (o.domain ?? []).map(checkDomain) };
    if (o.uri?.length) sans.uris = o.uri.map(checkUri);
    if (o.email?.length) sans.emails = o.email.map(checkEmail);
    if (o.usage !== undefined && !["server", "client", "peer"].includes(o.usage))
      throw new InputError(`unknown usage "${o.usage}": use server, client or peer`);
    return this.sign(Certificate, name, o, "1 year", { kind: "leaf", usage: o.usage ?? "peer" }, sans, undefined, key);
  }

  /** Issues an intermediate CA under this one. */
  async createIntermediate(o: CAOptions & { name: string }): Promise<CA> {
    // As the CLI: an intermediate defaults to path length 0, and the issuer's limit binds.
    const pathLength = o.pathLength ?? INTERMEDIATE_PATH_LENGTH;
    checkPathLength(this.name, this.cert.getExtension(x509.BasicConstraintsExtension)?.pathLength, pathLength);
    return this.sign(CA, checkName(o.name), o, "5 years", { kind: "ca", pathLength }, undefined, ncOf(o));
  }

  private async sign<T extends Certificate>(
    Kind: new (...a: ConstructorParameters<typeof Certificate>) => T,
    name: string,
    o: Partial<CertOptions>,
    defaultExpires: string,
    profile: { kind: "leaf"; usage: Usage } | { kind: "ca"; pathLength?: number },
    sans?: Sans,
    nc?: NameConstraints,
    key?: KeyDer,
  ): Promise<T> {
    const subject = subjectOf(o, name);
    const path = [this, ...this.issuers].map((c) => c.cert);
    // Building a Name for the check costs an ASN.1 round; most paths carry no constraints at all.
    if (path.some((c) => c.extensions.some((e) => e.type === OID_NAME_CONSTRAINTS))) {
      checkNameConstraints(subjectName(subject), sans ?? { ips: [], domains: [] }, path, {
        leaf: profile.kind === "leaf",
      });
    }
    checkNestedConstraints(nc, path);
    const spec = key ? key.spec : o.keys ? o.keys.spec : parseKeyOption(o.key);
    const v = validityOf(o, defaultExpires);
    const keys = key ?? o.keys ?? (await generateKeyPair(spec));
    const clamp = clampToIssuer(v.notAfter, this.cert);
    if (clamp.notAfter <= v.notBefore)
      throw new InputError(
        `"${name}" would start (${v.notBefore.toISOString()}) after its issuer "${this.name}" expires (${clamp.notAfter.toISOString()})`,
      );
    const serial = randomSerial();
    const der = issueCertificateDer({
      subject,
      publicKey: "spki" in keys ? keys.spki : keys.publicKey,
      sans,
      issuerCert: this.cert,
      issuerKeys: this.keys,
      serial,
      notBefore: v.notBefore,
      notAfter: clamp.notAfter,
      profile,
      extensions: nc ? [constraintsExtension(nc)] : undefined,
    });
    const info = { serial, notBefore: v.notBefore, notAfter: clamp.notAfter, selfSigned: false };
    const pkcs8 = "pkcs8" in keys ? keys.pkcs8 : await exportPkcs8(keys.privateKey);
    const out = new Kind(name, { der, info }, keys, pkcs8, this);
    if (clamp.warning) out.warnings.push(`${name}: ${clamp.warning}`);
    return out;
  }

  /** Records `cert` (issued by this CA) as revoked; it appears in the next crl(). */
  revoke(cert: Certificate | string, o: { reason?: RevocationReason | string; date?: When } = {}): void {
    if (typeof cert !== "string" && cert.issuer !== this)
      throw new InputError(`"${cert.name}" was not issued by "${this.name}"`);
    const serial = typeof cert === "string" ? cert : cert.serial;
    this.revoked.set(serial, {
      serial,
      date: o.date === undefined ? new Date() : parseWhen(o.date),
      reason: o.reason === undefined ? undefined : checkReason(o.reason),
    });
  }

  isRevoked(cert: Certificate): boolean { return cert.issuer === this && this.revoked.has(cert.serial); }

  /** A CRL v2 of every revoked serial, valid from a few minutes ago for `validFor` (default 30 days). */
  async crl(o: { validFor?: string } = {}): Promise<x509.X509Crl> {
    const now = Date.now();
    return createCrl({
      issuerCert: this.cert, issuerKeys: this.keys, revoked: [...this.revoked.values()], crlNumber: ++this.crlNumber,
      thisUpdate: new Date(now - BACKDATE_MS), nextUpdate: new Date(now + parseDurationMs(o.validFor ?? "30d")),
    });
  }

  async crlPem(o: { validFor?: string } = {}): Promise<string> { return crlToPem(await this.crl(o)); }
}

/** CAOptions.nameConstraints, validated as the CLI flags are. */
function ncOf(o: CAOptions): NameConstraints | undefined {
  const c = o.nameConstraints;
  return (
    c &&
    constraintsFrom({
      permitDomain: c.permitDomains,
      excludeDomain: c.excludeDomains,
      permitIp: c.permitIps,
      excludeIp: c.excludeIps,
    })
  );
}

/** A new self-signed root CA (name "ca" unless given), in memory. */
export async function createCA(o: CAOptions = {}): Promise<CA> {
  const name = checkName(o.name ?? "ca");
  const subject = subjectOf({ ...o, commonName: o.commonName ?? (o.name ? o.name : "pki Test Root CA") }, name);
  const spec = o.keys ? o.keys.spec : parseKeyOption(o.key);
  const v = validityOf(o, "10 years");
  const keys = o.keys ?? (await generateKeyPair(spec));
  const nc = ncOf(o);
  const cert = await createRootCertificate({
    subject,
    keys,
    notBefore: v.notBefore,
    notAfter: v.notAfter,
    pathLength: o.pathLength,
    serial: randomSerial(),
    extensions: nc ? [constraintsExtension(nc)] : undefined,
  });
  return new CA(name, cert, keys, await exportPkcs8(keys.privateKey));
}

/**
 * A CA from PEM text, e.g. the ca.crt/ca.key of a depot or the root.crt/root.key `pki fixtures`
 * writes. The key may be encrypted (needs `passphrase`) or not ("PRIVATE KEY").
 */
export async function loadCA(o: { certPem: string; keyPem: string; passphrase?: string; name?: string }): Promise<CA> {
  const name = checkName(o.name ?? "ca");
  let cert: x509.X509Certificate;
  try { cert = new x509.X509Certificate(parsePem(o.certPem, "CERTIFICATE", "the CA certificate")); }
  catch (e) { throw new InputError(`the CA certificate is not valid: ${(e as Error).message}`); }
  const encrypted = parsePemAll(o.keyPem).some((b) => b.label === "ENCRYPTED PRIVATE KEY");
  if (encrypted && !o.passphrase) throw new InputError("the CA key is encrypted: pass its passphrase");
  const der = encrypted
    ? await decryptPkcs8(o.keyPem, o.passphrase!, "the CA key")
    : parsePem(o.keyPem, "PRIVATE KEY", "the CA key");
  const keys = await importPkcs8(der);
  const spki = Buffer.from(await x509.cryptoProvider.get().subtle.exportKey("spki", keys.publicKey));
  if (!spki.equals(Buffer.from(cert.publicKey.rawData)))
    throw new InputError("the CA key does not belong to the CA certificate");
  if (!cert.getExtension(x509.BasicConstraintsExtension)?.ca)
    throw new InputError("the certificate is not a CA (no basicConstraints CA:TRUE)");
  return new CA(name, cert, keys, Buffer.from(der));
}
