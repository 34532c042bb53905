#!/usr/bin/env node
/**
 * pki entry point. `pki --version` answers here, before yargs (the bulk of start-up)
 * is loaded; every other invocation goes to main.js.
 */
import { VERSION } from "./version.js";

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === "--version" || args[0] === "-v")) process.stdout.write(VERSION + "\n");
else await import("./main.js");
