import type { Argv } from "yargs";

export const command = "status <name>";
export const describe = "show NAME's state, serial, validity, SANs and key type";

export function builder(y: Argv) {
  return y.positional("name", { type: "string" }).options({ json: { type: "boolean" } }).example("$0 status server1", "");
}

export async function handler(a: any) {
  const { openDepot, printJson } = await import("./common.js");
  const depot = await openDepot(a.depot);
  const e = depot.entry(a.name);
  const { stateOf } = await import("../store/depot.js");
  const info = { name: e.name, kind: e.kind, status: stateOf(e), subject: e.subject, keyType: e.keyType, serial: e.serial ?? null, notBefore: e.notBefore ?? null, notAfter: e.notAfter ?? null, sans: e.sans, usage: e.usage ?? null };
  if (a.json) return printJson(info);
  for (const [k, v] of Object.entries(info)) {
    const text = k === "sans" ? [...e.sans.ips.map((i) => `IP:${i}`), ...e.sans.domains.map((d) => `DNS:${d}`)].join(", ") || "-" : v ?? "-";
    process.stdout.write(`${k.padEnd(10)} ${text}\n`);
  }
}
