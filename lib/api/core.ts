/**
 * The programmatic API's CAs and certificates, without @peculiar/x509: issuance, keys, CRLs and PEM go through
 * the DER writer and reader (lib/x509/issuance.ts, certinfo.ts, crl-der.ts), so a fixture set of PEM files never
 * loads that library (~50 ms). What needs it — a parsed `cert`, `crl()`, PKCS#12 and JKS — goes through the
 * functions api.ts registers when it is imported (the package entry does), or loadParsers().
 */
import type { Sans } from "../x509/issuance.js";
import type { x509 } from "../x509/peculiar.js";
import type { buildPkcs12 as BuildPkcs12 } from "../formats/pkcs12.js";
import type { buildJks as BuildJks } from "../formats/jks.js";
import { randomBytes } from "node:crypto";
import {
  exportPkcs8, generateKeyPair, KeyDer, KeyPair, keyPairOf, KeySpec, describeKey,
} from "../x509/keys.js";
import {
  BACKDATE_MS,
  clampToIssuer,
  createRootCertificateDer,
  issueCertificateDer,
  randomSerial,
  Subject,
  Usage,
} from "../x509/issuance.js";
import { validityState, type ValidityState } from "../x509/validity.js";
import { CertInfo as DerFields, OID_NAME_CONSTRAINTS } from "../x509/certinfo.js";
import { checkPathConstraints } from "../x509/path-constraints.js";
import type { NameConstraints } from "../x509/constraints.js";
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
import { toPem } from "../x509/pem.js";
import { encryptPkcs8, DEFAULT_ITERATIONS } from "../formats/pkcs8.js";
import { checkReason, type RevocationReason } from "../x509/reasons.js";
import { createCrlDer } from "../x509/crl-der.js";
import { parseKeyOption, parseWhen, subjectOf, validityOf } from "./options.js";
import type { CAOptions, CertOptions, EncryptionOptions, LeafOptions, When } from "./options.js";

/** What needs @peculiar/x509 or the keystore writers (parsers.ts); api.ts registers them (useParsers). */
export interface Parsers {
  parseCert(der: Uint8Array): x509.X509Certificate;
  parseCrl(der: Uint8Array): x509.X509Crl;
  buildPkcs12: typeof BuildPkcs12;
  buildJks: typeof BuildJks;
}
let heavy: Parsers | undefined;
export function useParsers(p: Parsers): void { heavy = p; }
/** Loads @peculiar/x509 and the keystore writers (parsers.ts; importing api.ts registers them too). */
export async function loadParsers(): Promise<void> { if (!heavy) heavy = (await import("./parsers.js")).parsers; }
function parsers(): Parsers {
  if (!heavy) throw new Error("internal: @peculiar/x509 is not loaded (import the package, or await loadParsers())");
  return heavy;
}

export type { KeyDer, KeySpec, Usage, Subject, RevocationReason, ValidityState };

export { KEY_NAMES, parseKeyOption, parseWhen, validityOf } from "./options.js";
export type { CAOptions, CertOptions, EncryptionOptions, KeyOption, LeafOptions, When } from "./options.js";


/** What issuance already knows about a certificate, so reading it back needs no ASN.1 parse. */
export interface CertInfo { serial: string; notBefore: Date; notAfter: Date; selfSigned: boolean }

