import type { Argv } from "yargs";
import { getPassphrase, KEY_OPTIONS, PASSPHRASE_OPTIONS, SUBJECT_OPTIONS, withOptions } from "./common.js";
import { ISSUER_OPTION, USAGE_OPTIONS } from "./options.js";

export const command = "new-cert <name>";
export const describe = "create a key and a CSR for NAME, held in the depot";

export function builder(y: Argv) {
  return withOptions(y, PASSPHRASE_OPTIONS, KEY_OPTIONS, SUBJECT_OPTIONS, USAGE_OPTIONS, ISSUER_OPTION)
    .positional("name", { type: "string", describe: "certificate name (A-Z a-z 0-9 . _ -)" })
    .options({
      ip: { type: "string", describe: "IP SAN (repeatable, comma-separated)" },
      domain: { type: "string", describe: "DNS SAN (repeatable, comma-separated, *.wildcard allowed)" },
      ca: { type: "boolean", describe: "a key and CSR for an intermediate CA (then: pki sign --intermediate NAME)" },
      "path-length": { type: "number", describe: "with --ca: basicConstraints pathLenConstraint (default 0)" },
    })
    .example("$0 new-cert --ip 127.0.0.1 --domain localhost server1", "key + CSR for a server on 127.0.0.1")
    .example("$0 new-cert --client --issuer issuing alice", "a client-only certificate to be signed by the intermediate 'issuing'");
}

export async function handler(a: any) {
  const { subjectFrom, keySpecFrom, sansFrom, leafProfileFrom, pathLengthFrom } = await import("./args.js");
  const { checkName } = await import("../lib/x509/validate.js");
  const name = checkName(a.name);
  const subject = subjectFrom(a, { commonName: name });
  const key = keySpecFrom(a);
  const leaf = await leafProfileFrom(a);
  if (a.ca && leaf) throw new Error("--ca conflicts with --server/--client/--peer/--eku");
  const profile = a.ca ? { kind: "ca" as const, pathLength: pathLengthFrom(a.pathLength) ?? 0 } : leaf;
  const sans = a.ca && a.ip === undefined && a.domain === undefined ? { ips: [], domains: [] } : sansFrom(a.ip, a.domain);
  const issuer = a.issuer === undefined ? undefined : checkName(a.issuer);
  const { openDepot } = await import("./common.js");
  const depot = await openDepot(a.depot);
  if (depot.readIndex().entries[name]) throw new Error(`"${name}" already exists in the depot`);
  if (issuer) depot.entry(issuer);
  const passphrase = (await getPassphrase(a, `the key of "${name}"`, { confirm: true }))!;
  await depot.newCert(name, { subject, sans, key, passphrase, profile, issuer });
  const what = [...sans.ips, ...sans.domains].join(", ") || "none";
  process.stderr.write(`Created key and CSR for "${name}" (SANs: ${what}); next: pki sign ${a.ca ? "--intermediate " : ""}${name}\n`);
}
