import type { Argv } from "yargs";
import { REASONS } from "../lib/x509/reasons.js";

export const command = "revoke <name>";
export const describe = "record NAME's certificate as revoked (then publish with 'pki crl')";

export function builder(y: Argv) {
  return y
    .positional("name", { type: "string", describe: "the certificate's name in the depot" })
    .options({
      reason: {
        type: "string",
        default: "unspecified",
        choices: REASONS,
        describe: "the CRL's reason code",
      },
      serial: {
        type: "string",
        describe:
          "revoke an earlier certificate of NAME (see 'pki status NAME --json' history) instead of the current one",
      },
    })
    .example("$0 revoke --reason keyCompromise web1 && $0 crl > ca.crl", "revoke web1 and publish a new CRL");
}

type Args = Awaited<ReturnType<typeof builder>["argv"]> & { depot?: string };

export async function handler(a: Args) {
  const { checkReason } = await import("../lib/x509/crl.js");
  const { openDepot } = await import("./common.js");
  const reason = checkReason(String(a.reason));
  const depot = await openDepot(a.depot);
  const r = await depot.revoke(a.name!, { reason, serial: a.serial === undefined ? undefined : String(a.serial) });
  process.stderr.write(
    `Revoked "${a.name}" (serial ${r.serial}, reason ${reason}); publish it: pki crl${r.issuer === "ca" ? "" : ` --issuer ${r.issuer}`}\n`,
  );
}
