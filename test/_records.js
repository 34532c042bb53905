// Helpers for the record-store tests (test/records-*.test.js): a fresh depot.db in a temp dir, sample records,
// and the real sqlite3 shell for editing a database as an attacker (or a curious operator) would.
import { chmodSync } from "node:fs";
import { join } from "node:path";
import { ROOT, run, tempDir } from "./_helpers.js";

export const RECORDS = join(ROOT, "dist", "store", "records");
export const { SqliteStore } = await import(join(RECORDS, "sqlite.js"));
export const { SerialTakenError, NameTakenError } = await import(join(RECORDS, "schema.js"));

export const depotRecord = () => ({
  kdf: { salt: Buffer.alloc(16, 7).toString("base64"), iterations: 600_000 },
  created: "2026-01-02T03:04:05.006Z",
});

/** A depot directory (0700) holding a new, empty depot.db; the store is closed at the end of the test. */
export async function newStore(t, fill) {
  const dir = tempDir(t, "pki-records-");
  chmodSync(dir, 0o700);
  const store = await SqliteStore.create(dir, depotRecord(), fill);
  t.teardown(() => store.close());
  return { dir, store, db: join(dir, "depot.db") };
}

const iso = (ms) => new Date(ms).toISOString();
const DAY = 86_400_000;
const NOW = Date.parse("2026-06-01T00:00:00.000Z");

/** An entry as pki records one (signed unless said otherwise), `days` of validity from NOW. */
export function entry(name, o = {}) {
  const { days = 90, ...rest } = o;
  const signed = (rest.status ?? "signed") !== "unsigned";
  return {
    name,
    kind: "leaf",
    subject: `CN=${name}`,
    keyType: "EC P-256",
    sans: { ips: ["127.0.0.1"], domains: [`${name}.example`] },
    status: "signed",
    created: iso(NOW - DAY),
    ...(signed
      ? { serial: rest.serial ?? serialOf(name), notBefore: iso(NOW - DAY), notAfter: iso(NOW + days * DAY) }
      : {}),
    usage: "server",
    ...rest,
  };
}
export const rootEntry = () => ({
  ...entry("ca", { kind: "ca", serial: "01", days: 3650 }),
  usage: undefined,
  sans: { ips: [], domains: [] },
});

/** A stable serial for a name (40 hex digits at most, lowercase). */
export function serialOf(name) {
  let h = 7n;
  for (const ch of name) h = (h * 131n + BigInt(ch.codePointAt(0))) % (1n << 120n);
  return h.toString(16);
}

/** Runs SQL with Debian's sqlite3 shell on `db`; fails the test when the shell does. */
export async function sqlite(t, db, sql) {
  const r = await run("sqlite3", [db, sql]);
  t.is(r.code, 0, r.stderr);
  return r.out;
}

/** Removes `undefined` members, as a record read back has none. */
export const clean = (o) => JSON.parse(JSON.stringify(o));
