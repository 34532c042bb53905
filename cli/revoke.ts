import type { Argv } from "yargs";

export const command = "revoke <name>";
export const describe = "record NAME's certificate as revoked (then publish with 'pki crl')";

export function builder(y: Argv) {
  return y
    .positional("name", { type: "string", describe: "the certificate's name in the depot" })
    .options({
      reason: {
        type: "string",
        default: "unspecified",
        describe:
          "keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise or unspecified",
      },
      serial: {
        type: "string",
        describe:
          "revoke an earlier certificate of NAME (see 'pki status NAME --json' history) instead of the current one",
      },
      yes: { type: "boolean", describe: "do not ask (on a terminal pki shows what it revokes and asks first)" },
    })
    .example("$0 revoke --reason keyCompromise web1 && $0 crl > ca.crl", "revoke web1 and publish a new CRL");
}

type Args = Awaited<ReturnType<typeof builder>["argv"]> & { depot?: string };

export async function handler(a: Args) {
  const { UsageError } = await import("./common.js");
  const { checkReason } = await import("../lib/x509/reasons.js");
  let reason: ReturnType<typeof checkReason>;
  try {
    reason = checkReason(String(a.reason));
  } catch (e) {
    throw new UsageError((e as Error).message); // a value outside the option's fixed choices
  }
  const serial = a.serial === undefined ? undefined : String(a.serial);
  const r = await onRecords(a, reason, serial);
  process.stderr.write(
    `Revoked "${a.name}" (serial ${r.serial}, reason ${reason}); publish it: pki crl${r.issuer === "ca" ? "" : ` --issuer ${r.issuer}`}\n`,
  );
}

type Reason = import("../lib/x509/reasons.js").RevocationReason;
type Shown = { status: string; serial?: string; notAfter?: string; sans: import("../lib/x509/cert.js").Sans };

/** One write; no passphrase (nothing is signed until 'pki crl'). */
async function onRecords(a: Args, reason: Reason, serial: string | undefined) {
  const { locateDepot, openRecords } = await import("../store/depot/locate.js");
  const { entryOf, recordsOf } = await import("../store/depot/read.js");
  const { revoke } = await import("../store/depot/revoke.js");
  const store = await openRecords(locateDepot(a.depot), { write: true });
  try {
    if (process.stdin.isTTY && !a.yes) await ask(a, await entryOf(recordsOf(store), a.name!), reason, serial);
    return await revoke(recordsOf(store), a.name!, { reason, serial });
  } finally {
    await store.close();
  }
}

/** Asked only where it would go ahead (the depot words every refusal); never without a terminal: scripts go on. */
async function ask(a: Args, e: Shown, reason: Reason, serial: string | undefined) {
  if (!process.stdin.isTTY || a.yes || (serial === undefined && e.status !== "signed")) return;
  const { sanText } = await import("./args.js");
  const what = serial ?? `${e.serial}, valid until ${e.notAfter}, SANs: ${sanText(e.sans) || "none"}`;
  const { confirm } = await import("./prompt.js");
  const question = `Revoke "${a.name}" (serial ${what}) with reason ${reason}? Clients that check the CRL will ` +
    "refuse it; this cannot be undone. [y/N] ";
  if (!(await confirm(question))) throw new Error(`aborted: "${a.name}" is not revoked`);
}