/** A certificate with its private key (PKCS#8, in memory) and its issuers. */
export class Certificate {
  /** Warnings from issuance (e.g. notAfter clamped to the issuer's). */
  readonly warnings: string[] = [];
  private parsed?: x509.X509Certificate;
  private fields?: DerFields;
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
    if ("der" in cert) { this.der = cert.der; this.info = cert.info; }
    else { this.parsed = cert; this.der = Buffer.from(cert.rawData); }
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
  get cert(): x509.X509Certificate { return (this.parsed ??= parsers().parseCert(new Uint8Array(this.der))); }
  /** The fields issuance reads (serial, validity, key, extensions), by the DER reader. */
  get derFields(): DerFields { return (this.fields ??= new DerFields(this.der)); }
  get kind(): "ca" | "leaf" { return "leaf"; }
  get serial(): string { return this.info?.serial ?? this.derFields.serialNumber; }
  get notBefore(): Date { return this.info?.notBefore ?? this.derFields.notBefore; }
  get notAfter(): Date { return this.info?.notAfter ?? this.derFields.notAfter; }
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
    return parsers().buildPkcs12({
      keyPkcs8Der: this.keyPkcs8Der,
      chainDer: this.fullChainDer,
      friendlyName: o.friendlyName ?? this.name,
      password,
      legacy: o.legacy,
    });
  }

  /** A Sun JKS keystore with one PrivateKeyEntry (alias: the name) holding the key and full chain. */
  toJks(storePassword: string, o: { alias?: string; keyPassword?: string } = {}): Buffer {
    return parsers().buildJks({
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
    checkPathLength(this.name, this.derFields.basicConstraints?.pathLength, pathLength);
    return this.sign(CA, checkName(o.name), o, "5 years", { kind: "ca", pathLength }, undefined, await ncOf(o));
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
    const path = [this, ...this.issuers].map((c) => c.derFields);
    // Most paths carry no constraints at all: then @peculiar/x509 is not needed for the checks.
    await checkPathConstraints(subject, sans ?? { ips: [], domains: [] }, path, profile.kind === "leaf");
    const ncx = nc && (await import("../x509/constraints.js"));
    if (ncx && path.some((c) => c.extensions.has(OID_NAME_CONSTRAINTS))) {
      const { x509 } = await import("../x509/peculiar.js");
      ncx.checkNestedConstraints(nc, path.map((c) => new x509.X509Certificate(c.rawData)));
    }
    const spec = key ? key.spec : o.keys ? o.keys.spec : parseKeyOption(o.key);
    const v = validityOf(o, defaultExpires);
    const keys = key ?? o.keys ?? (await generateKeyPair(spec));
    const clamp = clampToIssuer(v.notAfter, this.derFields);
    if (clamp.notAfter <= v.notBefore)
      throw new InputError(
        `"${name}" would start (${v.notBefore.toISOString()}) after its issuer "${this.name}" expires (${clamp.notAfter.toISOString()})`,
      );
    const serial = randomSerial();
    const der = issueCertificateDer({
      subject,
      publicKey: "spki" in keys ? keys.spki : keys.publicKey,
      sans,
      issuerCert: this.derFields,
      issuerKeys: this.keys,
      serial,
      notBefore: v.notBefore,
      notAfter: clamp.notAfter,
      profile,
      extensions: ncx ? [ncx.constraintsExtension(nc!)] : undefined,
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
    await loadParsers();
    return parsers().parseCrl(this.crlDer(o));
  }

  /** The CRL as PEM ("X509 CRL", the label OpenSSL, curl and node expect). */
  async crlPem(o: { validFor?: string } = {}): Promise<string> { return toPem("X509 CRL", this.crlDer(o)); }

  private crlDer(o: { validFor?: string }): Buffer {
    const now = Date.now();
    return createCrlDer({
      issuerCert: this.derFields,
      issuerKeys: this.keys,
      revoked: [...this.revoked.values()],
      crlNumber: ++this.crlNumber,
      thisUpdate: new Date(now - BACKDATE_MS), nextUpdate: new Date(now + parseDurationMs(o.validFor ?? "30d")),
    });
  }
}

/** CAOptions.nameConstraints, validated as the CLI flags are. */
async function ncOf(o: CAOptions): Promise<NameConstraints | undefined> {
  const c = o.nameConstraints;
  return (
    c &&
    (await import("../x509/constraints.js")).constraintsFrom({
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
  const nc = await ncOf(o);
  const ncx = nc && (await import("../x509/constraints.js"));
  const der = createRootCertificateDer({
    subject,
    keys,
    notBefore: v.notBefore,
    notAfter: v.notAfter,
    pathLength: o.pathLength,
    serial: randomSerial(),
    extensions: ncx ? [ncx.constraintsExtension(nc!)] : undefined,
  });
  const f = new DerFields(der);
  const info = { serial: f.serialNumber, notBefore: f.notBefore, notAfter: f.notAfter, selfSigned: true };
  return new CA(name, { der, info }, keys, await exportPkcs8(keys.privateKey));
}

