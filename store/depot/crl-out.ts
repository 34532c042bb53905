/**
 * `pki crl --out DIR`: every CA's latest recorded CRL as DER in DIR, for a web server that is not pki (nginx,
 * Apache, an object store) to serve at the CAs' CRL URLs. The file is named as the URL's last path segment
 * (`http://ca.internal/crl/root.crl` → DIR/root.crl) so that DIR can be the URL's directory as it is; a CA
 * without a URL, or whose segment is no plain file name, gets NAME.crl. Each file is replaced atomically, 0644.
 */
import { chmodSync, statSync } from "node:fs";
import { join } from "node:path";
import { DepotError, writeAtomic } from "../fsutil.js";
import type { Records } from "./session.js";

const SAFE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/;

/** The file a CA's CRL goes to in DIR. */
export function crlFileName(ca: string, crlUrl?: string): string {
  if (crlUrl) {
    try {
      const seg = decodeURIComponent(new URL(crlUrl).pathname.split("/").pop() ?? "");
      if (SAFE.test(seg)) return seg;
    } catch { /* an unreadable URL: the CA's name */ }
  }
  return `${ca}.crl`;
}

/** DIR must be a directory already (refused before anything is signed). */
export function checkOutDir(dir: string): void {
  let isDir = false;
  try { isDir = statSync(dir).isDirectory(); } catch { /* absent */ }
  if (!isDir) throw new DepotError(`--out ${JSON.stringify(dir).slice(0, 80)}: no such directory`);
}

/** Which CA writes which file; two CAs naming one file are refused, nothing written. */
async function plan(s: Records): Promise<Array<{ ca: string; file: string; der?: Uint8Array }>> {
  return s.store.read(async (tx) => {
    const out = [];
    const by = new Map<string, string>();
    for await (const e of tx.list()) {
      if (e.kind !== "ca") continue;
      const file = crlFileName(e.name, e.crlUrl);
      const other = by.get(file);
      if (other) throw new DepotError(`the CRLs of "${other}" and "${e.name}" would both be ${file}: ` +
        `give one of them another URL ('pki crl --issuer NAME --set-url URL')`);
      by.set(file, e.name);
      out.push({ ca: e.name, file, der: (await tx.crl(e.name))?.der });
    }
    return out;
  });
}

/** Checks the files the CAs would write (call before signing): no two CAs on one file. */
export async function checkCrlFiles(s: Records): Promise<void> {
  await plan(s);
}

/** Writes each CA's latest CRL (DER) into DIR; returns the files written. */
export async function writeCrls(s: Records, dir: string): Promise<string[]> {
  s.check();
  const written: string[] = [];
  for (const { file, der } of await plan(s)) {
    if (!der) continue;
    const path = join(dir, file);
    writeAtomic(path, der, 0o644, { outsideDepot: true });
    chmodSync(path, 0o644); // whatever the umask: the web server reads it
    written.push(path);
  }
  return written;
}
