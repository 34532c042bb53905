import type { Argv } from "yargs";

export const command = "chain <name>";
export const describe = "print NAME's certificate chain as PEM, leaf first, after checking that it verifies";

export function builder(y: Argv) {
  return y
    .positional("name", { type: "string", describe: "the certificate's name in the depot" })
    .options({ root: { type: "boolean", default: true, describe: "end with the root (--no-root: leaf and intermediates, as a server sends them)" } })
    .example("$0 chain web1 > web1.chain.pem", "web1, its intermediates and the root")
    .example("$0 chain --no-root web1 > web1.fullchain.pem", "the chain a TLS server presents");
}

export async function handler(a: any) {
  const { openDepot } = await import("./common.js");
  const depot = await openDepot(a.depot);
  const certs = await depot.verifiedChain(a.name);
  const out = a.root || certs.length === 1 ? certs : certs.slice(0, -1);
  process.stdout.write(out.map((c) => c.toString("pem") + "\n").join(""));
}
