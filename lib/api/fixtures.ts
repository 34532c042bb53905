/**
 * Fixture sets: a declarative spec (YAML or JSON, schema/fixtures.schema.json) of CAs,
 * certificates, revocations and outputs, built in one process, in memory, through the
 * programmatic API (lib/api.ts). `pki fixtures` writes what buildFixtures returns.
 */
import type { Sans } from "../x509/cert.js";
import { randomBytes } from "node:crypto";
import { CA, CAOptions, Certificate, createCA, parseKeyOption, parseWhen, KeyOption, When } from "./api.js";
import { generateKeyPair, KeyPair, KeySpec } from "../x509/keys.js";
import { BACKDATE_MS, Usage } from "../x509/cert.js";
import {
  checkDomain,
  checkEmail,
  checkIp,
  checkName,
  checkPathLength,
  checkSubjectValue,
  checkUri,
  INTERMEDIATE_PATH_LENGTH,
  InputError,
} from "../x509/validate.js";
import { checkReason, crlToPem, RevocationReason } from "../x509/crl.js";
import { DEFAULT_ITERATIONS, deriveKey } from "../formats/pkcs8.js";
import { exportMembers, MODE_PUBLIC, MODE_SECRET } from "../formats/export.js";
import type { TarMember } from "../formats/tar.js";

export const OUTPUTS = ["pem", "insecure", "p12", "jks", "chain", "crl"] as const;
export type Output = (typeof OUTPUTS)[number];
export const USAGES: Usage[] = ["server", "client", "peer"];

/** Keys each object of the spec accepts (kept equal to the JSON Schema by test/fixtures.test.js). */
export const SPEC_KEYS = {
  top: ["$schema", "passphrase", "kdfIterations", "defaults", "cas", "certs", "revocations"],
  defaults: ["key", "expires", "outputs", "usage", "organization"],
  ca: [
    "name",
    "issuer",
    "commonName",
    "organization",
    "key",
    "expires",
    "notBefore",
    "notAfter",
    "pathLength",
    "nameConstraints",
    "outputs",
  ],
  cert: [
    "name",
    "issuer",
    "commonName",
    "organization",
    "ip",
    "domain",
    "uri",
    "email",
    "usage",
    "key",
    "expires",
    "notBefore",
    "notAfter",
    "outputs",
  ],
  revocation: ["cert", "reason", "date"],
} as const;

interface Common {
  name: string;
  issuer?: string;
  commonName?: string;
  organization?: string;
  key?: KeyOption;
  expires?: string;
  notBefore?: When;
  notAfter?: When;
  outputs?: Output[];
}
export interface CASpec extends Common { pathLength?: number; nameConstraints?: CAOptions["nameConstraints"] }
export interface CertSpec extends Common {
  ip?: string | string[];
  domain?: string | string[];
  uri?: string | string[];
  email?: string | string[];
  usage?: Usage;
}
export interface FixtureSpec {
  passphrase?: string;
  kdfIterations?: number;
  defaults?: { key?: KeyOption; expires?: string; outputs?: Output[]; usage?: Usage; organization?: string };
  cas: CASpec[];
  certs?: CertSpec[];
  revocations?: { cert: string; reason?: RevocationReason; date?: When }[];
}

/** A spec error: `path: message`, the path in the spec's own terms (e.g. `certs[3].issuer`). */
export class SpecError extends InputError {
  constructor(readonly path: string, message: string) { super(`${path}: ${message}`); }
}

