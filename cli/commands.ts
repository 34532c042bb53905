/** Every subcommand module, in the order `pki --help` lists them, with the options each one takes. */
import type { Argv } from "yargs";
import * as init from "./init.js";
import * as newCert from "./new-cert.js";
import * as sign from "./sign.js";
import * as issue from "./issue.js";
import * as exportCmd from "./export.js";
import * as list from "./list.js";
import * as status from "./status.js";
import * as revoke from "./revoke.js";
import * as crl from "./crl.js";
import * as renew from "./renew.js";
import * as chain from "./chain.js";
import * as importCmd from "./import.js";
import * as doctor from "./doctor.js";
import * as fixtures from "./fixtures.js";
import * as serve from "./serve.js";
import * as check from "./check.js";
import * as trust from "./trust.js";
import * as acme from "./acme.js";
import * as completion from "./completion.js";
import * as rm from "./rm.js";
import * as inspect from "./inspect.js";

export interface CommandModule {
  command: string;
  describe: string;
  builder: (y: Argv) => Argv<unknown>;
  /** Typed from its own builder; yargs (or plain.ts) supplies the parsed arguments. */
  handler: (a: never) => unknown;
}

const DEPOT_OPTION = {
  depot: { type: "string", describe: "depot directory (default $PKI_DEPOT or ./.pki)" },
  "as-owner": {
    type: "boolean",
    describe: "as root, act on another user's depot (refused otherwise); new files go to its owner",
  },
} as const;

/** Commands that never touch a depot do not list --depot. */
const NO_DEPOT = new Set(["fixtures", "completion"]);

const MODULES: CommandModule[] = [
  init,
  newCert,
  sign,
  issue,
  exportCmd,
  list,
  status,
  revoke,
  crl,
  renew,
  rm,
  chain,
  inspect,
  importCmd,
  doctor,
  fixtures,
  serve,
  check,
  trust,
  acme,
  completion,
];

/** A module's builder plus --depot where it applies; --version belongs to `pki` alone, not to a subcommand. */
export const COMMANDS: CommandModule[] = MODULES.map((m) => {
  const name = nameOf(m);
  return {
    ...m,
    builder: (y: Argv) => {
      const b = m.builder(y).version(false);
      return NO_DEPOT.has(name) ? b : b.options(DEPOT_OPTION);
    },
  };
});

export function nameOf(m: CommandModule): string {
  return m.command.split(" ")[0];
}

/** The positionals of a command string, e.g. "sign <name>" -> [{ name: "name", required: true }]. */
export function positionalsOf(m: CommandModule): { name: string; required: boolean }[] {
  return [...m.command.matchAll(/([<[])(\w[\w-]*)(?:\.\.)?[\]>]/g)].map((x) => ({
    name: x[2],
    required: x[1] === "<",
  }));
}
