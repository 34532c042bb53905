/**
 * The OS, NSS and Java trust stores, each driven by its own tool (update-ca-certificates, update-ca-trust,
 * security, certutil, keytool): pki never edits a store's database itself. Every entry pki adds is named
 * after the CA's SHA-256 fingerprint (`pki-<hex>`), so removal touches only what pki added.
 * Here: what every store shares, then the NSS and Java stores; the system store is in system.ts.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  accessSync,
  chmodSync,
  chownSync,
  constants,
  existsSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
} from "node:fs";
import { homedir, platform } from "node:os";
import { basename, delimiter, dirname, join } from "node:path";
import { writeAtomic } from "../fsutil.js";

export type StoreId = "system" | "nss" | "java";
export const STORE_IDS: StoreId[] = ["system", "nss", "java"];

/** A CA as the stores need it: PEM and DER, fingerprints, and the name of pki's entry. */
export interface TrustCa {
  name: string;
  subject: string;
  pem: string;
  der: Buffer;
  sha256: string;
  sha1: string;
}
export const entryName = (ca: TrustCa) => `pki-${ca.sha256}`;

/** One place a store keeps trust: the system store, one NSS database, one cacerts file. */
export interface Target {
  store: StoreId;
  /** where it is, for messages and status (a directory or file) */
  where: string;
  /** files whose bytes the store's tool rewrites: snapshotted so uninstall can give back the exact bytes */
  files: string[];
  /** paths that must be writable to change the store */
  writable: string[];
  has(ca: TrustCa): boolean;
  add(ca: TrustCa): void;
  remove(ca: TrustCa): void;
}

/** A store that cannot be used here, and why (tool missing, nothing found, unsupported OS). */
export interface Unavailable {
  store: StoreId;
  reason: string;
}

export class StoreError extends Error {}

/** Runs `fn` with the CA written to a temp PEM file, for tools that read a file. */
export type WithFile = (ca: TrustCa, fn: (path: string) => void) => void;

/** Runs a store tool; throws StoreError with its first stderr line when it fails. */
export function tool(cmd: string, args: string[], o: { input?: string; ok?: number[] } = {}): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", input: o.input, maxBuffer: 64 << 20 });
  if (r.error)
    throw new StoreError(
      `${cmd}: ${(r.error as NodeJS.ErrnoException).code === "ENOENT" ? "not found" : r.error.message}`,
    );
  if (!(o.ok ?? [0]).includes(r.status ?? -1)) {
    const line =
      `${r.stderr}\n${r.stdout}`
        .split("\n")
        .map((l) => l.trim())
        .find((l) => l && !/^warning\b/i.test(l)) ?? `exit ${r.status}`;
    throw new StoreError(`${basename(cmd)} ${args[0]} failed: ${line}`);
  }
  return r.stdout;
}

