import type { Argv } from "yargs";
import { getPassphrase, PASSPHRASE_OPTIONS } from "./common.js";

export const command = "import <dir>";
export const describe = "make a new depot from an etcd-ca depot or a certstrap out/ directory (which is only read)";

export function builder(y: Argv) {
  return y
    .options({ ...PASSPHRASE_OPTIONS })
    .positional("dir", { type: "string", describe: "the etcd-ca depot (.etcd-ca) or certstrap out/ directory" })
    .options({
      from: {
        type: "string",
        choices: ["etcd-ca", "certstrap"] as const,
        demandOption: true,
        describe: "the tool that made DIR",
      },
      "source-passphrase-file": {
        type: "string",
        describe: "passphrase of DIR's keys, when it differs from the new depot's (may be empty: read only)",
      },
      "host-passphrase-file": {
        type: "string",
        describe: "passphrase of the certificates' keys, when it differs from the CA key's",
      },
      ca: {
        type: "string",
        describe: "certstrap: the CA to import when out/ holds several (they are listed when it is missing)",
      },
    })
    .example(
      "$0 import --from etcd-ca ~/.etcd-ca --passphrase-file ca.pass",
      "every key re-encrypted as PKCS#8 under the same passphrase",
    )
    .example(
      "$0 import --from etcd-ca ~/.etcd-ca --source-passphrase-file empty.pass",
      "etcd-ca keys made with an empty passphrase (an empty file); the new depot gets a real one",
    )
    .example(
      "$0 import --from certstrap out --ca CertAuth --depot new-depot",
      "the CA CertAuth of a certstrap out/ with several; plain keys get encrypted",
    );
}

type Args = Awaited<ReturnType<typeof builder>["argv"]> & { depot?: string };

export async function handler(a: Args) {
  const { locateDepot } = await import("../store/depot/locate.js");
  const { checkRoomForDepot } = await import("../store/depot/init.js");
  const target = locateDepot(a.depot);
  const o = { from: a.from, src: String(a.dir), ca: a.ca };
  checkRoomForDepot(target, ": import into a new depot (--depot DIR)"); // before the prompt
  const { importRecords } = await import("../store/import/write.js");
  const r = await importRecords(target, { ...(await passphrases(a)), ...o });
  report(a, r, r.label);
}

async function passphrases(a: Args) {
  const { readSecretFile } = await import("./common.js");
  // Read only: an empty first line (or an empty file) is etcd-ca's empty passphrase; the new depot never gets one.
  const sourcePassphrase =
    a.sourcePassphraseFile === undefined
      ? undefined
      : readSecretFile(String(a.sourcePassphraseFile), "--source-passphrase-file");
  const passphrase = (await getPassphrase(
    a,
    `the new depot's keys${sourcePassphrase === undefined ? " (and DIR's, unless --source-passphrase-file)" : ""}`,
  ))!;
  const hostPassphrase =
    a.hostPassphraseFile === undefined
      ? undefined
      : readSecretFile(String(a.hostPassphraseFile), "--host-passphrase-file");
  return { passphrase, sourcePassphrase, hostPassphrase };
}

function report(a: Args, r: { names: string[]; external: string[]; revoked: string[]; skipped: string[] }, to: string) {
  const names = r.names.map((n) => (r.external.includes(n) ? `${n} (external key)` : n));
  process.stderr.write(`Imported ${r.names.length} entries from ${a.from} ${a.dir} into ${to}: ${names.join(", ")}\n`);
  if (r.revoked.length) process.stderr.write(`Revoked, as the source's CRLs say: ${r.revoked.join(", ")}\n`);
  if (r.skipped.length) process.stderr.write(`Not imported:\n${r.skipped.map((s) => `  ${s}\n`).join("")}`);
}
