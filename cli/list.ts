import type { Argv } from "yargs";

export const command = "list";
export const describe = "list the CA and every certificate with status, expiry and SANs";

export function builder(y: Argv) {
  return y
    .options({
      json: { type: "boolean", describe: "machine-readable output" },
      status: {
        type: "string",
        choices: ["unsigned", "signed", "revoked"],
        describe: "only entries of this status (signed: valid, expired or not yet valid)",
      },
      expiring: { type: "string", describe: "only certificates that expire within this duration ('30d'), or expired" },
      issuer: { type: "string", describe: "only what this CA issued ('ca': the root)" },
    })
    .example("$0 list --json", "")
    .example("$0 list --expiring 30d --status signed", "what needs renewing within a month");
}

type Args = Awaited<ReturnType<typeof builder>["argv"]> & { depot?: string };
type Row = {
  name: string; kind: string; issuer?: string; state: string; serial?: string; notAfter?: string;
  sans: { ips: string[]; domains: string[]; uris?: string[]; emails?: string[] };
  acme?: { account: string; order: string; replaces?: string };
};

/**
 * Streamed from the record store (a layout-1 depot: its read-only snapshot). Which ACME certificate replaced which
 * comes with each entry (recorded when its order was finalized): list reads the entries it prints and no ACME
 * order, however many a fleet's depot holds.
 */
export async function handler(a: Args) {
  const read = await import("../store/depot/list-read.js");
  const { listed, listFilter, locateDepot, openRecords, recordsOf, stateOf } = read;
  const o = { status: a.status as "signed" | undefined, expiringWithin: a.expiring, issuer: a.issuer };
  try {
    listFilter(o); // a bad filter is refused before the depot is opened
  } catch (e) {
    throw new (await import("./common.js")).UsageError((e as Error).message);
  }
  const store = await openRecords(locateDepot(a.depot), { write: false });
  try {
    const now = new Date();
    async function* rows() {
      for await (const e of listed(recordsOf(store), o)) yield { ...e, state: stateOf(e, now) };
    }
    await print(a, rows());
  } finally {
    await store.close();
  }
}

async function print(a: Args, rows: AsyncIterable<Row>) {
  const { JsonArrayOut, TableOut } = await import("./out.js");
  if (a.json) {
    const out = new JsonArrayOut();
    for await (const e of rows) {
      out.add({
        name: e.name,
        kind: e.kind,
        issuer: e.issuer ?? null,
        status: e.state,
        serial: e.serial ?? null,
        notAfter: e.notAfter ?? null,
        sans: e.sans,
        ...(e.acme ? { acme: e.acme } : {}),
      });
    }
    return out.end();
  }
  const out = new TableOut(["NAME", "STATUS", "NOT AFTER", "SANS"]);
  for await (const e of rows) {
    const sans = [...e.sans.ips, ...e.sans.domains, ...(e.sans.uris ?? []), ...(e.sans.emails ?? [])];
    const r = e.acme?.replaces;
    out.add([r ? `${e.name} (replaces ${r})` : e.name, e.state, e.notAfter ?? "-", sans.join(",") || "-"]);
  }
  out.end();
}
