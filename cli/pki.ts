#!/usr/bin/env node
/**
 * pki entry point. `pki --version` answers here, and the plain forms of list, status and chain run
 * (cli/plain.ts), and the ordinary forms of the everyday commands (cli/quick.ts), before yargs, the bulk of
 * start-up, is loaded; every other invocation goes to main.mjs. Bundled as CommonJS (scripts/build-bundle.mjs):
 * node runs it without first setting up its ES-module loader, which the commands that need it set up later.
 */
import { VERSION } from "./version.js";
import { plainCommand } from "./plain.js";
import { writeOut } from "./out.js";

/** `pki help [COMMAND]` and `pki version`, as git and go have them: the words for --help and --version. */
function asFlags(args: string[]): string[] {
  if (args[0] === "help") return args.length === 1 ? ["--help"] : [...args.slice(1), "--help"];
  if (args[0] === "version" && args.length === 1) return ["--version"];
  return args;
}

async function run(args: string[]): Promise<void> {
  const plain = plainCommand(args);
  if (args[0] === "version" && args.length > 1)
    (await import("./exit.js")).fail(`unexpected argument ${JSON.stringify(args[1])}; usage: pki version`, 2);
  if (args.length === 1 && (args[0] === "--version" || args[0] === "-v")) writeOut(VERSION + "\n");
  else if (plain) await (await import("./plain.js")).runPlain(plain);
  else {
    const quick = await import("./quick.js");
    await quick.primeKdf(args);
    if (!(await quick.runQuick(args))) await import("./main.js");
  }
}

process.argv.splice(2, Infinity, ...asFlags(process.argv.slice(2))); // main.ts reads process.argv
void run(process.argv.slice(2));
