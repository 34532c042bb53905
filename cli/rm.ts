import type { Argv, ArgumentsCamelCase, InferredOptionTypes } from "yargs";

export const command = "rm <name>";
export const describe =
  "remove an unsigned, expired or revoked entry (files move to history/, its serial stays reserved)";

const options = {} as const;

export function builder(y: Argv) {
  return y
    .positional("name", { type: "string", describe: "the entry to remove" })
    .options(options)
    .example("$0 rm old-web", "after 'pki revoke old-web' or once it expired");
}

export async function handler(
  a: ArgumentsCamelCase<InferredOptionTypes<typeof options> & { name: string; depot?: string }>,
) {
  const { openDepot } = await import("./common.js");
  const { removeEntry } = await import("../store/remove.js");
  const { checkName } = await import("../lib/x509/validate.js");
  const depot = await openDepot(a.depot);
  const r = await removeEntry(depot, checkName(a.name));
  process.stderr.write(
    `Removed "${r.name}"${r.serial ? ` (serial ${r.serial} stays reserved)` : ""}; its files are in ${r.files.join(", ") || "no file"}\n`,
  );
}
