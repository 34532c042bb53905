/**
 * `pki backup FILE` and `pki restore FILE DIR`. A backup is SQLite's online backup of depot.db (store.backup: a
 * consistent snapshot while other processes keep issuing), one file, mode 0600, never over an existing file. A
 * restore makes a new depot of it in an absent or empty directory: the file is copied in, opened with every check a
 * depot.db gets (its header, pki's application_id, its schema, the rows it holds) and removed again if it fails.
 */
import {
  chmodSync, closeSync, constants, copyFileSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, rmdirSync,
  rmSync, statSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { InputError } from "../../lib/x509/validate.js";
import { DepotError, tempName } from "../fsutil.js";
import { checkNewDepotDir } from "../ownership.js";
import { DB_FILE } from "../records/sqlite-open.js";
import { SqliteStore } from "../records/sqlite.js";
import { hintKdf } from "../records/kdf-hint.js";
import { depotPresence } from "../records/presence.js";
import { openRecords, type DepotTarget } from "./locate.js";

export async function backupDepot(t: DepotTarget, file: string): Promise<{ entries: number; file: string }> {
  const out = resolve(file);
  if (t.kind === "dir" && t.format === "layout1")
    throw new InputError(`${t.dir} is a layout-1 depot: copy its directory while no command runs (tar -C ${t.dir} ` +
      "-czf FILE .), or let a command that writes upgrade it to depot.db first");
  if (existsSync(out)) throw new InputError(`${out} already exists: back up to a new file`);
  const store = await openRecords(t, { write: false });
  try {
    const entries = await store.read((tx) => tx.count());
    await store.backup(out);
    return { entries, file: out };
  } finally {
    await store.close();
  }
}

export async function restoreDepot(file: string, dir: string): Promise<{ entries: number; dir: string }> {
  const src = resolve(file), to = resolve(dir);
  const st = statSync(src, { throwIfNoEntry: false });
  if (!st) throw new InputError(`cannot read ${file}: not found`);
  if (!st.isFile()) throw new InputError(`${file} is not a regular file`);
  if (depotPresence(to).kind === "depot")
    throw new InputError(`a depot already exists in ${to}: restore into a new directory`);
  const made = !checkNewDepotDir(to);
  if (made) mkdirSync(to, { recursive: true, mode: 0o700 });
  const db = join(to, DB_FILE), tmp = tempName(db);
  let store: SqliteStore | undefined;
  try {
    copyFileSync(src, tmp, constants.COPYFILE_EXCL);
    chmodSync(tmp, 0o600);
    const fd = openSync(tmp, constants.O_RDWR | constants.O_NOFOLLOW);
    try { fsyncSync(fd); } finally { closeSync(fd); }
    linkSync(tmp, db); // never over a depot.db: the directory held no depot
    rmSync(tmp, { force: true });
    store = await SqliteStore.open(to).catch((e: Error) => {
      throw new DepotError(`${file} is not a pki backup (${e.message.replace(/: run 'pki doctor'$/, "")})`);
    });
    const { entries, kdf } = await store.read(async (tx) => {
      const { kdf } = await tx.depot();
      let n = 0;
      for await (const e of tx.list()) if (e) n++;
      return { entries: n, kdf };
    });
    hintKdf(to, kdf);
    return { entries, dir: to };
  } catch (e) {
    await store?.close();
    store = undefined;
    for (const f of [tmp, db, `${db}-wal`, `${db}-shm`]) rmSync(f, { force: true });
    if (made) rmdirSync(to, { maxRetries: 0 });
    throw e;
  } finally {
    await store?.close();
  }
}
