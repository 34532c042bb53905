import type { Argv } from "yargs";

export const command = "status [name]";
export const describe =
  "expiry check of the CA and every certificate (exit 0 OK, 1 WARN, 2 EXPIRED), or NAME's details";

export function builder(y: Argv) {
  return y
    .positional("name", { type: "string", describe: "one certificate's details; omit for the expiry check of all" })
    .options({
      json: { type: "boolean", describe: "machine-readable output" },
      warn: { type: "string", default: "30d", describe: "WARN when a certificate expires within this duration" },
    })
    .example("$0 status --warn 30d || echo 'renew something'", "OK / WARN (N days) / EXPIRED per certificate")
    .example("$0 status server1 --json", "server1's serial, validity, SANs, usage and history");
}

type Args = Awaited<ReturnType<typeof builder>["argv"]> & { depot?: string };

type Entry = import("../store/records/schema.js").Entry;
type Listed = Entry & { state: string };

/** Read in one snapshot per page, streamed (a layout-1 depot: its read-only snapshot). */
export async function handler(a: Args) {
  const { entryOf, listed, locateDepot, openRecords, recordsOf, stateOf } = await import("../store/depot/list-read.js");
  const store = await openRecords(locateDepot(a.depot), { write: false });
  try {
    if (a.name !== undefined) return await details(a, await entryOf(recordsOf(store), a.name));
    const now = new Date();
    async function* rows() {
      for await (const e of listed(recordsOf(store))) yield { ...e, state: stateOf(e, now) };
    }
    await overview(a, rows(), now.getTime());
  } finally {
    await store.close();
  }
}

async function details(a: Args, e: Entry & { keyUri?: string }) {
  const { printJson, writeOut } = await import("./out.js");
  const { stateOf } = await import("../store/depot/list-read.js");
  const { sanText } = await import("./args.js");
  const info = {
    name: e.name,
    kind: e.kind,
    status: stateOf(e),
    issuer: e.issuer ?? null,
    subject: e.subject,
    keyType: e.keyType,
    serial: e.serial ?? null,
    notBefore: e.notBefore ?? null,
    notAfter: e.notAfter ?? null,
    sans: e.sans,
    usage: e.usage ?? null,
    ...(e.external ? { external: true } : {}),
    ...(e.alias ? { alias: e.alias } : {}),
    ...(e.keyUri ? { keyUri: e.keyUri } : {}), // a CA key in a PKCS#11 token: where (never a PIN)
  };
  if (a.json)
    return printJson({
      ...info,
      eku: e.eku ?? null,
      pathLength: e.pathLength ?? null,
      revoked: e.revoked ?? null,
      history: e.history ?? [],
    });
  const text = (k: string, v: unknown) => (k === "sans" ? sanText(e.sans) || "-" : v ?? "-");
  writeOut(Object.entries(info).map(([k, v]) => `${k.padEnd(10)} ${text(k, v)}\n`).join(""));
}

/** One line per entry; exit code 2 if any certificate expired, else 1 if any expires within --warn, else 0. */
async function overview(a: Args, entries: Iterable<Listed> | AsyncIterable<Listed>, now = Date.now()) {
  const { parseDurationMs } = await import("../lib/x509/duration.js");
  const { JsonArrayOut, TableOut } = await import("./out.js");
  const warnMs = parseDurationMs(String(a.warn));
  const row = (e: Listed) => {
    const left = e.notAfter ? new Date(e.notAfter).getTime() - now : 0;
    // Days left to the nearest: a fresh 10-day certificate has 10 days (not 9 and some hours), one with an hour left 0.
    const days = Math.round(left / 864e5);
    const status =
      e.state === "unsigned"
        ? "UNSIGNED"
        : e.state === "revoked"
          ? "REVOKED"
          : e.state === "expired"
            ? "EXPIRED"
            : e.state === "not-yet-valid"
              ? "WARN (not yet valid)"
              : left <= warnMs
                ? `WARN (${days} day${days === 1 ? "" : "s"})`
                : "OK";
    return {
      name: e.name,
      kind: e.kind,
      issuer: e.issuer ?? null,
      notAfter: e.notAfter ?? null,
      daysLeft: e.notAfter ? days : null,
      status,
    };
  };
  const json = a.json ? new JsonArrayOut() : undefined;
  const table = a.json ? undefined : new TableOut(["NAME", "KIND", "ISSUER", "NOT AFTER", "STATUS"]);
  let expired = false, warn = false;
  for await (const e of entries) {
    const r = row(e);
    expired ||= r.status === "EXPIRED";
    warn ||= r.status.startsWith("WARN");
    if (json) json.add(r);
    else table!.add([r.name, r.kind, r.issuer ?? "-", r.notAfter ?? "-", r.status]);
  }
  (json ?? table!).end();
  process.exitCode = expired ? 2 : warn ? 1 : 0;
}
