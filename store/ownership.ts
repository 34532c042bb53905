/**
 * Who may have written the depot, checked as ssh's StrictModes checks ~/.ssh: the depot directory and every
 * file in it belong to the caller and are writable by nobody else, and nothing in it is a symbolic link (a
 * write never goes through a link to somewhere else). root acting on another user's depot is refused unless
 * it says --as-owner (PKI_AS_OWNER=1): then every file it creates is chowned to the depot's owner.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, statSync, chmodSync, type Stats } from "node:fs";
import { dirname, join, resolve, sep } from "node:path";
import { DepotError, setNewFileOwner, TEMP_RE } from "./fsutil.js";

const octal = (m: number) => "0" + (m & 0o777).toString(8).padStart(3, "0");
const uid = () => (process.getuid ? process.getuid() : -1);
export const asOwner = () => process.env.PKI_AS_OWNER === "1";

/** A finding of the ownership rule (for `pki doctor`, which reports them all instead of stopping at one). */
export interface OwnershipProblem {
  file: string;
  problem: string;
  kind: "mode" | "owner" | "symlink" | "type";
  mode?: number;
}

/** The depot directory's own breaches (not its files'), and its owner: the owner every file in it must have. */
export function depotDirProblems(dir: string): { owner: number; problems: OwnershipProblem[] } {
  const out: OwnershipProblem[] = [];
  const top = statSync(dir);
  const owner = top.uid;
  const me = uid();
  if (!top.isDirectory())
    return { owner, problems: [{ file: ".", problem: "the depot is not a directory", kind: "type" }] };
  if (me >= 0 && owner !== me && !(me === 0 && asOwner())) {
    out.push({
      file: ".",
      kind: "owner",
      problem: `the depot is owned by uid ${owner}, not by you (uid ${me})${me === 0 ? ": pass --as-owner to act as its owner" : ""}`,
    });
  }
  if (top.mode & 0o022)
    out.push({
      file: ".",
      kind: "mode",
      mode: top.mode,
      problem: `the depot directory is writable by group or others (mode ${octal(top.mode)})`,
    });
  return { owner, problems: out };
}

/** Every breach of the ownership rule in `dir`, depot directory first. */
export function ownershipProblems(dir: string, limit = Infinity): OwnershipProblem[] {
  const { owner, problems: out } = depotDirProblems(dir);
  if (out[0]?.kind === "type") return out;
  // Paths by concatenation, not join/relative: those resolve against the cwd per call, half the walk's time.
  const walk = (d: string, under: string) => {
    for (const n of readdirSync(d).sort()) {
      if (out.length >= limit) return;
      const p = d + sep + n;
      const file = under + n;
      const st = lstatSync(p, { throwIfNoEntry: false });
      if (!st) continue; // a lock or temp file another command just removed
      if (st.isSymbolicLink()) {
        out.push({
          file,
          kind: "symlink",
          problem: "is a symbolic link: a depot holds only regular files and directories",
        });
        continue;
      }
      out.push(...fileProblems(file, st, owner));
      if (st.isDirectory()) walk(p, file + sep);
      else if (!st.isFile() && !TEMP_RE.test(n)) out.push({ file, kind: "type", problem: "is not a regular file" });
    }
  };
  walk(dir, "");
  return out;
}

/** What is wrong with one depot file or directory (lstat'ed) besides being a link: its owner, its mode. */
export function fileProblems(file: string, st: Stats, owner: number): OwnershipProblem[] {
  const out: OwnershipProblem[] = [];
  if (st.uid !== owner)
    out.push({ file, kind: "owner", problem: `is owned by uid ${st.uid}, not by the depot's owner (uid ${owner})` });
  if (st.mode & 0o022)
    out.push({ file, kind: "mode", mode: st.mode, problem: `is writable by group or others (mode ${octal(st.mode)})` });
  return out;
}

/** Refuses, with one line, a depot someone other than its owner could have written; sets the owner of new files. */
export function checkOwnership(dir: string): void {
  const [p] = ownershipProblems(dir, 1);
  if (p) throw ownershipError(dir, p);
  const top = statSync(dir);
  setNewFileOwner(top.uid !== uid() ? { uid: top.uid, gid: top.gid } : undefined);
}

/** The one line that refuses a depot for problem `p`. */
export function ownershipError(dir: string, p: OwnershipProblem): DepotError {
  const fix =
    p.kind === "mode"
      ? ": 'pki doctor --fix' narrows the modes"
      : p.kind === "owner" && p.file !== "."
        ? ": chown it back, or remove it"
        : "";
  return new DepotError(
    p.file === "."
      ? `${p.problem.replace(/^the depot/, `the depot ${dir}`)}${fix}`
      : `depot file ${p.file} ${p.problem}${fix}`,
  );
}

/**
 * A directory for a new depot: created (0700) when absent; an existing one must be empty, or hold only what an
 * interrupted `pki init` leaves (depot.json, ca.key, empty certs/, lock, temp files); it is never chmod-ed.
 */
export function prepareNewDepotDir(dir: string): void {
  if (checkNewDepotDir(dir)) return;
  mkdirParents(dir);
  chmodSync(dir, 0o700); // ours, just made: the umask may have been wider
}

/**
 * mkdir -p, one level at a time: node's recursive mkdirSync spins forever where the kernel refuses a name with
 * ENOENT although the parent exists (/proc/x), so each missing ancestor is made, and refused, by plain mkdir.
 */
function mkdirParents(dir: string): void {
  const missing: string[] = [];
  for (let d = resolve(dir); !existsSync(d); d = dirname(d)) {
    missing.push(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing.reverse()) mkdirSync(d, { mode: 0o700 });
}

/** Whether `dir` exists (then fit for a new depot, or refused); nothing is changed. */
export function checkNewDepotDir(dir: string): boolean {
  try { lstatSync(dir); } catch { return false; }
  if (!statSync(dir).isDirectory()) throw new DepotError(`${dir} exists and is not a directory`);
  const leftovers = /^(depot\.json|ca\.key|lock|lock\.break)$/;
  const extra = readdirSync(dir).filter(
    (n) => !leftovers.test(n) && !TEMP_RE.test(n) && !(n === "certs" && isEmptyDir(join(dir, n))),
  );
  if (extra.length)
    throw new DepotError(
      `${dir} is not empty (${extra.slice(0, 3).join(", ")}${extra.length > 3 ? ", ..." : ""}): a new depot goes in an absent or empty directory`,
    );
  checkOwnership(dir);
  return true;
}

function isEmptyDir(p: string): boolean {
  try { return lstatSync(p).isDirectory() && readdirSync(p).length === 0; } catch { return false; }
}
