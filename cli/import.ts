import type { Argv } from "yargs";
import { getPassphrase, PASSPHRASE_OPTIONS, withOptions } from "./common.js";

export const command = "import <dir>";
export const describe = "make a new depot from an etcd-ca depot or a certstrap out/ directory (which is only read)";

export function builder(y: Argv) {
  return withOptions(y, PASSPHRASE_OPTIONS)
    .positional("dir", { type: "string", describe: "the etcd-ca depot (.etcd-ca) or certstrap out/ directory" })
    .options({
      from: { type: "string", choices: ["etcd-ca", "certstrap"], demandOption: true, describe: "the tool that made DIR" },
      "host-passphrase-file": { type: "string", describe: "passphrase of the certificates' keys, when it differs from the CA key's" },
    })
    .example("$0 import --from etcd-ca ~/.etcd-ca --passphrase-file ca.pass", "every key re-encrypted as PKCS#8 under the same passphrase")
    .example("$0 import --from certstrap out --depot new-depot", "a certstrap CA; plain keys get encrypted");
}

export async function handler(a: any) {
  const { defaultDepotDir } = await import("../store/depot.js");
  const { importDepot } = await import("../store/import.js");
  const { existsSync } = await import("node:fs");
  const dir = defaultDepotDir(a.depot);
  if (existsSync(`${dir}/ca.crt`)) throw new Error(`a CA already exists in ${dir}: import into a new depot (--depot DIR)`);
  const passphrase = (await getPassphrase(a, "the CA key (and, unless --host-passphrase-file, the other keys)"))!;
  const hostPassphrase = a.hostPassphraseFile === undefined ? undefined : (await getPassphrase({ passphraseFile: a.hostPassphraseFile }, "the certificates' keys"))!;
  const r = await importDepot(dir, { from: a.from, src: String(a.dir), passphrase, hostPassphrase });
  process.stderr.write(`Imported ${r.names.length} entries from ${a.from} ${a.dir} into ${dir}: ${r.names.join(", ")}\n`);
}