export function which(cmd: string): string | undefined {
  for (const d of (process.env.PATH ?? "").split(delimiter)) {
    const p = join(d, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export function isWritable(p: string): boolean {
  try {
    accessSync(existsSync(p) ? p : dirname(p), constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/**
 * Puts `bytes` at `path` (null: removes it) with the owner and mode of the file it replaces (a user's key4.db stays
 * 0600 and theirs, the CA bundle root's and 0644), or as `mode` and the caller's when new: never the depot owner's,
 * whatever --as-owner says, and never the umask's.
 */
export function restore(path: string, bytes: Buffer | string | null, mode = 0o644): void {
  if (bytes === null) {
    rmSync(path, { force: true });
    return;
  }
  const st = existsSync(path) ? statSync(path) : undefined;
  const buf = typeof bytes === "string" ? Buffer.from(bytes) : bytes;
  if (st && sha256(readFileSync(path)) === sha256(buf)) return;
  const m = st ? st.mode & 0o777 : mode;
  writeAtomic(path, buf, m, { outsideDepot: true });
  if (st && (st.uid !== process.getuid?.() || st.gid !== process.getgid?.())) chownSync(path, st.uid, st.gid);
  if ((statSync(path).mode & 0o777) !== m) chmodSync(path, m);
}

// ---- NSS --------------------------------------------------------------------

/** ~/.pki/nssdb (Chrome/Chromium on Linux) and every Firefox profile holding a cert9.db. */
export function nssDatabases(home = homedir()): string[] {
  const dbs = [join(home, ".pki", "nssdb")];
  for (const root of [
    join(home, ".mozilla", "firefox"),
    join(home, "snap", "firefox", "common", ".mozilla", "firefox"),
    join(home, "Library", "Application Support", "Firefox", "Profiles"),
  ]) {
    let names: string[] = [];
    try {
      names = readdirSync(root);
    } catch {
      continue;
    }
    for (const n of names) dbs.push(join(root, n));
  }
  return dbs.filter((d) => existsSync(join(d, "cert9.db")));
}

function nssTarget(certutil: string, dir: string, withFile: WithFile): Target {
  const db = `sql:${dir}`;
  const files = ["cert9.db", "key4.db", "pkcs11.txt"].map((f) => join(dir, f)).filter(existsSync);
  return {
    store: "nss",
    where: dir,
    files,
    writable: [dir, ...files],
    has: (ca) => {
      const r = spawnSync(certutil, ["-L", "-d", db, "-n", entryName(ca), "-a"], { encoding: "utf8" });
      return r.status === 0 && r.stdout.replace(/\s/g, "").includes(ca.der.toString("base64"));
    },
    add: (ca) => withFile(ca, (f) => tool(certutil, ["-A", "-d", db, "-t", "C,,", "-n", entryName(ca), "-i", f])),
    remove: (ca) => {
      if (spawnSync(certutil, ["-L", "-d", db, "-n", entryName(ca)]).status === 0)
        tool(certutil, ["-D", "-d", db, "-n", entryName(ca)]);
    },
  };
}

export function nssTargets(withFile: WithFile, home = homedir()): Target[] | Unavailable {
  const certutil = platform() === "win32" ? undefined : which("certutil");
  if (!certutil)
    return {
      store: "nss",
      reason: "certutil not found: install libnss3-tools (Debian/Ubuntu), nss-tools (Fedora/RHEL) or nss (Homebrew)",
    };
  const dbs = nssDatabases(home);
  if (!dbs.length)
    return {
      store: "nss",
      reason: `no NSS database found (${join(home, ".pki", "nssdb")} or a Firefox profile): start Chrome or Firefox once`,
    };
  return dbs.map((d) => nssTarget(certutil, d, withFile));
}

// ---- Java -------------------------------------------------------------------

/** The JDK of JAVA_HOME, else of the `java` on PATH: its keytool and cacerts file. */
export function javaHome(): { keytool: string; cacerts: string; modern: boolean } | Unavailable {
  let home = process.env.JAVA_HOME;
  if (!home) {
    const java = which("java");
    if (!java) return { store: "java", reason: "no JDK found: set JAVA_HOME or put java on PATH" };
    home = dirname(dirname(realpathSync(java)));
  }
  const keytool = join(home, "bin", platform() === "win32" ? "keytool.exe" : "keytool");
  if (!existsSync(keytool)) return { store: "java", reason: `no keytool in ${home}/bin: JAVA_HOME must name a JDK` };
  const modern = existsSync(join(home, "lib", "security", "cacerts"));
  const cacerts = modern ? join(home, "lib", "security", "cacerts") : join(home, "jre", "lib", "security", "cacerts");
  if (!existsSync(cacerts)) return { store: "java", reason: `no cacerts under ${home}` };
  return { keytool, cacerts: realpathSync(cacerts), modern };
}

export function javaTarget(withFile: WithFile): Target | Unavailable {
  const jdk = javaHome();
  if ("reason" in jdk) return jdk;
  const pass = process.env.PKI_CACERTS_PASSWORD ?? "changeit";
  // JDK 9+: keytool -cacerts (the JDK's own store, no warning); JDK 8: -keystore jre/lib/security/cacerts.
  const ks = [...(jdk.modern ? ["-cacerts"] : ["-keystore", jdk.cacerts]), "-storepass", pass];
  const colon = (hex: string) => hex.toUpperCase().match(/../g)!.join(":");
  // One JVM start per listing, not per question: cached while the file (by mtime and size) stays the same.
  let cache: { key: string; text: string } | undefined;
  const listing = () => {
    const st = statSync(jdk.cacerts),
      key = `${st.mtimeMs}:${st.size}`;
    if (cache?.key !== key) cache = { key, text: tool(jdk.keytool, ["-list", ...ks]) };
    return cache.text;
  };
  return {
    store: "java",
    where: jdk.cacerts,
    files: [jdk.cacerts],
    writable: [jdk.cacerts],
    has: (ca) => listing().includes(colon(ca.sha256)),
    add: (ca) =>
      withFile(ca, (f) => tool(jdk.keytool, ["-importcert", "-noprompt", ...ks, "-alias", entryName(ca), "-file", f])),
    remove: (ca) => {
      if (spawnSync(jdk.keytool, ["-list", ...ks, "-alias", entryName(ca)]).status === 0)
        tool(jdk.keytool, ["-delete", ...ks, "-alias", entryName(ca)]);
    },
  };
}
