/**
 * The everyday commands in their ordinary forms run without yargs, which is most of pki's start-up (~50 ms):
 * the command's own builder is replayed into a recorder, and its long options and positionals are read by
 * the rules below. Anything else (help, a short option, a repeated, unknown, misspelt or out-of-choice
 * option, '--', a value starting with '-') returns undefined and goes to main.ts, which words every error.
 * test/quick.test.js holds the arguments given here equal to those yargs gives for the same words.
 */
import type { Argv } from "yargs";
import { DEPOT_OPTION, NO_DEPOT, positionalsOf, type CommandModule } from "./command-spec.js";
import { deriveKey, processSalt } from "../lib/formats/kdf.js";
import { specKdf } from "../lib/api/spec-kdf.js";

interface Spec {
  type?: string; default?: unknown; choices?: readonly unknown[]; array?: boolean; alias?: string | readonly string[];
}

/** Stands in for yargs' Argv while a builder runs: keeps the options and positionals, ignores the rest. */
class Recorder {
  readonly options_: Record<string, Spec> = {};
  readonly positionals: Record<string, Spec> = {};
  options(o: Record<string, Spec>) { Object.assign(this.options_, o); return this; }
  option(k: string, o: Spec) { this.options_[k] = o; return this; }
  positional(k: string, o: Spec) { this.positionals[k] = o; return this; }
  example() { return this; }
  version() { return this; }
}

const QUICK: Record<string, () => Promise<CommandModule>> = {
  issue: () => import("./issue.js"),
  "new-cert": () => import("./new-cert.js"),
  sign: () => import("./sign.js"),
  export: () => import("./export.js"),
  renew: () => import("./renew.js"),
  revoke: () => import("./revoke.js"),
  crl: () => import("./crl.js"),
  fixtures: () => import("./fixtures.js"),
};

const camel = (s: string) => s.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());

/** One value of an option or positional as yargs would type it, or undefined when yargs must decide. */
function typed(spec: Spec, raw: string, inline = false): unknown {
  if (raw === "" || (raw.startsWith("-") && !inline)) return undefined;
  let v: unknown = raw;
  if (spec.type === "number") {
    if (!/^\d{1,9}$/.test(raw)) return undefined;
    v = Number(raw);
  } else if (spec.type !== "string") return undefined;
  return spec.choices && !spec.choices.includes(v) ? undefined : v;
}

/** The arguments yargs would hand the command's handler, or undefined. */
export function quickArgv(m: CommandModule, name: string, words: string[]): Record<string, unknown> | undefined {
  const rec = new Recorder();
  m.builder(rec as unknown as Argv);
  if (!NO_DEPOT.has(name)) rec.options(DEPOT_OPTION);
  const argv: Record<string, unknown> = { _: [name], $0: "pki" };
  const set = (k: string, v: unknown) => {
    for (const a of [k, ...[rec.options_[k]?.alias ?? []].flat()]) argv[a] = argv[camel(a)] = v;
  };
  const given = new Set<string>();
  const free: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (!w.startsWith("--")) {
      if (w.startsWith("-")) return undefined;
      free.push(w);
      continue;
    }
    const m2 = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/s.exec(w);
    if (!m2) return undefined;
    const [, opt, inline] = m2;
    const neg = opt.startsWith("no-") && rec.options_[opt.slice(3)]?.type === "boolean";
    const key = neg ? opt.slice(3) : opt;
    const spec = Object.hasOwn(rec.options_, key) ? rec.options_[key] : undefined;
    if (!spec || given.has(key) || spec.array) return undefined;
    given.add(key);
    if (spec.type === "boolean") {
      if (inline !== undefined) return undefined;
      set(key, !neg);
      continue;
    }
    if (neg) return undefined;
    const v = inline === undefined ? typed(spec, words[++i] ?? "") : typed(spec, inline, true);
    if (v === undefined) return undefined;
    set(key, v);
  }
  for (const [k, spec] of Object.entries(rec.options_)) if (!given.has(k) && "default" in spec) set(k, spec.default);
  for (const p of positionalsOf(m)) {
    const spec = rec.positionals[p.name] ?? { type: "string" };
    const values = p.variadic ? free.splice(0) : free.splice(0, 1);
    if (p.required && !values.length) return undefined;
    const vs = values.map((v) => typed(spec, v));
    if (vs.includes(undefined)) return undefined;
    if (p.variadic) set(p.name, vs);
    else if (vs.length) set(p.name, vs[0]);
  }
  return free.length ? undefined : argv;
}

/** Whether the command opens a key of the depot (its own or its issuer's), so the KDF can start at once. */
function needsDepotKey(name: string, a: Record<string, unknown>): boolean {
  if (name === "new-cert") return a.csr === undefined;
  if (name === "export") return Boolean(a.insecure || a.p12 || a.jks);
  return name !== "fixtures" && name !== "revoke";
}

/**
 * Starts the depot's KDF for a command that will open a depot key, before the command's modules load: the
 * options that matter are picked from the raw words (a hint only: the command parses and checks them all).
 */
export async function primeKdf(args: string[]): Promise<void> {
  const [name, ...words] = args;
  if (!Object.hasOwn(QUICK, name)) return;
  const a: Record<string, unknown> = {};
  const free: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const m = /^--(passphrase|passphrase-file|depot|csr|insecure|p12|jks|out)(?:=(.*))?$/s.exec(words[i]);
    if (m) a[camel(m[1])] = ["insecure", "p12", "jks"].includes(m[1]) || (m[2] ?? words[++i]);
    else if (!words[i].startsWith("-")) free.push(words[i]);
  }
  if (name === "fixtures" && free.length === 1 && a.passphrase === undefined && a.passphraseFile === undefined)
    await primeSpecKdf(free[0]);
  if (!needsDepotKey(name, a)) return;
  const passphrase = (await import("./common.js")).passphraseAtHand(a);
  if (!passphrase) return;
  await (await import("../store/keys/early-kdf.js")).primeDepotKdf(a.depot as string | undefined, passphrase);
}

/**
 * `pki fixtures SPEC` with a JSON spec that holds its passphrase: its KDF starts now, with the salt the command will
 * use (processSalt). Any doubt (stdin, a large or odd file, YAML, invalid JSON) means no head start, never an error.
 */
async function primeSpecKdf(path: string): Promise<void> {
  if (path === "-") return; // stdin is the command's to read
  try {
    const text = (await import("./common.js")).readInputFile(path, "spec");
    if (!/^\s*\{/.test(text)) return;
    const kdf = specKdf(JSON.parse(text));
    if (kdf) deriveKey(kdf.passphrase, processSalt(), kdf.iterations).catch(() => undefined);
  } catch {
    // the command reads the spec again and reports whatever is wrong
  }
}

/** Runs `pki NAME ...` here when its form is an ordinary one; false when main.ts must take it. */
export async function runQuick(args: string[]): Promise<boolean> {
  const [name, ...words] = args;
  if (!Object.hasOwn(QUICK, name)) return false;
  const m = await QUICK[name]();
  const argv = quickArgv(m, name, words);
  if (!argv) return false;
  const { failWith, watchStdout } = await import("./exit.js");
  watchStdout();
  try {
    if (argv.asOwner) process.env.PKI_AS_OWNER = "1";
    await m.handler(argv as never);
  } catch (e) {
    failWith(e);
  }
  // Done: exit now, not after node has torn its heap down (~2 ms of `pki issue`), unless output is still queued.
  if (!process.stdout.writableLength && !process.stderr.writableLength) process.exit();
  return true;
}
