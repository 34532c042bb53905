import type { Argv } from "yargs";
import { getPassphrase, PASSPHRASE_OPTIONS, printWarnings, withOptions } from "./common.js";
import { ISSUER_OPTION, USAGE_OPTIONS, VALIDITY_OPTIONS } from "./options.js";

export const command = "sign <name>";
export const describe = "sign NAME's CSR with its issuing CA (needs that CA's passphrase)";

export function builder(y: Argv) {
  return withOptions(y, PASSPHRASE_OPTIONS, USAGE_OPTIONS, ISSUER_OPTION, VALIDITY_OPTIONS)
    .positional("name", { type: "string" })
    .options({
      expires: { type: "string", default: "1 year", describe: "validity: '1 year', '90d', '36h', '15m' or a date (never past the issuer's own)" },
      intermediate: { type: "boolean", describe: "issue NAME as an intermediate CA (basicConstraints CA:TRUE)" },
      "path-length": { type: "number", describe: "with --intermediate: pathLenConstraint (default 0)" },
    })
    .example("$0 sign --passphrase-file ca.pass server1", "issue server1's certificate, valid 1 year")
    .example("$0 sign --issuer issuing --server web1", "a server-only certificate from the intermediate 'issuing'");
}

export async function handler(a: any) {
  const { expiryFrom, leafProfileFrom, notBeforeFrom, pathLengthFrom } = await import("./args.js");
  const { checkName } = await import("../lib/x509/validate.js");
  const { openDepot } = await import("./common.js");
  const notAfter = expiryFrom(a.expires);
  const notBefore = notBeforeFrom(a.notBefore);
  const leaf = await leafProfileFrom(a);
  if (a.intermediate && leaf) throw new Error("--intermediate conflicts with --server/--client/--peer/--eku");
  const pathLength = pathLengthFrom(a.pathLength);
  const depot = await openDepot(a.depot);
  const entry = depot.entry(a.name);
  if (entry.status !== "unsigned") throw new Error(`"${a.name}" is already signed`);
  const profile = a.intermediate || (entry.kind === "ca" && pathLength !== undefined) ? { kind: "ca" as const, pathLength: pathLength ?? entry.pathLength ?? 0 } : leaf;
  const issuer = a.issuer === undefined ? entry.issuer ?? "ca" : checkName(a.issuer);
  const caPassphrase = (await getPassphrase(a, issuer === "ca" ? "the CA key" : `the key of the CA "${issuer}"`))!;
  const { cert } = await depot.sign(a.name, { caPassphrase, notAfter, notBefore, profile, issuer });
  printWarnings(depot.warnings);
  process.stderr.write(`Signed "${a.name}" by "${issuer}": serial ${cert.serialNumber}, valid until ${cert.notAfter.toISOString()}\n`);
}
