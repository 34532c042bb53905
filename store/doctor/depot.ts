/**
 * `pki doctor` on the depot a command names: a record store (depot.db, PostgreSQL) is checked by records.ts in one
 * snapshot; a layout-1 depot not yet upgraded is read under its lock (no earlier pki half-way through a change)
 * into the snapshot every reading command works on, and checked the same way, a file the read refuses being the
 * report's problem rather than an error. `fix` narrows a directory's modes first, and upgrades a layout-1 depot as
 * any command that writes does.
 */
import { readConsistent } from "../lock.js";
import { readLayout1 } from "../records/layout1.js";
import type { RecordStore } from "../records/schema.js";
import { KDF_HINT, readKdfHint, writeKdfHint } from "../records/kdf-hint.js";
import { doctorRecords, narrowModes, type DoctorReport, type Problem } from "./records.js";
import { depotLabel, openRecords, type DepotTarget } from "../depot/locate.js";

export async function doctorDepot(t: DepotTarget, o: { passphrase?: string; fix: boolean }): Promise<DoctorReport> {
  if (t.kind === "dir" && t.format === "none") await openRecords(t, { write: false }); // says there is no depot
  const fixed = o.fix && t.kind === "dir" ? narrowModes(t.dir) : [];
  const label = await depotLabel(t);
  const layout1 = t.kind === "dir" && t.format === "layout1" ? t.dir : undefined;
  let store: RecordStore;
  try {
    store = layout1 !== undefined && !o.fix ? await layout1Read(layout1) : await openRecords(t, { write: o.fix });
  } catch (e) {
    const p = layout1 !== undefined && layout1Problem(e);
    if (!p) throw e;
    const none = { entries: 0, certificates: 0, keysChecked: 0, keysSkipped: 0 };
    return { dir: label, ok: false, problems: [...fixed, p], ...none };
  }
  try {
    const r = await doctorRecords(store, label, { passphrase: o.passphrase });
    // depot.db's, not a layout-1 depot's snapshot (depot.json holds its parameters)
    const onDisk = t.kind === "dir" && (layout1 === undefined || o.fix);
    const hint = onDisk ? await hintProblem(t.dir, store, o.fix) : undefined;
    return { ...r, ok: r.ok && !(hint && !hint.fixed), problems: [...fixed, ...r.problems, ...(hint ? [hint] : [])] };
  } finally {
    await store.close();
  }
}

/** kdf.json beside depot.db (kdf-hint.ts): missing, or not depot.db's parameters, key commands start the KDF later. */
async function hintProblem(dir: string, store: RecordStore, fix: boolean): Promise<Problem | undefined> {
  const { kdf } = await store.read((tx) => tx.depot());
  const hint = readKdfHint(dir) as { salt?: unknown; iterations?: unknown } | undefined;
  if (hint?.salt === kdf.salt && hint.iterations === kdf.iterations) return undefined;
  if (fix) writeKdfHint(dir, kdf);
  const problem = hint === undefined ? "is missing or unreadable" : "does not hold depot.db's KDF parameters";
  const fixHow = "pki doctor --fix writes it";
  return { file: KDF_HINT, problem: `${problem}: key commands start their KDF later`, fix: fixHow, fixed: fix };
}

async function layout1Read(dir: string): Promise<RecordStore> {
  const { layout1Snapshot } = await import("../records/layout1-upgrade.js");
  return layout1Snapshot(dir, await readConsistent(dir, () => readLayout1(dir)));
}

/** A layout-1 file the read refused ("index.json is damaged (not JSON): run 'pki doctor'"), as a problem. */
function layout1Problem(e: unknown): Problem | undefined {
  const m = /^((?:certs|history|acme)\/[^\s:]+|[\w.-]+\.(?:json|crt|key|csr|crl)):? (.+?)(?:: run 'pki doctor')?$/s
    .exec((e as Error).message ?? "");
  return m ? { file: m[1], problem: m[2], fix: "restore it from a backup", fixed: false } : undefined;
}
