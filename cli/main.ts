/** The pki command line (loaded by pki.ts). Command modules are light; each handler loads what it needs. */
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import * as init from "./init.js";
import * as newCert from "./new-cert.js";
import * as sign from "./sign.js";
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

import { VERSION } from "./version.js";

function fail(msg: string, code = 1): never {
  process.stderr.write(`pki: ${msg.trim().replace(/\s*\n\s*/g, " ")}\n`);
  process.exit(code);
}

const cli = yargs(hideBin(process.argv))
  .scriptName("pki")
  .usage("$0 <command> [options]\n\nA certificate-authority toolkit: a CA, keys, CSRs and certificates in an encrypted depot.")
  .option("depot", { type: "string", global: true, describe: "depot directory (default $PKI_DEPOT or ./.pki)" })
  .command(init as any)
  .command(newCert as any)
  .command(sign as any)
  .command(exportCmd as any)
  .command(list as any)
  .command(status as any)
  .command(revoke as any)
  .command(crl as any)
  .command(renew as any)
  .command(chain as any)
  .command(importCmd as any)
  .command(doctor as any)
  .command(fixtures as any)
  .command(serve as any)
  .command(check as any)
  .command(trust as any)
  .demandCommand(1, "name a command: see 'pki --help'")
  .strict()
  .version(VERSION)
  .help()
  .wrap(Math.min(100, process.stdout.columns || 100))
  .fail((msg, err) => {
    if (err) throw err;
    fail(`${msg} (see 'pki --help')`, 2);
  });

try {
  await cli.parseAsync();
} catch (e) {
  if (process.env.PKI_DEBUG) console.error(e);
  const code = (e as { exitCode?: number }).exitCode ?? (e && (e as Error).name === "UsageError" ? 2 : 1);
  fail((e as Error)?.message ?? String(e), code);
}
