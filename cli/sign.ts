import type { Argv } from "yargs";
import { getPassphrase, PASSPHRASE_OPTIONS, printWarnings, withOptions } from "./common.js";

export const command = "sign <name>";
export const describe = "sign NAME's CSR with the CA (needs the CA passphrase)";

export function builder(y: Argv) {
  return withOptions(y, PASSPHRASE_OPTIONS)
    .positional("name", { type: "string" })
    .options({
      expires: { type: "string", default: "1 year", describe: "validity (never past the CA's own)" },
      server: { type: "boolean", describe: "extKeyUsage serverAuth only" },
      client: { type: "boolean", describe: "extKeyUsage clientAuth only" },
    })
    .conflicts("server", "client")
    .example("$0 sign --passphrase-file ca.pass server1", "issue server1's certificate, valid 1 year");
}

export async function handler(a: any) {
  const { expiryFrom } = await import("./args.js");
  const { openDepot } = await import("./common.js");
  const notAfter = expiryFrom(a.expires);
  const depot = await openDepot(a.depot);
  const entry = depot.entry(a.name);
  if (entry.status !== "unsigned") throw new Error(`"${a.name}" is already signed`);
  const caPassphrase = (await getPassphrase(a, "the CA key"))!;
  const usage = a.server ? "server" : a.client ? "client" : "peer";
  const { cert } = await depot.sign(a.name, { caPassphrase, notAfter, profile: { kind: "leaf", usage } });
  printWarnings(depot.warnings);
  process.stderr.write(`Signed "${a.name}": serial ${cert.serialNumber}, valid until ${cert.notAfter.toISOString()}\n`);
}
