/** What every command module is and the options pki adds to it: plain data, light enough for the quick path. */
import type { Argv } from "yargs";

export interface CommandModule {
  command: string;
  describe: string;
  builder: (y: Argv) => Argv<unknown>;
  /** Typed from its own builder; yargs (or quick.ts) supplies the parsed arguments. */
  handler: (a: never) => unknown;
}

export const DEPOT_OPTION = {
  depot: { type: "string", describe: "depot directory (default $PKI_DEPOT or ./.pki)" },
  "as-owner": {
    type: "boolean",
    describe:
      "as root, act on another user's depot (refused otherwise); new files in the depot go to its owner " +
      "(never system files)",
  },
} as const;

/** Commands that never touch a depot do not list --depot. */
export const NO_DEPOT = new Set(["fixtures", "completion", "restore"]);

export function nameOf(m: CommandModule): string {
  return m.command.split(" ")[0];
}

/** The positionals of a command string, e.g. "issue <name> [hosts..]" -> name (required), hosts (variadic). */
export function positionalsOf(m: CommandModule): { name: string; required: boolean; variadic: boolean }[] {
  return [...m.command.matchAll(/([<[])(\w[\w-]*)(\.\.)?[\]>]/g)].map((x) => ({
    name: x[2],
    required: x[1] === "<",
    variadic: x[3] !== undefined,
  }));
}
