import type { Argv, ArgumentsCamelCase, InferredOptionTypes } from "yargs";

export const command = "rm <name>";
export const describe =
  "remove an unsigned, expired or revoked entry (files move to history/, its serial stays reserved)";

const options = {
  yes: { type: "boolean", describe: "do not ask (on a terminal pki shows what it removes and asks first)" },
} as const;

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
  const name = checkName(a.name);
  if (process.stdin.isTTY && !a.yes) await ask(depot, name);
  const r = await removeEntry(depot, name);
  process.stderr.write(
    `Removed "${r.name}"${r.serial ? ` (serial ${r.serial} stays reserved)` : ""}; its files are in ${r.files.join(", ") || "no file"}\n`,
  );
}

/** Shows what `rm` is about to remove and asks, where it would go ahead (removeEntry words every refusal). */
async function ask(depot: Awaited<ReturnType<typeof import("./common.js").openDepot>>, name: string) {
  const { stateOf } = await import("../store/view.js");
  const e = depot.entry(name);
  const state = stateOf(e);
  if (name === "ca" || state === "valid" || state === "not-yet-valid") return;
  const { confirm } = await import("./prompt.js");
  const what = e.serial ? `${state}, serial ${e.serial}` : state;
  const question = `Remove "${name}" (${what})? Its files move to history/ and the name can be used again. [y/N] `;
  if (!(await confirm(question))) throw new Error(`aborted: "${name}" is not removed`);
}
