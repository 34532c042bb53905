import type { Argv } from "yargs";
import { getPassphrase, KEY_OPTIONS, PASSPHRASE_OPTIONS, SUBJECT_OPTIONS, withOptions } from "./common.js";

export const command = "new-cert <name>";
export const describe = "create a key and a CSR for NAME, held in the depot";

export function builder(y: Argv) {
  return withOptions(y, PASSPHRASE_OPTIONS, KEY_OPTIONS, SUBJECT_OPTIONS)
    .positional("name", { type: "string", describe: "certificate name (A-Z a-z 0-9 . _ -)" })
    .options({
      ip: { type: "string", describe: "IP SAN (repeatable, comma-separated)" },
      domain: { type: "string", describe: "DNS SAN (repeatable, comma-separated, *.wildcard allowed)" },
    })
    .example("$0 new-cert --ip 127.0.0.1 --domain localhost server1", "key + CSR for a server on 127.0.0.1");
}

export async function handler(a: any) {
  const { subjectFrom, keySpecFrom, sansFrom } = await import("./args.js");
  const { checkName } = await import("../lib/validate.js");
  const name = checkName(a.name);
  const subject = subjectFrom(a, { commonName: name });
  const key = keySpecFrom(a);
  const sans = sansFrom(a.ip, a.domain);
  const { openDepot } = await import("./common.js");
  const depot = await openDepot(a.depot);
  if (depot.readIndex().entries[name]) throw new Error(`"${name}" already exists in the depot`);
  const passphrase = (await getPassphrase(a, `the key of "${name}"`, { confirm: true }))!;
  await depot.newCert(name, { subject, sans, key, passphrase });
  process.stderr.write(`Created key and CSR for "${name}" (SANs: ${[...sans.ips, ...sans.domains].join(", ")}); next: pki sign ${name}\n`);
}
