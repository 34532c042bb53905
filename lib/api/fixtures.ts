/**
 * Fixture sets: a declarative spec (YAML or JSON, schema/fixtures.schema.json) of CAs,
 * certificates, revocations and outputs, built in one process, in memory, through the
 * programmatic API (lib/api.ts). `pki fixtures` writes what buildFixtures returns. The spec's types
 * and parsing are in fixture-spec.ts, its validation and planning in fixture-plan.ts.
 */
import type { Sans } from "../x509/cert.js";
import { randomBytes } from "node:crypto";
import { CA, Certificate, createCA, loadParsers } from "./core.js";
import { generateKeyDer, KeyDer, KeyPair, keyPairOf, KeySpec } from "../x509/keys.js";
import { InputError, UsageInputError } from "../x509/validate.js";
import { deriveKey, pbes2Encrypt } from "../formats/pkcs8.js";
import { octets, seq } from "../x509/der.js";
import { toPem } from "../x509/pem.js";
import { exportMembers, MODE_PUBLIC, MODE_SECRET } from "../formats/export.js";
import type { TarMember } from "../formats/tar.js";
import { fileNames, MANIFEST, parseFixtureSpec, SpecError, type FixtureSpec, type Output } from "./fixture-spec.js";
import type { Node, Plan } from "./fixture-plan.js";
import { planFixtures } from "./fixture-plan.js";

export {
  OUTPUTS,
  USAGES,
  SPEC_KEYS,
  SpecError,
  parseFixtureSpec,
  fileNames,
  MANIFEST,
  MAX_ENTRIES,
} from "./fixture-spec.js";
export type { Output, CASpec, CertSpec, FixtureSpec } from "./fixture-spec.js";
export { planFixtures } from "./fixture-plan.js";

/** Whether a spec's outputs need a passphrase (encrypted keys: NAME.key). */
export function needsPassphrase(plan: Plan): boolean {
  return plan.nodes.some((n) => n.outputs.includes("pem"));
}

/**
 * The password of fixture .p12 and .jks files unless the spec (exportPassword) or the caller sets one: fixed and
 * no secret (Java's keytool default; a test can name it), never the passphrase of the encrypted keys, which a test
 * loading a keystore would otherwise have to hold too. Such a keystore is as open as NAME.key.insecure.
 */
export const DEFAULT_EXPORT_PASSWORD = "changeit";

// ---- building -------------------------------------------------------------

export interface FixtureEntry {
  name: string; kind: "ca" | "leaf"; issuer: string | null; keyType: string; serial: string;
  notBefore: string; notAfter: string; state: string; sans: Sans; files: string[];
}
export interface FixtureSet {
  /** every file, in a fixed order, with its mode: what `pki fixtures` writes */
  files: TarMember[];
  /** the CAs and certificates by name, as API objects */
  certs: Map<string, Certificate>;
  entries: FixtureEntry[];
  warnings: string[];
}
export interface BuildOptions {
  /** for encrypted keys (overrides the spec's passphrase) */
  passphrase?: string;
  /** for PKCS#12 and JKS (overrides the spec's exportPassword; default DEFAULT_EXPORT_PASSWORD) */
  exportPassword?: string;
  /** called as each key pair and each certificate is done */
  onProgress?: (p: { keys: number; certs: number; total: number }) => void;
  now?: Date;
  /** build even a spec whose estimated work exceeds MAX_WORK_SECONDS (`pki fixtures --yes`) */
  yes?: boolean;
  /**
   * called once for every member of `files` as soon as it is ready (certificates first, keys when the KDF is done), in
   * no particular order: `pki fixtures --out` writes while the rest is built
   */
  onFile?: (m: TarMember) => void;
  /** planFixtures(spec, now) when the caller already made it (`pki fixtures` plans before asking a passphrase) */
  plan?: Plan;
  /** the salt of every encrypted key (default: a fresh random one), e.g. when the caller started the KDF early */
  salt?: Uint8Array;
  /**
   * false: leave the leaves' keys as DER (`files` need no more; `Certificate.keys` then needs loadKeys()), which
   * saves importing two CryptoKeys per leaf. Default true.
   */
  keyPairs?: boolean;
}

/** Rough seconds of CPU per key pair (RSA key generation, lib/x509/rsa-keygen.ts, dominates everything else). */
const KEY_SECONDS = (k: KeySpec) =>
  k.type !== "rsa" ? 0.002 : k.bits === 4096 ? 0.45 : k.bits === 3072 ? 0.18 : 0.055;
