import type { Argv } from "yargs";
import { getPassphrase, PASSPHRASE_OPTIONS } from "./common.js";

export const command = "doctor";
export const describe =
  "check the depot (modes, index, keys, signatures) and, with --fix, repair what an interrupted command left";

export function builder(y: Argv) {
  return y
    .options(PASSPHRASE_OPTIONS)
    .options({
      fix: {
        type: "boolean",
        describe: "repair: narrow modes, remove temp files and stale locks, roll back interrupted commands",
      },
      "break-lock": {
        type: "boolean",
        describe: "remove the depot's lock whoever holds it (shown): only when that process is surely gone",
      },
      json: { type: "boolean", describe: "machine-readable report" },
    })
    .example("$0 doctor --fix", "repair the depot after a crash; exit 0 when it is consistent")
    .example("PKI_PASSPHRASE=... $0 doctor", "also decrypt each key and compare it with its certificate");
}

type Args = Awaited<ReturnType<typeof builder>["argv"]> & { depot?: string };

export async function handler(a: Args) {
  const { defaultDepotDir } = await import("../store/view.js");
  const { doctor } = await import("../store/doctor.js");
  if (a.breakLock) {
    const { breakLock, describeHolder } = await import("../store/lock.js");
    const s = breakLock(defaultDepotDir(a.depot));
    process.stderr.write(
      s.state === "free"
        ? "The depot is not locked\n"
        : `Removed the lock held by ${describeHolder(s.info)}${s.info?.boot ? ` (boot ${s.info.boot.slice(0, 36)}, started at tick ${s.info.start ?? "?"})` : ""}\n`,
    );
    return;
  }
  const passphrase = await getPassphrase(a, "the keys to compare", { optional: true });
  // A layout-1 depot (not yet upgraded by a command that writes) gets layout 1's checks and repairs.
  const { locateDepot } = await import("../store/depot/locate.js");
  const t = locateDepot(a.depot);
  const r = t.kind === "postgres" || t.format !== "layout1"
    ? await onRecords(a.depot, passphrase, Boolean(a.fix))
    : { ...(await doctor(defaultDepotDir(a.depot), { fix: Boolean(a.fix), passphrase })), onRecords: false };
  if (a.json) {
    process.stdout.write(JSON.stringify(r, null, 2) + "\n");
  } else {
    for (const p of r.problems) {
      const tail = p.fix ? ` (${p.fixed ? "fixed" : "fix"}: ${p.fix})` : "";
      process.stdout.write(`${p.file}: ${p.problem}${tail}\n`);
    }
    const keys =
      passphrase === undefined
        ? ""
        : `, ${r.keysChecked} keys compared${r.keysSkipped ? ` (${r.keysSkipped} skipped: other passphrase)` : ""}`;
    process.stderr.write(
      r.ok
        ? `Depot ${r.dir} is consistent: ${r.entries} entries, ${r.certificates} certificates verified${keys}${r.problems.length ? `; ${plural(r.problems.length, "problem")} fixed` : ""}\n`
        : `pki: ${plural(r.problems.filter((p) => !p.fixed).length, "problem")} in ${r.dir}${a.fix || r.onRecords ? "" : ": 'pki doctor --fix' repairs what it can"}\n`,
    );
  }
  if (!r.ok) process.exitCode = 1;
}

/** The record store (depot.db, PostgreSQL): checked in one snapshot; a command's changes are all or nothing. */
async function onRecords(depot: string | undefined, passphrase: string | undefined, fix: boolean) {
  const { depotLabel, locateDepot, openRecords } = await import("../store/depot/locate.js");
  const { doctorRecords, narrowModes } = await import("../store/depot/doctor.js");
  const t = locateDepot(depot);
  if (t.kind === "dir" && t.format === "none") await openRecords(t, { write: false }); // says there is no depot
  const fixed = fix && t.kind === "dir" ? narrowModes(t.dir) : [];
  const store = await openRecords(t, { write: false });
  try {
    const r = await doctorRecords(store, await depotLabel(t), { passphrase });
    return { ...r, problems: [...fixed, ...r.problems], onRecords: true };
  } finally {
    await store.close();
  }
}

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