/** Parses YAML or JSON text (YAML 1.2 is a superset of JSON; plain JSON skips loading the YAML parser). */
export async function parseFixtureSpec(text: string): Promise<unknown> {
  if (/^\s*\{/.test(text)) {
    try { return JSON.parse(text); } catch { /* the YAML parser words the error */ }
  }
  // yaml is CommonJS: bundled (dist/bin) its dynamic import has only a default export, under node both.
  const yaml: any = await import("yaml");
  const parseYaml: typeof import("yaml").parse = (yaml.default ?? yaml).parse;
  try {
    return parseYaml(text, { uniqueKeys: true, maxAliasCount: 100, prettyErrors: false });
  } catch (e) {
    throw new InputError(`not valid YAML or JSON: ${(e as Error).message.split("\n")[0]}`);
  }
}

// ---- validation -----------------------------------------------------------

interface Node {
  kind: "ca" | "leaf";
  path: string;
  name: string;
  issuer?: string;
  spec: KeySpec;
  notBefore: Date;
  notAfter: Date;
  outputs: Output[];
  raw: any;
  ips: string[];
  domains: string[];
  uris: string[];
  emails: string[];
  usage: Usage;
}
interface Plan {
  nodes: Node[];
  byName: Map<string, Node>;
  revocations: { path: string; cert: string; reason?: RevocationReason; date: Date }[];
  passphrase?: string;
  iterations: number;
  organization?: string;
  files: Map<string, string>;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function checkKeys(v: unknown, path: string, allowed: readonly string[]): Record<string, any> {
  if (!isObj(v)) throw new SpecError(path, "must be a mapping (object)");
  for (const k of Object.keys(v))
    if (!allowed.includes(k))
      throw new SpecError(path ? `${path}.${k}` : k, `unknown key (expected one of: ${allowed.join(", ")})`);
  return v;
}

/** Runs `fn`, re-throwing its InputError as a SpecError at `path`. */
function at<T>(path: string, fn: () => T): T {
  try { return fn(); } catch (e) {
    if (e instanceof SpecError) throw e;
    if (e instanceof InputError || e instanceof Error) throw new SpecError(path, e.message);
    throw e;
  }
}

function str(v: unknown, path: string): string {
  if (typeof v !== "string" || v === "") throw new SpecError(path, "must be a non-empty string");
  return v;
}

function list(v: unknown, path: string): string[] {
  if (v === undefined) return [];
  const arr = Array.isArray(v) ? v : [v];
  return arr.map((x, i) => str(x, Array.isArray(v) ? `${path}[${i}]` : path));
}

function outputsOf(v: unknown, path: string, dflt: Output[]): Output[] {
  if (v === undefined) return dflt;
  if (!Array.isArray(v)) throw new SpecError(path, `must be a list of: ${OUTPUTS.join(", ")}`);
  return v.map((o, i) => {
    if (!(OUTPUTS as readonly string[]).includes(o))
      throw new SpecError(
        `${path}[${i}]`,
        `unknown output ${JSON.stringify(o)} (expected one of: ${OUTPUTS.join(", ")})`,
      );
    return o as Output;
  });
}

function when(v: unknown, path: string, now: Date): Date {
  if (typeof v !== "string" && !(v instanceof Date))
    throw new SpecError(path, `must be a date, "now", a duration like "90d" or an offset like "-2d"`);
  return at(path, () => parseWhen(v, now));
}

/** The file names an entry produces, in a fixed order. */
export function fileNames(name: string, kind: "ca" | "leaf", outputs: Output[]): string[] {
  const has = (o: Output) => outputs.includes(o);
  return [
    `${name}.crt`,
    ...(has("pem") ? [`${name}.key`] : []),
    ...(has("insecure") ? [`${name}.key.insecure`] : []),
    ...(has("chain") ? [`${name}.chain.pem`] : []),
    ...(has("p12") ? [`${name}.p12`] : []),
    ...(has("jks") ? [`${name}.jks`] : []),
    ...(has("crl") ? [kind === "ca" ? `${name}.crl` : `${name}.crl.pem`] : []),
  ];
}

export const MANIFEST = "fixtures.json";
export const MAX_ENTRIES = 10_000;

/** Validates a parsed spec completely (before any key is made); throws one SpecError naming the path. */
export function planFixtures(raw: unknown, now = new Date()): Plan {
  if (!isObj(raw)) throw new SpecError("spec", "must be a mapping with cas (and certs, revocations)");
  const top = checkKeys(raw, "", SPEC_KEYS.top);
  const d = top.defaults === undefined ? {} : checkKeys(top.defaults, "defaults", SPEC_KEYS.defaults);
  const dKey = d.key === undefined ? undefined : at("defaults.key", () => (parseKeyOption(d.key), d.key));
  const dOutputs = outputsOf(d.outputs, "defaults.outputs", ["pem"]);
  if (d.expires !== undefined) when(str(d.expires, "defaults.expires"), "defaults.expires", now);
  if (d.usage !== undefined && !USAGES.includes(d.usage))
    throw new SpecError(
      "defaults.usage",
      `unknown usage ${JSON.stringify(d.usage)} (expected one of: ${USAGES.join(", ")})`,
    );
  if (d.organization !== undefined)
    at("defaults.organization", () => checkSubjectValue("organization", str(d.organization, "defaults.organization")));

  let passphrase: string | undefined;
  if (top.passphrase !== undefined) passphrase = str(top.passphrase, "passphrase");
  const iterations = top.kdfIterations ?? DEFAULT_ITERATIONS;
  if (!Number.isInteger(iterations) || iterations < 1000 || iterations > 10_000_000)
    throw new SpecError("kdfIterations", "must be an integer from 1000 to 10000000");

  if (!Array.isArray(top.cas) || top.cas.length === 0) throw new SpecError("cas", "must be a non-empty list of CAs");
  if (top.certs !== undefined && !Array.isArray(top.certs)) throw new SpecError("certs", "must be a list");
  if (top.revocations !== undefined && !Array.isArray(top.revocations))
    throw new SpecError("revocations", "must be a list");

  if (top.cas.length + (top.certs?.length ?? 0) > MAX_ENTRIES)
    throw new SpecError("certs", `at most ${MAX_ENTRIES} CAs and certificates in one spec`);
  const nodes: Node[] = [];
  const byName = new Map<string, Node>();
  const entries: [string, "ca" | "leaf", unknown][] = [
    ...(top.cas as unknown[]).map((c, i) => [`cas[${i}]`, "ca", c] as [string, "ca", unknown]),
    ...((top.certs ?? []) as unknown[]).map((c, i) => [`certs[${i}]`, "leaf", c] as [string, "leaf", unknown]),
  ];
  for (const [path, kind, v] of entries) {
    const r = checkKeys(v, path, kind === "ca" ? SPEC_KEYS.ca : SPEC_KEYS.cert);
    const name = at(`${path}.name`, () => checkName(str(r.name, `${path}.name`)));
    const dup = byName.get(name);
    if (dup) throw new SpecError(`${path}.name`, `duplicate name "${name}" (also ${dup.path})`);
    const keyOpt = r.key ?? dKey;
    const spec = at(`${path}.key`, () => parseKeyOption(keyOpt));
    if (r.commonName !== undefined)
      at(`${path}.commonName`, () => checkSubjectValue("common name", str(r.commonName, `${path}.commonName`)));
    if (r.organization !== undefined)
      at(`${path}.organization`, () => checkSubjectValue("organization", str(r.organization, `${path}.organization`)));
    if (r.expires !== undefined && r.notAfter !== undefined)
      throw new SpecError(`${path}.notAfter`, "give either expires or notAfter, not both");
    const notBefore =
      r.notBefore === undefined ? new Date(now.getTime() - BACKDATE_MS) : when(r.notBefore, `${path}.notBefore`, now);
    const notAfter =
      r.notAfter !== undefined
        ? when(r.notAfter, `${path}.notAfter`, now)
        : when(
            r.expires !== undefined
              ? str(r.expires, `${path}.expires`)
              : kind === "ca"
                ? "10 years"
                : (d.expires ?? "1 year"),
            r.expires !== undefined ? `${path}.expires` : `${path}`,
            now,
          );
    if (notAfter <= notBefore)
      throw new SpecError(
        `${path}.${r.notAfter !== undefined ? "notAfter" : "expires"}`,
        `notAfter ${notAfter.toISOString()} is not after notBefore ${notBefore.toISOString()}`,
      );
    if (r.pathLength !== undefined && (!Number.isInteger(r.pathLength) || r.pathLength < 0 || r.pathLength > 16))
      throw new SpecError(`${path}.pathLength`, "must be an integer from 0 to 16");
    if (r.nameConstraints !== undefined)
      checkKeys(r.nameConstraints, `${path}.nameConstraints`, [
        "permitDomains",
        "excludeDomains",
        "permitIps",
        "excludeIps",
      ]);
    const usage = r.usage ?? d.usage ?? "peer";
    if (!USAGES.includes(usage))
      throw new SpecError(
        `${path}.usage`,
        `unknown usage ${JSON.stringify(usage)} (expected one of: ${USAGES.join(", ")})`,
      );
    const ips = list(r.ip, `${path}.ip`).map((ip, i) =>
      at(Array.isArray(r.ip) ? `${path}.ip[${i}]` : `${path}.ip`, () => checkIp(ip)),
    );
    const domains = list(r.domain, `${path}.domain`).map((dn, i) =>
      at(Array.isArray(r.domain) ? `${path}.domain[${i}]` : `${path}.domain`, () => checkDomain(dn)),
    );
    const uris = list(r.uri, `${path}.uri`).map((u, i) =>
      at(Array.isArray(r.uri) ? `${path}.uri[${i}]` : `${path}.uri`, () => checkUri(u)),
    );
    const emails = list(r.email, `${path}.email`).map((e, i) =>
      at(Array.isArray(r.email) ? `${path}.email[${i}]` : `${path}.email`, () => checkEmail(e)),
    );
    const issuer =
      r.issuer === undefined
        ? kind === "leaf"
          ? (top.cas[0] as any)?.name
          : undefined
        : str(r.issuer, `${path}.issuer`);
    const outputs = outputsOf(r.outputs, `${path}.outputs`, kind === "ca" ? ["pem", "crl"] : dOutputs);
    const node: Node = {
      kind,
      path,
      name,
      issuer,
      spec,
      notBefore,
      notAfter,
      outputs,
      raw: r,
      ips,
      domains,
      uris,
      emails,
      usage,
    };
    nodes.push(node);
    byName.set(name, node);
  }

  // Issuers: known CAs, no cycles among CAs.
  for (const n of nodes) {
    if (n.issuer === undefined) continue;
    const iss = byName.get(n.issuer);
    if (!iss) throw new SpecError(`${n.path}.issuer`, `unknown CA "${n.issuer}"`);
    if (iss.kind !== "ca")
      throw new SpecError(`${n.path}.issuer`, `unknown CA "${n.issuer}" (${iss.path} is a leaf certificate, not a CA)`);
    if (n.kind === "ca") {
      const seen = [n.name];
      for (let c: Node | undefined = iss; c; c = c.issuer === undefined ? undefined : byName.get(c.issuer)) {
        if (seen.includes(c.name))
          throw new SpecError(`${n.path}.issuer`, `issuer cycle: ${[...seen, c.name].join(" → ")}`);
        seen.push(c.name);
      }
    }
  }

  // Path lengths, before any key is made, as the CLI and createIntermediate judge them (an intermediate's default is
  // 0).
  const pathLengthOf = (n: Node) =>
    (n.raw.pathLength as number | undefined) ?? (n.issuer === undefined ? undefined : INTERMEDIATE_PATH_LENGTH);
  for (const n of nodes) {
    if (n.kind !== "ca" || n.issuer === undefined) continue;
    const iss = byName.get(n.issuer)!;
    try {
      checkPathLength(iss.name, pathLengthOf(iss), pathLengthOf(n));
    } catch (e) {
      throw new SpecError(`${n.path}.pathLength`, (e as Error).message);
    }
  }

  // Validity after clamping to the issuer's: a cert must not end before it starts.
  const until = new Map<string, Date>();
  const effective = (n: Node): Date => {
    let d = until.get(n.name);
    if (!d) {
      const cap = n.issuer === undefined ? undefined : effective(byName.get(n.issuer)!);
      d = cap && cap < n.notAfter ? cap : n.notAfter;
      until.set(n.name, d);
    }
    return d;
  };
  for (const n of nodes) {
    if (effective(n) <= n.notBefore)
      throw new SpecError(
        `${n.path}.notBefore`,
        `${n.notBefore.toISOString()} is not before the issuer "${n.issuer}" expires (${effective(n).toISOString()})`,
      );
  }

  const revocations: Plan["revocations"] = [];
  ((top.revocations ?? []) as unknown[]).forEach((v, i) => {
    const path = `revocations[${i}]`;
    const r = checkKeys(v, path, SPEC_KEYS.revocation);
    const cert = str(r.cert, `${path}.cert`);
    const target = byName.get(cert);
    if (!target) throw new SpecError(`${path}.cert`, `unknown certificate "${cert}"`);
    if (target.issuer === undefined)
      throw new SpecError(`${path}.cert`, `"${cert}" is a root CA: no CRL can revoke it`);
    if (revocations.some((x) => x.cert === cert)) throw new SpecError(`${path}.cert`, `"${cert}" is already revoked`);
    const reason =
      r.reason === undefined ? undefined : at(`${path}.reason`, () => checkReason(str(r.reason, `${path}.reason`)));
    const date = r.date === undefined ? new Date(now.getTime() - BACKDATE_MS) : when(r.date, `${path}.date`, now);
    revocations.push({ path, cert, reason, date });
  });

  // Deterministic file names that differ even on a case-insensitive filesystem (macOS, Windows).
  const files = new Map<string, string>([[MANIFEST, "the manifest"]]);
  for (const n of nodes) {
    for (const f of fileNames(n.name, n.kind, n.outputs)) {
      const other = files.get(f.toLowerCase());
      if (other)
        throw new SpecError(
          `${n.path}.name`,
          `file "${f}" would overwrite the one written for ${other} on a case-insensitive filesystem`,
        );
      files.set(f.toLowerCase(), n.path);
    }
  }
  return { nodes, byName, revocations, passphrase, iterations, organization: d.organization, files };
}

/** Whether a spec's outputs need a passphrase (encrypted keys, PKCS#12, JKS). */
export function needsPassphrase(plan: Plan): boolean {
  return plan.nodes.some((n) => n.outputs.some((o) => o === "pem" || o === "p12" || o === "jks"));
}

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
  /** for encrypted keys, PKCS#12 and JKS (overrides the spec's passphrase) */
  passphrase?: string;
  /** called as each key pair and each certificate is done */
  onProgress?: (p: { keys: number; certs: number; total: number }) => void;
  now?: Date;
  /** build even a spec whose estimated work exceeds MAX_WORK_SECONDS (`pki fixtures --yes`) */
  yes?: boolean;
}

/** Rough seconds of CPU per key pair on one core (RSA key generation dominates everything else). */
const KEY_SECONDS = (k: KeySpec) => (k.type !== "rsa" ? 0.002 : k.bits === 4096 ? 1.5 : k.bits === 3072 ? 0.5 : 0.15);
/** A spec estimated to need more than this much work is refused unless the caller says yes. */
export const MAX_WORK_SECONDS = 300;

/** Refuses a plan whose estimated work (key pairs, plus a little per certificate) is absurd, unless `yes`. */
export function checkWork(plan: Plan, yes = false): void {
  const work = plan.nodes.reduce((sum, n) => sum + KEY_SECONDS(n.spec) + 0.003, 0);
  if (work > MAX_WORK_SECONDS && !yes) {
    throw new InputError(
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
  const plan = planFixtures(typeof spec === "string" ? await parseFixtureSpec(spec) : spec, now);
  checkWork(plan, o.yes);
  const passphrase = o.passphrase ?? plan.passphrase;
  if (needsPassphrase(plan) && !passphrase)
    throw new InputError(
      "the spec's outputs need a passphrase (encrypted keys, p12, jks): set passphrase in the spec or pass one",
    );
  // One salt for the set: the KDF runs once, on the libuv pool, while the keys are generated.
  const salt = randomBytes(16);
  const encrypting = plan.nodes.some((n) => n.outputs.includes("pem"));
  if (encrypting) deriveKey(passphrase!, salt, plan.iterations).catch(() => {});
  const progress = { keys: 0, certs: 0, total: plan.nodes.length };
  const tick = (what: "keys" | "certs") => { progress[what]++; o.onProgress?.({ ...progress }); };

  const keys = new Map<string, Promise<KeyPair>>(
    plan.nodes.map((n) => [n.name, generateKeyPair(n.spec).then((k) => (tick("keys"), k))]),
  );
  const made = new Map<string, Promise<Certificate>>();
  const make = (n: Node): Promise<Certificate> => {
    let p = made.get(n.name);
    if (p) return p;
    p = (async () => {
      const opts = {
        name: n.name,
        commonName: n.raw.commonName,
        organization: n.raw.organization ?? plan.organization,
        keys: await keys.get(n.name)!,
        notBefore: n.notBefore,
        notAfter: n.notAfter,
      };
      let c: Certificate;
      const ca = { ...opts, pathLength: n.raw.pathLength, nameConstraints: n.raw.nameConstraints };
      const issuer = n.issuer === undefined ? undefined : ((await make(plan.byName.get(n.issuer)!)) as CA);
      try {
        // Name constraints (and their flags' syntax) are judged here, where the issuer's path is known.
        c = !issuer ? await createCA(ca) : n.kind === "ca" ? await issuer.createIntermediate(ca)
          : await issuer.issue({ ...opts, ip: n.ips, domain: n.domains, uri: n.uris, email: n.emails, usage: n.usage });
      } catch (e) {
        throw e instanceof InputError && !(e instanceof SpecError) ? new SpecError(n.path, e.message) : e;
      }
      tick("certs");
      return c;
    })();
    made.set(n.name, p);
    return p;
  };
  const certs = new Map<string, Certificate>();
  const built = await Promise.all(plan.nodes.map(make));
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
  const perNode = await Promise.all(plan.nodes.map(async (n) => {
    const c = certs.get(n.name)!;
    const has = (x: Output) => n.outputs.includes(x);
    const encryptedKeyPem = has("pem")
      ? await c.encryptedKeyPem(passphrase!, { salt, iterations: plan.iterations })
      : "";
    const material = { name: n.name, certPem: c.certPem, encryptedKeyPem, keyDer: c.keyPkcs8Der };
    const out = new Map<string, TarMember>([
      [`${n.name}.crt`, { name: `${n.name}.crt`, data: c.certPem, mode: MODE_PUBLIC }],
    ]);
    const add = (m: TarMember) => out.set(m.name, m);
    if (has("pem")) exportMembers(material, {}).forEach(add);
    if (has("insecure")) exportMembers(material, { insecure: true }).forEach(add);
    if (has("chain")) add({ name: `${n.name}.chain.pem`, data: c.chainPem, mode: MODE_PUBLIC });
    if (has("p12")) add({ name: `${n.name}.p12`, data: c.toP12(passphrase!), mode: MODE_SECRET });
    if (has("jks")) add({ name: `${n.name}.jks`, data: c.toJks(passphrase!), mode: MODE_SECRET });
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
  }));
  for (const p of perNode) { files.push(...p.members); entries.push(p.entry); }
  const warnings = [...certs.values()].flatMap((c) => c.warnings);
  files.push({
    name: MANIFEST,
    data: JSON.stringify({ generator: "pki fixtures", created: now.toISOString(), entries }, null, 2) + "\n",
    mode: MODE_PUBLIC,
  });
  return { files, certs, entries, warnings };
}

