/** A fixture spec validated completely and planned (names, keys, dates, outputs) before any key is made. */
import { parseKeyOption, parseWhen } from "./options.js";
import { KeySpec } from "../x509/keys.js";
import { BACKDATE_MS, type Usage } from "../x509/issuance.js";
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
import { checkReason, type RevocationReason } from "../x509/reasons.js";
import { DEFAULT_ITERATIONS } from "../formats/pkcs8.js";
import { fileNames, kdfIterationsOk, MANIFEST, MAX_ENTRIES, OUTPUTS, SPEC_KEYS, SpecError, SpecUsageError, USAGES }
  from "./fixture-spec.js";
import type { Output } from "./fixture-spec.js";

export interface Node {
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
export interface Plan {
  nodes: Node[];
  byName: Map<string, Node>;
  revocations: { path: string; cert: string; reason?: RevocationReason; date: Date }[];
  passphrase?: string;
  exportPassword?: string;
  iterations: number;
  organization?: string;
  files: Map<string, string>;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function checkKeys(v: unknown, path: string, allowed: readonly string[]): Record<string, any> {
  if (!isObj(v)) throw new SpecUsageError(path, "must be a mapping (object)");
  for (const k of Object.keys(v))
    if (!allowed.includes(k))
      throw new SpecUsageError(path ? `${path}.${k}` : k, `unknown key (expected one of: ${allowed.join(", ")})`);
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
  if (typeof v !== "string" || v === "") throw new SpecUsageError(path, "must be a non-empty string");
  return v;
}

function list(v: unknown, path: string): string[] {
  if (v === undefined) return [];
  const arr = Array.isArray(v) ? v : [v];
  return arr.map((x, i) => str(x, Array.isArray(v) ? `${path}[${i}]` : path));
}

function outputsOf(v: unknown, path: string, dflt: Output[]): Output[] {
  if (v === undefined) return dflt;
  if (!Array.isArray(v)) throw new SpecUsageError(path, `must be a list of: ${OUTPUTS.join(", ")}`);
  return v.map((o, i) => {
    if (!(OUTPUTS as readonly string[]).includes(o))
      throw new SpecUsageError(
        `${path}[${i}]`,
        `unknown output ${JSON.stringify(o)} (expected one of: ${OUTPUTS.join(", ")})`,
      );
    return o as Output;
  });
}

function when(v: unknown, path: string, now: Date): Date {
  if (typeof v !== "string" && !(v instanceof Date))
    throw new SpecUsageError(path, `must be a date, "now", a duration like "90d" or an offset like "-2d"`);
  return at(path, () => parseWhen(v, now));
}


/** Validates a parsed spec completely (before any key is made); throws one SpecError naming the path. */
export function planFixtures(raw: unknown, now = new Date()): Plan {
  if (!isObj(raw)) throw new SpecUsageError("spec", "must be a mapping with cas (and certs, revocations)");
  const top = checkKeys(raw, "", SPEC_KEYS.top);
  const d = top.defaults === undefined ? {} : checkKeys(top.defaults, "defaults", SPEC_KEYS.defaults);
  const dKey = d.key === undefined ? undefined : at("defaults.key", () => (parseKeyOption(d.key), d.key));
  const dOutputs = outputsOf(d.outputs, "defaults.outputs", ["pem"]);
  if (d.expires !== undefined) when(str(d.expires, "defaults.expires"), "defaults.expires", now);
  if (d.usage !== undefined && !USAGES.includes(d.usage))
    throw new SpecUsageError(
      "defaults.usage",
      `unknown usage ${JSON.stringify(d.usage)} (expected one of: ${USAGES.join(", ")})`,
    );
  if (d.organization !== undefined)
    at("defaults.organization", () => checkSubjectValue("organization", str(d.organization, "defaults.organization")));

  let passphrase: string | undefined;
  if (top.passphrase !== undefined) passphrase = str(top.passphrase, "passphrase");
  const exportPassword = top.exportPassword === undefined ? undefined : str(top.exportPassword, "exportPassword");
  const iterations = top.kdfIterations ?? DEFAULT_ITERATIONS;
  if (!kdfIterationsOk(iterations))
    throw new SpecError("kdfIterations", "must be an integer from 1000 to 10000000");

  if (!Array.isArray(top.cas) || top.cas.length === 0)
    throw new SpecUsageError("cas", "must be a non-empty list of CAs");
  if (top.certs !== undefined && !Array.isArray(top.certs)) throw new SpecUsageError("certs", "must be a list");
  if (top.revocations !== undefined && !Array.isArray(top.revocations))
    throw new SpecUsageError("revocations", "must be a list");

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
      throw new SpecUsageError(`${path}.notAfter`, "give either expires or notAfter, not both");
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
      throw new SpecUsageError(
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
  return { nodes, byName, revocations, passphrase, exportPassword, iterations, organization: d.organization, files };
}

