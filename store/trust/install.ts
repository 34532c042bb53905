/**
 * `pki trust`: puts the depot's CA certificates (never a key) into the system, NSS and Java trust stores,
 * takes them out again, and reports where they are.
 *
 * Install snapshots the files each store's tool rewrites (the CA bundle, cert9.db, cacerts) and records
 * them under ~/.local/state/pki/trust/. Uninstall removes pki's entry with the store's own tool and then,
 * for each file nobody else has changed since (its hash is still the one install left), puts back the
 * exact bytes it had before: an NSS or JKS database rewritten by its tool differs in bytes even when its
 * content is the same. A file changed meanwhile keeps those changes: only pki's entry leaves it.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { x509 } from "../../lib/x509/peculiar.js";
import { constraintsOf } from "../../lib/x509/constraints.js";
import { writeAtomic } from "../fsutil.js";
import {
  isWritable,
  javaTarget,
  nssTargets,
  restore,
  StoreError,
  StoreId,
  STORE_IDS,
  Target,
  TrustCa,
  Unavailable,
  entryName,
} from "./stores.js";
import { systemTarget } from "./system.js";
import { withTrustLock } from "./guard.js";

export { StoreError, STORE_IDS, entryName };
export type { StoreId, TrustCa };

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

export function trustCa(name: string, cert: x509.X509Certificate): TrustCa {
  const der = Buffer.from(cert.rawData);
  return {
    name,
    subject: cert.subject,
    pem: cert.toString("pem") + "\n",
    der,
    sha256: sha256(der),
    sha1: createHash("sha1").update(der).digest("hex"),
  };
}

/** Whether the CA certificate carries no name constraints (once trusted, it vouches for any name). */
export function unconstrained(cert: x509.X509Certificate): boolean {
  return !constraintsOf(cert);
}

