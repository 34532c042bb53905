import type { Argv } from "yargs";

export const command = "list";
export const describe = "list the CA and every certificate with status, expiry and SANs";

export function builder(y: Argv) {
  return y.options({ json: { type: "boolean", describe: "machine-readable output" } }).example("$0 list --json", "");
}

type Args = Awaited<ReturnType<typeof builder>["argv"]> & { depot?: string };

export async function handler(a: Args) {
  const { printJson, printTable } = await import("./out.js");
  const depot = (await import("../store/view.js")).openView(a.depot); // no crypto stack: list only reads the index
  const rows = depot.list();
  if (a.json)
    return printJson(
      rows.map((e) => ({
        name: e.name,
        kind: e.kind,
        issuer: e.issuer ?? null,
        status: e.state,
        serial: e.serial ?? null,
        notAfter: e.notAfter ?? null,
        sans: e.sans,
        ...(e.acme ? { acme: e.acme } : {}),
      })),
    );
  const table = [
    ["NAME", "STATUS", "NOT AFTER", "SANS"],
    ...rows.map((e) => [
      e.name,
      e.state,
      e.notAfter ?? "-",
      [...e.sans.ips, ...e.sans.domains, ...(e.sans.uris ?? []), ...(e.sans.emails ?? [])].join(",") || "-",
    ]),
  ];
  printTable(table);
}
