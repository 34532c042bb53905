/** The pki command line (loaded by pki.ts). Command modules are light; each handler loads what it needs. */
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { COMMANDS, nameOf, positionalsOf, type CommandModule } from "./commands.js";
import { checkEmptyArguments, prepareArgs } from "./argv.js";
import { VERSION } from "./version.js";
import { fail, failWith, watchStdout } from "./exit.js";

watchStdout();

const usageOf = (m: CommandModule) =>
  `pki ${nameOf(m)} [options]${positionalsOf(m)
    .map((p) => (p.required ? ` <${p.name}>` : ` [${p.name}]`))
    .join("")}`;

/** yargs' own messages, reworded to name what is wrong and how the command is used. */
function usageMessage(msg: string, m: CommandModule | undefined): string {
  if (!m) return `${msg} (see 'pki --help')`;
  const usage = `usage: ${usageOf(m)}`;
  const missing = /^Not enough non-option arguments: got (\d+)/.exec(msg);
  if (missing) {
    const p = positionalsOf(m).filter((x) => x.required)[Number(missing[1])];
    return `missing ${(p?.name ?? "argument").toUpperCase()}; ${usage}`;
  }
  const extra = /^Unknown arguments?: (.*)$/.exec(msg) ?? /^Too many non-option arguments/.exec(msg);
  if (extra) return `unexpected argument${extra[1] ? ` ${JSON.stringify(extra[1])}` : ""}; ${usage}`;
  return `${msg} (see 'pki ${nameOf(m)} --help')`;
}

let prepared: ReturnType<typeof prepareArgs>;
try {
  prepared = prepareArgs(hideBin(process.argv));
} catch (e) {
  fail((e as Error).message, 2);
}

const cli = yargs(prepared.args)
  .scriptName("pki")
  .usage(
    "$0 <command> [options]\n\nA certificate-authority toolkit: a CA, keys, CSRs and certificates in an encrypted depot.",
  )
  .command(COMMANDS as never)
  .middleware((a) => {
    if (a.asOwner) process.env.PKI_AS_OWNER = "1";
    if (prepared.command) checkEmptyArguments(a, prepared.command, prepared.args);
  })
  .strict()
  .version(VERSION)
  .alias("v", "version")
  .help()
  .alias("h", "help")
  .wrap(Math.min(100, process.stdout.columns || 100))
  .epilogue(
    "'pki help [COMMAND]' and 'pki version' work as --help and --version.\n" +
      "Environment: PKI_DEPOT (the depot, default ./.pki), PKI_PASSPHRASE_FILE (a file holding the passphrase).",
  )
  .fail((msg, err) => {
    if (err) throw err;
    fail(usageMessage(msg, prepared.command), 2);
  });

if (!prepared.command && !prepared.args.some((a) => /^-(-help|-version|h|v)$/.test(a))) {
  // `pki` alone: the command list, once, and a usage status.
  cli.showHelp((s) => process.stdout.write(`${s}\n`));
  process.exit(2);
}

try {
  await cli.parseAsync();
} catch (e) {
  failWith(e);
}
