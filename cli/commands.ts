/** Every subcommand module, in the order `pki --help` lists them, with the options each one takes. */
import type { Argv } from "yargs";
import { DEPOT_OPTION, NO_DEPOT, nameOf, type CommandModule } from "./command-spec.js";
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
import * as backup from "./backup.js";
import * as restore from "./restore.js";
import * as depot from "./depot.js";
import * as fixtures from "./fixtures.js";
import * as serve from "./serve.js";
import * as check from "./check.js";
import * as trust from "./trust.js";
import * as acme from "./acme.js";
import * as completion from "./completion.js";
import * as rm from "./rm.js";
import * as inspect from "./inspect.js";

export { nameOf, positionalsOf, type CommandModule } from "./command-spec.js";

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
  backup,
  restore,
  depot,
  fixtures,
  serve,
  check,
  trust,
  acme,
  { ...completion, handler: (a: { shell?: string }) => completion.handler(a, COMMANDS) },
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
