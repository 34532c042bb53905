/** The fixture spec (schema/fixtures.schema.json): its keys, types and outputs, parsed from YAML or JSON. */
import type { CAOptions, KeyOption, When } from "./options.js";
import type { Usage } from "../x509/issuance.js";
import { InputError } from "../x509/validate.js";
import type { RevocationReason } from "../x509/reasons.js";

export const OUTPUTS = ["pem", "insecure", "p12", "jks", "chain", "crl"] as const;
export type Output = (typeof OUTPUTS)[number];
export const USAGES: Usage[] = ["server", "client", "peer"];

/** Keys each object of the spec accepts (kept equal to the JSON Schema by test/fixtures.test.js). */
export const SPEC_KEYS = {
  top: ["$schema", "passphrase", "exportPassword", "kdfIterations", "defaults", "cas", "certs", "revocations"],
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
  exportPassword?: string;
  kdfIterations?: number;
  defaults?: { key?: KeyOption; expires?: string; outputs?: Output[]; usage?: Usage; organization?: string };
  cas: CASpec[];
  certs?: CertSpec[];
  revocations?: { cert: string; reason?: RevocationReason; date?: When }[];
}

/**
 * A spec error: `path: message`, the path in the spec's own terms (e.g. `certs[3].issuer`). The exit status follows
 * the command line's rule: a value the checks refuse, a duplicate or unknown name is 1 ...
 */
export class SpecError extends InputError {
  readonly exitCode: number = 1;
  constructor(readonly path: string, message: string) { super(`${path}: ${message}`); }
}

/** ... and 2 for a spec malformed in itself: an unknown key, a wrong type, an empty value, outside the choices. */
export class SpecUsageError extends SpecError {
  override readonly exitCode: number = 2;
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

export { kdfIterationsOk, specKdf } from "./spec-kdf.js";

// ---- validation -----------------------------------------------------------


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
