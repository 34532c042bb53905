import type { Argv } from "yargs";

export const command = "restore <file> <dir>";
export const describe = "make a new depot in DIR (absent or empty) from a 'pki backup' FILE";

export function builder(y: Argv) {
  return y
    .positional("file", { type: "string", describe: "a file 'pki backup' wrote" })
    .positional("dir", { type: "string", describe: "the new depot's directory (absent or empty; never overwritten)" })
    .example("$0 restore /backups/pki-2026-12-06.db /srv/pki && pki --depot /srv/pki doctor", "");
}

type Args = Awaited<ReturnType<typeof builder>["argv"]>;

export async function handler(a: Args) {
  const { restoreDepot } = await import("../store/depot/backup.js");
  const r = await restoreDepot(String(a.file), String(a.dir));
  process.stderr.write(`Restored ${r.entries} entries into ${r.dir}; check it: pki --depot ${r.dir} doctor\n`);
}
