import type { Argv } from "yargs";

export const command = "backup <file>";
export const describe = "write a consistent copy of the depot's database to FILE while other commands keep running";

export function builder(y: Argv) {
  return y
    .positional("file", { type: "string", describe: "the new backup file (never overwritten)" })
    .example("$0 backup /backups/pki-$(date +%F).db", "while 'pki acme serve' and other commands keep issuing");
}

type Args = Awaited<ReturnType<typeof builder>["argv"]> & { depot?: string };

export async function handler(a: Args) {
  const { depotLabel, locateDepot } = await import("../store/depot/locate.js");
  const { backupDepot } = await import("../store/depot/backup.js");
  const t = locateDepot(a.depot);
  const r = await backupDepot(t, String(a.file));
  process.stderr.write(`Backed up ${await depotLabel(t)} (${r.entries} entries) to ${r.file}; ` +
    `'pki restore ${r.file} DIR' makes a depot of it\n`);
}
