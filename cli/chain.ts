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
  const records = await (await import("./records.js")).recordsTarget(a.depot);
  if (records) {
    process.stdout.write(await (await import("./records.js")).chain(records, a.name, a.root));
    return;
  }
  const { openDepot } = await import("./common.js");
  const depot = await openDepot(a.depot);
  if (a.name === undefined) {
    // The root first (what etcd-ca's 'chain' prints), then each intermediate whose chain verifies now.
    const cas = depot.list().filter((e) => e.kind === "ca" && e.name !== "ca" && e.state === "valid");
    const certs = [
      ...(await depot.verifiedChain("ca")),
      ...(await Promise.all(cas.map(async (e) => (await depot.verifiedChain(e.name))[0]))),
    ];
    process.stdout.write(certs.map((c) => c.toString("pem") + "\n").join(""));
    return;
  }
  const certs = await depot.verifiedChain(a.name);
  const out = a.root || certs.length === 1 ? certs : certs.slice(0, -1);
  process.stdout.write(out.map((c) => c.toString("pem") + "\n").join(""));
}