/** Writes the CA's PEM to a private temp file for a store tool to read. */
function withFile(ca: TrustCa, fn: (path: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "pki-trust-"));
  try {
    writeFileSync(join(dir, "ca.crt"), ca.pem, { mode: 0o644 });
    fn(join(dir, "ca.crt"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function resolveStores(stores: StoreId[], home = homedir()): { targets: Target[]; unavailable: Unavailable[] } {
  const targets: Target[] = [],
    unavailable: Unavailable[] = [];
  for (const s of stores) {
    const t = s === "system" ? systemTarget(withFile) : s === "nss" ? nssTargets(withFile, home) : javaTarget(withFile);
    for (const x of Array.isArray(t) ? t : [t]) ("reason" in x ? unavailable : targets).push(x as Target & Unavailable);
  }
  return { targets, unavailable };
}

// ---- records of what install changed ----------------------------------------

interface FileSnap {
  path: string;
  pre: string | null /* base64; null: absent */;
  post: string | null; /* sha256 */
}
interface Record {
  store: StoreId;
  where: string;
  at: string;
  files: FileSnap[];
}

export function stateDir(home = homedir()): string {
  return join(process.env.XDG_STATE_HOME || join(home, ".local", "state"), "pki", "trust");
}
const recordPath = (ca: TrustCa, home?: string) => join(stateDir(home), `${ca.sha256}.json`);

function readRecords(ca: TrustCa, home?: string): Record[] {
  try {
    const r = JSON.parse(readFileSync(recordPath(ca, home), "utf8"));
    return Array.isArray(r) ? r.filter((x) => x && typeof x.store === "string" && Array.isArray(x.files)) : [];
  } catch {
    return [];
  }
}
function writeRecords(ca: TrustCa, records: Record[], home?: string): void {
  const p = recordPath(ca, home);
  if (!records.length) {
    rmSync(p, { force: true });
    return;
  }
  mkdirSync(stateDir(home), { recursive: true, mode: 0o700 });
  // The caller's own record, even with --as-owner: it says what was done to stores outside the depot.
  writeAtomic(p, JSON.stringify(records, null, 1) + "\n", 0o600, { outsideDepot: true });
}

const hashOf = (p: string) => (existsSync(p) ? sha256(readFileSync(p)) : null);
const snapshot = (t: Target) => t.files.map((path) => ({ path, bytes: existsSync(path) ? readFileSync(path) : null }));

// ---- the commands -------------------------------------------------------------

export interface Outcome {
  ca: string;
  store: StoreId;
  where: string;
  action: "installed" | "already" | "removed" | "absent" | "kept";
  note?: string;
}

/** Refuses, before anything changes, a store the user may not write: one line naming it and the command to run. */
function checkRights(targets: Target[], verb: string, stores: StoreId[]): void {
  for (const t of targets) {
    const denied = t.writable.find((p) => !isWritable(p));
    if (denied) {
      throw new StoreError(
        `cannot change the ${t.store} trust store: ${denied} is not writable by this user; ` +
          `run 'sudo pki trust ${verb} --as-owner --stores ${t.store}'` +
          (stores.length > 1
            ? ` (and the other stores without sudo: --stores ${stores.filter((s) => s !== t.store).join(",")})`
            : ""),
      );
    }
  }
}

type Options = { stores: StoreId[]; home?: string };

/** Installs under the machine-wide trust lock: the stores' tools are not safe to run at once. */
export const install = (cas: TrustCa[], targets: Target[], o: Options): Promise<Outcome[]> =>
  withTrustLock(() => installLocked(cas, targets, o));
export const uninstall = (cas: TrustCa[], targets: Target[], o: Options): Promise<Outcome[]> =>
  withTrustLock(() => uninstallLocked(cas, targets, o));

function installLocked(cas: TrustCa[], targets: Target[], o: Options): Outcome[] {
  const todo = cas.flatMap((ca) => targets.map((t) => ({ ca, t, has: t.has(ca) })));
  checkRights(
    todo.filter((x) => !x.has).map((x) => x.t),
    "install",
    o.stores,
  );
  const out: Outcome[] = [],
    done: Array<{ ca: TrustCa; t: Target }> = [];
  try {
    for (const { ca, t } of todo) {
      // Asked again: an earlier store may have fed this one (Debian's system store also fills Java's cacerts).
      if (t.has(ca)) {
        out.push({ ca: ca.name, store: t.store, where: t.where, action: "already" });
        continue;
      }
      const pre = snapshot(t);
      try {
        t.add(ca);
        if (!t.has(ca))
          throw new StoreError(`the ${t.store} trust store (${t.where}) did not take the CA "${ca.name}"`);
      } catch (e) {
        pre.forEach((f) => restore(f.path, f.bytes));
        throw e;
      }
      done.push({ ca, t });
      const rec: Record = {
        store: t.store,
        where: t.where,
        at: new Date().toISOString(),
        files: pre.map((f) => ({ path: f.path, pre: f.bytes?.toString("base64") ?? null, post: hashOf(f.path) })),
      };
      writeRecords(ca, [...readRecords(ca, o.home), rec], o.home);
      out.push({ ca: ca.name, store: t.store, where: t.where, action: "installed" });
    }
  } catch (e) {
    // Nothing half-done: what this run added goes out again, newest first.
    for (const { ca, t } of done.reverse()) uninstallOne(ca, t, o.home);
    throw e;
  }
  return out;
}

/** Removes pki's entry for `ca` from `t`; gives back the pre-install bytes of every file nobody changed since. */
function uninstallOne(ca: TrustCa, t: Target, home?: string): { changed: number } {
  const records = readRecords(ca, home);
  const i = records.map((r) => r.store === t.store && r.where === t.where).lastIndexOf(true);
  const rec = i >= 0 ? records[i] : undefined;
  const untouched = (rec?.files ?? []).filter((f) => t.files.includes(f.path) && hashOf(f.path) === f.post);
  t.remove(ca);
  for (const f of untouched) restore(f.path, f.pre === null ? null : Buffer.from(f.pre, "base64"));
  if (rec)
    writeRecords(
      ca,
      records.filter((_, j) => j !== i),
      home,
    );
  return { changed: (rec?.files.length ?? 0) - untouched.length };
}

function uninstallLocked(cas: TrustCa[], targets: Target[], o: Options): Outcome[] {
  const present = (ca: TrustCa, t: Target) =>
    t.has(ca) || readRecords(ca, o.home).some((r) => r.store === t.store && r.where === t.where);
  const todo = cas.flatMap((ca) => {
    const recs = readRecords(ca, o.home);
    const order = (t: Target) => recs.map((r) => r.store === t.store && r.where === t.where).lastIndexOf(true);
    // Newest install first: stores that share a file (Debian's hook also feeds cacerts) unwind in order.
    return [...targets].sort((a, b) => order(b) - order(a)).map((t) => ({ ca, t, present: present(ca, t) }));
  });
  checkRights(
    todo.filter((x) => x.present).map((x) => x.t),
    "uninstall",
    o.stores,
  );
  const changed = todo.map(({ ca, t, present: p }) => (p ? uninstallOne(ca, t, o.home).changed : -1));
  // Judged once every store is done: one store's removal may take the CA out of another (Debian's Java hook).
  return todo.map(({ ca, t }, i): Outcome => {
    const base = { ca: ca.name, store: t.store, where: t.where };
    if (t.has(ca))
      return {
        ...base,
        action: "kept",
        note: "still trusted: it was not added by pki (remove it with the store's own tool)",
      };
    if (changed[i] < 0) return { ...base, action: "absent" };
    return {
      ...base,
      action: "removed",
      note: changed[i]
        ? `${changed[i]} file(s) changed by others since install: only pki's entry was removed`
        : undefined,
    };
  });
}

export interface StatusRow {
  ca: string;
  subject: string;
  sha256: string;
  store: StoreId;
  where: string;
  trusted: boolean;
  byPki: boolean;
  constrained: boolean;
}

/** Reads under the lock where it can be taken: never a bundle half-rewritten by another pki. */
export function status(
  cas: Array<TrustCa & { constrained: boolean }>,
  targets: Target[],
  home?: string,
): Promise<StatusRow[]> {
  return withTrustLock(() => statusRows(cas, targets, home), { optional: true });
}

function statusRows(cas: Array<TrustCa & { constrained: boolean }>, targets: Target[], home?: string): StatusRow[] {
  return cas.flatMap((ca) =>
    targets.map((t) => ({
      ca: ca.name,
      subject: ca.subject,
      sha256: ca.sha256,
      store: t.store,
      where: t.where,
      trusted: t.has(ca),
      byPki: readRecords(ca, home).some((r) => r.store === t.store && r.where === t.where),
      constrained: ca.constrained,
    })),
  );
}