/** A spec estimated to need more than this much work is refused unless the caller says yes. */
export const MAX_WORK_SECONDS = 300;

/** Refuses a plan whose estimated work (key pairs, plus a little per certificate) is absurd, unless `yes`. */
export function checkWork(plan: Plan, yes = false): void {
  const work = plan.nodes.reduce((sum, n) => sum + KEY_SECONDS(n.spec) + 0.003, 0);
  if (work > MAX_WORK_SECONDS && !yes) {
    throw new UsageInputError(
      `the spec's ${plan.nodes.length} certificates would take about ${Math.round(work / 60)} minutes of CPU (mostly RSA key generation): confirm with --yes (API: { yes: true })`,
    );
  }
}

/**
 * Builds everything a spec declares, in memory: keys generated in parallel (libuv pool),
 * CAs in issuer order, leaves in parallel, every key encrypted with one salt (one KDF run).
 * `spec` is YAML/JSON text or a parsed object. Throws a SpecError before any work for a bad spec.
 */
export async function buildFixtures(spec: string | FixtureSpec | unknown, o: BuildOptions = {}): Promise<FixtureSet> {
  const now = o.now ?? new Date();
  const plan = o.plan ?? planFixtures(typeof spec === "string" ? await parseFixtureSpec(spec) : spec, now);
  checkWork(plan, o.yes);
  const passphrase = o.passphrase ?? plan.passphrase;
  const exportPassword = o.exportPassword || plan.exportPassword || DEFAULT_EXPORT_PASSWORD;
  if (needsPassphrase(plan) && !passphrase)
    throw new InputError(
      "the spec's outputs need a passphrase (encrypted keys, output pem): set passphrase in the spec or pass one",
    );
  // One salt for the set: the KDF runs once, on the libuv pool, while the keys are generated.
  const salt = o.salt ?? randomBytes(16);
  const encrypting = plan.nodes.some((n) => n.outputs.includes("pem"));
  if (encrypting) deriveKey(passphrase!, salt, plan.iterations).catch(() => {});
  const progress = { keys: 0, certs: 0, total: plan.nodes.length };
  const tick = (what: "keys" | "certs") => { progress[what]++; o.onProgress?.({ ...progress }); };

  // A leaf's key is only encoded (SPKI into its certificate, PKCS#8 into its files): made as DER, never imported. A
  // CA's signs, so it is imported too. ECDSA keys are drawn on the main thread: the libuv pool, busy with the KDF and
  // the files, would make the CA's key, which every leaf waits for, queue behind them.
  const keys = new Map<string, Promise<KeyPair | KeyDer>>(plan.nodes.map((n) => [
    n.name,
    (n.kind === "leaf" ? generateKeyDer(n.spec) : generateKeyDer(n.spec).then(keyPairOf))
      .then((k) => (tick("keys"), k)),
  ]));
  const emit = o.onFile ?? (() => {});
  const certMembers = new Map<string, TarMember>();
  const certMember = (name: string, c: Certificate) => {
    const m = { name: `${name}.crt`, data: c.certPem, mode: MODE_PUBLIC };
    certMembers.set(name, m);
    return m;
  };
  const made = new Map<string, Promise<Certificate>>();
  const make = (n: Node): Promise<Certificate> => {
    let p = made.get(n.name);
    if (p) return p;
    p = (async () => {
      const key = await keys.get(n.name)!;
      const opts = {
        name: n.name,
        commonName: n.raw.commonName,
        organization: n.raw.organization ?? plan.organization,
        keys: "privateKey" in key ? key : undefined,
        notBefore: n.notBefore,
        notAfter: n.notAfter,
      };
      let c: Certificate;
      const ca = { ...opts, pathLength: n.raw.pathLength, nameConstraints: n.raw.nameConstraints };
      const issuer = n.issuer === undefined ? undefined : ((await make(plan.byName.get(n.issuer)!)) as CA);
      try {
        // Name constraints (and their flags' syntax) are judged here, where the issuer's path is known.
        c = !issuer ? await createCA(ca) : n.kind === "ca" ? await issuer.createIntermediate(ca)
          : await issuer.issue(
            { ...opts, ip: n.ips, domain: n.domains, uri: n.uris, email: n.emails, usage: n.usage },
            "pkcs8" in key ? key : undefined,
          );
      } catch (e) {
        throw e instanceof InputError && !(e instanceof SpecError) ? new SpecError(n.path, e.message) : e;
      }
      tick("certs");
      emit(certMember(n.name, c));
      return c;
    })();
    made.set(n.name, p);
    return p;
  };
  const certs = new Map<string, Certificate>();
  const built = await Promise.all(plan.nodes.map(make));
  if (o.keyPairs !== false) await Promise.all(built.map((c) => c.loadKeys()));
  plan.nodes.forEach((n, i) => certs.set(n.name, built[i]));

  for (const r of plan.revocations) {
    const c = certs.get(r.cert)!;
    c.issuer!.revoke(c, { reason: r.reason, date: r.date });
  }
  // CRLs of the CAs that publish one and of every CA on the path of a cert that asks for its CRLs.
  const crlOf = new Set(plan.nodes.filter((n) => n.outputs.includes("crl"))
    .flatMap((n) => n.kind === "ca" ? [n.name] : certs.get(n.name)!.issuers.map((i) => i.name)));
  const crls = new Map<string, string>();
  await Promise.all([...crlOf].map(async (name) => crls.set(name, await (certs.get(name) as CA).crlPem())));

  const files: TarMember[] = [];
  const entries: FixtureEntry[] = [];
  // Every key under the one derived AES key (a fresh IV each), as Certificate.encryptedKeyPem would with this salt.
  const aesKey = encrypting ? await deriveKey(passphrase!, salt, plan.iterations) : undefined;
  const seal = (der: Buffer) => {
    const { alg, data } = pbes2Encrypt(der, aesKey!, salt, plan.iterations);
    return toPem("ENCRYPTED PRIVATE KEY", seq(alg, octets(data)));
  };
  // PKCS#12 and JKS need the ASN.1 stack; PEM, keys, chains and CRLs do not.
  if (plan.nodes.some((n) => n.outputs.includes("p12") || n.outputs.includes("jks"))) await loadParsers();
  const perNode = plan.nodes.map((n) => {
    const c = certs.get(n.name)!;
    const has = (x: Output) => n.outputs.includes(x);
    const material = { name: n.name, certPem: c.certPem, keyDer: c.keyPkcs8Der };
    const out = new Map<string, TarMember>([[`${n.name}.crt`, certMembers.get(n.name)!]]);
    const add = (m: TarMember) => (out.set(m.name, m), emit(m));
    if (has("pem")) add({ name: `${n.name}.key`, data: seal(c.keyPkcs8Der), mode: MODE_SECRET });
    if (has("insecure")) exportMembers(material, { insecure: true }).filter((m) => !out.has(m.name)).forEach(add);
    if (has("chain")) add({ name: `${n.name}.chain.pem`, data: c.chainPem, mode: MODE_PUBLIC });
    if (has("p12")) add({ name: `${n.name}.p12`, data: c.toP12(exportPassword), mode: MODE_SECRET });
    if (has("jks")) add({ name: `${n.name}.jks`, data: c.toJks(exportPassword), mode: MODE_SECRET });
    if (has("crl")) {
      add(n.kind === "ca" ? { name: `${n.name}.crl`, data: crls.get(n.name)!, mode: MODE_PUBLIC }
        : { name: `${n.name}.crl.pem`, data: c.issuers.map((i) => crls.get(i.name)!).join(""), mode: MODE_PUBLIC });
    }
    const names = fileNames(n.name, n.kind, n.outputs);
    return {
      members: names.map((f) => out.get(f)!),
      entry: {
        name: n.name,
        kind: n.kind,
        issuer: n.issuer ?? null,
        keyType: c.keyType,
        serial: c.serial,
        notBefore: c.notBefore.toISOString(),
        notAfter: c.notAfter.toISOString(),
        state: c.state(now),
        sans: {
          ips: n.ips,
          domains: n.domains,
          ...(n.uris.length ? { uris: n.uris } : {}),
          ...(n.emails.length ? { emails: n.emails } : {}),
        },
        files: names,
      } satisfies FixtureEntry,
    };
  });
  for (const p of perNode) { files.push(...p.members); entries.push(p.entry); }
  const warnings = [...certs.values()].flatMap((c) => c.warnings);
  const manifest = {
    name: MANIFEST,
    data: JSON.stringify({ generator: "pki fixtures", created: now.toISOString(), entries }, null, 2) + "\n",
    mode: MODE_PUBLIC,
  };
  files.push(manifest);
  emit(manifest);
  return { files, certs, entries, warnings };
}

