/** The options a command (or `pki` itself) takes, read from its yargs builder: for "did you mean" and completion. */
import yargs from "yargs";
import type { CommandModule } from "./command-spec.js";

export interface OptionTable {
  /** every accepted spelling, kebab-case, aliases included */
  names: Set<string>;
  /** options that take no value */
  flags: Set<string>;
  /** the long names, for suggestions and completion */
  long: string[];
  choices: Record<string, string[]>;
}

interface YargsOptions {
  key: Record<string, unknown>; alias: Record<string, string[]>; boolean: string[]; choices: Record<string, string[]>;
}

export const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** The options a command takes (or `pki` itself, without one), read from its yargs builder. */
export function optionTable(m?: CommandModule): OptionTable {
  const y = yargs([]).help().alias("h", "help");
  if (m) m.builder(y);
  else y.version().alias("v", "version");
  const o = (y as unknown as { getOptions(): YargsOptions }).getOptions();
  const long = Object.keys(o.key).filter((k) => k.length > 1 && !isPositional(m, k));
  const names = new Set<string>(Object.keys(o.key));
  for (const [k, as] of Object.entries(o.alias)) for (const a of [k, ...as]) names.add(a);
  const flags = new Set<string>();
  for (const b of o.boolean) for (const a of [b, ...(o.alias[b] ?? [])]) flags.add(a);
  return { names, flags, long, choices: o.choices ?? {} };
}

function isPositional(m: CommandModule | undefined, k: string) {
  return m !== undefined && new RegExp(`[<[]${k}(?:\\.\\.)?[\\]>]`).test(m.command);
}
