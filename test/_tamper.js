// Helpers of the tamper tests: an attacker who can write depot files but knows no passphrase.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pki, run, snapshot } from "./_helpers.js";
import { env } from "./_stress.js";

export const LONG = 10 * 60_000;
export const at = (dir, f) => join(dir, ".pki", f);
export const readJson = (dir, f) => JSON.parse(readFileSync(at(dir, f), "utf8"));
export const writeJson = (dir, f, v) => writeFileSync(at(dir, f), JSON.stringify(v, null, 2));

/** The depot and its parent directory as they are: every file's bytes and mode, and the parent's listing. */
const state = (dir) => ({ tree: snapshot(dir), listing: readdirSync(dir).sort() });

/**
 * Runs `pki ARGS` against a tampered depot: it must exit `code` with ONE `pki: ` line matching `re`, print
 * nothing on stdout, and leave the depot and its parent directory (where a traversal would land) unchanged.
 */
export async function refused(t, dir, args, re, { code = 1, opts = { env } } = {}) {
  const before = state(dir);
  const r = await pki(dir, args, opts);
  const what = `pki ${args.join(" ").slice(0, 80)}`;
  t.is(r.code, code, `${what}: ${r.stderr}`);
  const lines = r.stderr.split("\n").filter((l) => l && !l.startsWith("pki: warning:"));
  t.is(lines.length, 1, `${what}: one line, got ${JSON.stringify(r.stderr)}`);
  t.regex(lines[0] ?? "", /^pki: /, what);
  t.regex(lines[0] ?? "", re, what);
  t.true((lines[0] ?? "").length < 400, `${what}: a short message`);
  t.is(r.out, "", `${what}: nothing on stdout`);
  t.deepEqual(state(dir), before, `${what}: the depot or its parent changed`);
  return r;
}

/** Edits index.json (or depot.json) with `edit`, expects the refusal, then puts the file back. */
export async function withEdited(t, dir, file, edit, args, re, opts) {
  const saved = readFileSync(at(dir, file));
  const v = JSON.parse(saved);
  edit(v);
  writeFileSync(at(dir, file), JSON.stringify(v));
  try { await refused(t, dir, args, re, opts); } finally { writeFileSync(at(dir, file), saved); }
}

/** A second local user (CI runs as root); returns its uid. */
export async function otherUser(name = "pkitamper") {
  await run("useradd", ["-M", "-s", "/usr/sbin/nologin", name]); // exits 9 when it exists: fine
  const r = await run("id", ["-u", name]);
  return Number(r.out.trim());
}
