/**
 * What stands between `pki trust` and the machine's trust stores: the one machine-wide lock every trust
 * operation holds, and the checks a CA certificate passes before any store is touched.
 *
 * The lock is a file in /run/lock (/var/lock; /tmp where neither is writable): the directory the FHS keeps for
 * lock files, shared by every user and emptied at boot. Every pki that changes or reads a trust store takes
 * it, whichever depot it acts on, because the store tools are not safe to run at once (two
 * update-ca-certificates runs interleave their writes of the one CA bundle). It is store/lock.ts's lock (pid,
 * host, boot id: a dead holder's lock is broken), never handed to a depot's owner by --as-owner.
 */
import { accessSync, constants, existsSync, statSync } from "node:fs";
import { platform, tmpdir } from "node:os";
import { CertInfo } from "../../lib/x509/certinfo.js";
import { acquireLock } from "../lock.js";
import { StoreError } from "./stores.js";

export const TRUST_LOCK_FILE = "pki-trust.lock";

function usableDir(d: string): boolean {
  try {
    if (!statSync(d).isDirectory()) return false;
    accessSync(d, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The directory of the machine-wide trust lock. */
export function trustLockDir(): string {
  if (platform() === "win32") return tmpdir();
  return ["/run/lock", "/var/lock", "/tmp"].find(usableDir) ?? tmpdir();
}

/** A store operation takes seconds (a JVM start, a bundle rebuild): others wait minutes, not the depot's 30 s. */
function trustLockTimeout(): number {
  const t = Number(process.env.PKI_LOCK_TIMEOUT_MS);
  return process.env.PKI_LOCK_TIMEOUT_MS && Number.isFinite(t) && t >= 0 ? t : 300_000;
}

/**
 * Runs `fn` holding the machine-wide trust lock. `optional` (status, which only reads): where the lock cannot be
 * taken for want of rights, `fn` runs without it.
 */
export async function withTrustLock<T>(fn: () => T, o: { optional?: boolean } = {}): Promise<T> {
  const dir = trustLockDir();
  let release: (() => void) | undefined;
  try {
    release = await acquireLock(dir, trustLockTimeout(), {
      file: TRUST_LOCK_FILE,
      outsideDepot: true,
      busy: (holder, path) =>
        `the trust stores are in use by ${holder} (lock ${path}); ` +
        "try again later, or remove the lock if that process is gone",
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (!code) throw e;
    if (o.optional && (code === "EACCES" || code === "EPERM" || code === "EROFS")) return fn();
    const why = code === "EACCES" || code === "EPERM" ? "permission denied" : code;
    throw new StoreError(`cannot take the trust-store lock in ${dir}: ${why}`);
  }
  try {
    return fn();
  } finally {
    release();
  }
}

/**
 * Refuses, before any store is touched, a certificate no trust store should hold: not a CA (basicConstraints
 * CA:TRUE), or outside its validity period (unless `force`: an expired root installed on purpose, to test with).
 */
export function checkTrustable(name: string, der: Uint8Array, o: { force?: boolean; now?: Date } = {}): CertInfo {
  let info: CertInfo;
  try {
    info = new CertInfo(der);
  } catch {
    throw new StoreError(`the certificate of the CA "${name}" cannot be read: run 'pki doctor'`);
  }
  let bc: { ca: boolean } | undefined;
  try {
    bc = info.basicConstraints;
  } catch {
    bc = undefined;
  }
  if (!bc?.ca)
    throw new StoreError(
      `the certificate of "${name}" is not a CA certificate (no basicConstraints CA:TRUE): it cannot be a trust anchor`,
    );
  const now = o.now ?? new Date();
  const day = (d: Date) => d.toISOString().slice(0, 10);
  if (!o.force && now > info.notAfter)
    throw new StoreError(
      `the CA "${name}" expired on ${day(info.notAfter)}: nothing would verify under it; --force installs it anyway`,
    );
  if (!o.force && now < info.notBefore)
    throw new StoreError(
      `the CA "${name}" is not valid before ${day(info.notBefore)}: --force installs it anyway`,
    );
  return info;
}

