import type { Argv, ArgumentsCamelCase, InferredOptionTypes } from "yargs";

export const command = "rm <name>";
export const describe =
  "remove an unsigned, expired or revoked entry (its certificate and key are kept, its serial stays reserved)";

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
  const { checkName } = await import("../lib/x509/validate.js");
  const name = checkName(a.name);
  // One write; the certificate and key stay, keyed by their serial.
  const { locateDepot, openRecords } = await import("../store/depot/locate.js");
  const { entryOf, recordsOf } = await import("../store/depot/read.js");
  const { remove } = await import("../store/depot/remove.js");
  const store = await openRecords(locateDepot(a.depot), { write: true });
  try {
    if (process.stdin.isTTY && !a.yes) await ask(await entryOf(recordsOf(store), name), name);
    const r = await remove(recordsOf(store), name);
    process.stderr.write(
      `Removed "${r.name}"${r.serial ? ` (serial ${r.serial} stays reserved; its certificate and key stay in the ` +
        "depot under it)" : ""}\n`,
    );
  } finally {
    await store.close();
  }
}

type Shown = Parameters<typeof import("../store/depot/read.js").stateOf>[0];

/** Shows what `rm` is about to remove and asks, where it would go ahead (the depot words every refusal). */
async function ask(e: Shown, name: string) {
  const { stateOf } = await import("../store/depot/read.js");
  const state = stateOf(e);
  if (name === "ca" || state === "valid" || state === "not-yet-valid") return;
  const { confirm } = await import("./prompt.js");
  const what = e.serial ? `${state}, serial ${e.serial}` : state;
  const question = `Remove "${name}" (${what})? Its certificate and key are kept, and the name can be used again. [y/N] `;
  if (!(await confirm(question))) throw new Error(`aborted: "${name}" is not removed`);
}
