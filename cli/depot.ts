import type { Argv } from "yargs";
import { UsageError } from "./common.js";

export const command = "depot <action>";
export const describe = "move a whole depot between backends: 'pki depot copy --from SRC --to DST' (a new DST)";

export function builder(y: Argv) {
  return y
    .positional("action", { choices: ["copy"] as const, describe: "copy: SRC's whole depot into a new DST" })
    .options({
      from: {
        type: "string",
        describe: "copy: the depot to copy, a directory or a postgresql:// URL (default: --depot, $PKI_DEPOT, ./.pki)",
      },
      to: {
        type: "string",
        describe: "copy: where the copy goes: an absent or empty directory, or a postgresql:// URL with no depot",
      },
    })
    .example("$0 depot copy --from /srv/pki --to postgresql://pki@db/pki", "the depot.db depot into PostgreSQL");
}

type Args = Awaited<ReturnType<typeof builder>["argv"]> & { depot?: string };

export async function handler(a: Args) {
  // never a default for DST: locateDepot would fall back to $PKI_DEPOT, the very depot being copied
  const to = a.to === undefined ? "" : String(a.to);
  if (!to || a.from === "") throw new UsageError("usage: pki depot copy [--from SRC] --to DST");
  const { locateDepot } = await import("../store/depot/locate.js");
  const { copyDepot } = await import("../store/depot/copy.js");
  const r = await copyDepot(locateDepot(a.from === undefined ? a.depot : String(a.from)), locateDepot(to));
  process.stderr.write(`Copied ${r.entries} entries, ${r.serials} serials from ${r.from} to ${r.to}\n`);
}
