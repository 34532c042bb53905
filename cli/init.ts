import type { Argv } from "yargs";
import { getPassphrase, KEY_OPTIONS, PASSPHRASE_OPTIONS, SUBJECT_OPTIONS, withOptions } from "./common.js";

export const command = "init";
export const describe = "create a new root CA in the depot";

export function builder(y: Argv) {
  return withOptions(y, PASSPHRASE_OPTIONS, KEY_OPTIONS, SUBJECT_OPTIONS)
    .options({
      expires: { type: "string", default: "10 years", describe: "validity: '10 years', '90 days', '36h' or a date" },
      "path-length": { type: "number", describe: "basicConstraints pathLenConstraint of the root (default: none)" },
    })
    .example("$0 init --common-name 'Example CA' --passphrase-file ca.pass", "new ECDSA P-256 root valid 10 years");
}

export async function handler(a: any) {
  const { subjectFrom, keySpecFrom, expiryFrom } = await import("./args.js");
  const subject = subjectFrom(a, { commonName: "pki Root CA", organization: "pki" });
  const key = keySpecFrom(a);
  const notAfter = expiryFrom(a.expires)(new Date());
  const { Depot, defaultDepotDir } = await import("../store/depot.js");
  const dir = defaultDepotDir(a.depot);
  const { existsSync } = await import("node:fs");
  if (existsSync(`${dir}/ca.crt`)) throw new Error(`a CA already exists in ${dir}`);
  const passphrase = (await getPassphrase(a, "the CA key", { confirm: true }))!;
  const { cert } = await Depot.init(dir, { subject, key, notAfter, passphrase, pathLength: a.pathLength });
  process.stderr.write(`Created CA "${cert.subject}" in ${dir} (valid until ${cert.notAfter.toISOString()})\n`);
}
