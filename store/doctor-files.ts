/** `pki doctor`, first part: every file of the depot (temp files, modes, symlinks, ownership, unencrypted keys). */
import { chmodSync, lstatSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { TEMP_RE } from "./fsutil.js";
import { alive } from "./lock.js";
import { ownershipProblems } from "./ownership.js";
import type { Depot } from "./depot.js";

const PLAIN_KEY = /-----BEGIN (?:RSA |EC |DSA |OPENSSH )?PRIVATE KEY-----/;

/** How a check reports: the file, what is wrong, the fix to suggest, the repair `--fix` runs. */
export type ProblemFn = (file: string, text: string, fix?: string, repair?: () => void) => void;

export function checkFiles(depot: Depot, problem: ProblemFn, rel: (p: string) => string): void {
  // 1. Every file: temp files, modes, symlinks, unencrypted keys.
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      const st = lstatSync(p);
      const mode = st.mode & 0o777;
      const m = TEMP_RE.exec(n);
      if (m) {
        if (!alive(Number(m[1])))
          problem(rel(p), `temp file left by an interrupted write (pid ${m[1]})`, "remove it", () =>
            rmSync(p, { force: true }),
          );
      } else if (st.isSymbolicLink()) {
        problem(
          rel(p),
          "is a symbolic link: a depot holds only regular files",
          "replace it with the file it points to, or remove it",
        );
      } else if (st.isDirectory()) {
        if (mode & 0o077)
          problem(rel(p) + "/", `mode ${oct(mode)}: should be 0700`, `chmod ${oct(mode & 0o700)}`, () =>
            chmodSync(p, mode & 0o700),
          );
        walk(p);
      } else if (st.isFile()) {
        // Repairs only narrow a mode: a 0400 key stays 0400.
        if (n.endsWith(".key") && mode & 0o077)
          problem(rel(p), `a key with mode ${oct(mode)}: should be 0600`, `chmod ${oct(mode & 0o600)}`, () =>
            chmodSync(p, mode & 0o600),
          );
        else if (!n.endsWith(".key") && mode & 0o022)
          problem(rel(p), `mode ${oct(mode)}: writable by others`, `chmod ${oct(mode & ~0o022)}`, () =>
            chmodSync(p, mode & ~0o022),
          );
        if (st.size < 1 << 20 && PLAIN_KEY.test(readFileSync(p, "latin1")))
          problem(
            rel(p),
            "holds an UNENCRYPTED private key",
            "remove it (export keys with 'pki export --insecure' to stdout only)",
          );
      }
    }
  };
  const top = lstatSync(depot.dir).mode & 0o777;
  if (top & 0o077)
    problem(".", `the depot directory has mode ${oct(top)}: should be 0700`, `chmod ${oct(top & 0o700)}`, () =>
      chmodSync(depot.dir, top & 0o700),
    );
  walk(depot.dir);
  for (const p of ownershipProblems(depot.dir).filter((x) => x.kind === "owner"))
    problem(p.file, p.problem.replace(/^the depot /, ""), "chown it to the depot's owner, or remove it");
}

const oct = (m: number) => "0" + m.toString(8).padStart(3, "0");
