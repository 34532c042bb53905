import type { Argv } from "yargs";
import { getPassphrase, PASSPHRASE_OPTIONS, UsageError } from "./common.js";

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
  const { locateDepot } = await import("../store/depot/locate.js");
  const t = locateDepot(a.depot);
  if (a.breakLock) {
    // The layout-1 lock: an earlier pki's commands, and the upgrade to depot.db, hold it.
    const { breakLock, describeHolder } = await import("../store/lock.js");
    if (t.kind !== "dir") throw new UsageError("--break-lock removes a depot directory's lock: a URL has none");
    const s = breakLock(t.dir);
    process.stderr.write(
      s.state === "free"
        ? "The depot is not locked\n"
        : `Removed the lock held by ${describeHolder(s.info)}${s.info?.boot ? ` (boot ${s.info.boot.slice(0, 36)}, started at tick ${s.info.start ?? "?"})` : ""}\n`,
    );
    return;
  }
  const passphrase = await getPassphrase(a, "the keys to compare", { optional: true });
  const { doctorDepot } = await import("../store/doctor/depot.js");
  const r = await doctorDepot(t, { passphrase, fix: Boolean(a.fix) });
  // Only a layout-1 depot has more to do: --fix upgrades it.
  const hint = !a.fix && t.kind === "dir" && t.format === "layout1";
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
        : `pki: ${plural(r.problems.filter((p) => !p.fixed).length, "problem")} in ${r.dir}` +
          `${hint ? ": 'pki doctor --fix' repairs what it can" : ""}\n`,
    );
  }
  if (!r.ok) process.exitCode = 1;
}

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
