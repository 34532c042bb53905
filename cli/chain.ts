import type { Argv } from "yargs";

export const command = "chain [name]";
export const describe =
  "print NAME's certificate chain as PEM, leaf first, after checking that it verifies; without NAME, the CA certificate(s)";

export function builder(y: Argv) {
  return y
    .positional("name", {
      type: "string",
      describe: "a certificate name; omit for the root, then every valid intermediate (as etcd-ca chain)",
    })
    .options({
      root: {
        type: "boolean",
        default: true,
        describe: "end with the root (--no-root: leaf and intermediates, as a server sends them)",
      },
    })
    .example("$0 chain > ca.pem", "the CA certificate(s), e.g. for a trust bundle")
    .example("$0 chain web1 > web1.chain.pem", "web1, its intermediates and the root")
    .example("$0 chain --no-root web1 > web1.fullchain.pem", "the chain a TLS server presents");
}

type Args = Awaited<ReturnType<typeof builder>["argv"]> & { depot?: string };

export async function handler(a: Args) {
  const { chain, recordsTarget } = await import("./records.js");
  process.stdout.write(await chain(await recordsTarget(a.depot), a.name, a.root));
}
