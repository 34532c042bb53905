/**
 * openDepot: the depot API for programs, on the record store. A depot is a directory holding depot.db, or a
 * postgresql:// URL (the driver loaded only then); a layout-1 depot (depot.json, index.json) is upgraded to
 * depot.db first (store/records/layout1-upgrade.ts), once its passphrase has been checked, so that a wrong one
 * changes nothing. The KDF runs once here: every key of a depot is sealed under its one salt, so the derived key
 * seals each new key and opens each CA key for the session.
 */
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { deriveKey } from "../../lib/formats/kdf.js";
import { InputError } from "../../lib/x509/validate.js";
import { DepotError } from "../fsutil.js";
import { readLayout1 } from "../records/layout1.js";
import { layout1Remains } from "../records/layout1-files.js";
import { upgradeLayout1 } from "../records/layout1-upgrade.js";
import { DB_FILE } from "../records/sqlite-open.js";
import { isPgUrl } from "../records/postgres-conn.js";
import { SqliteStore } from "../records/sqlite.js";
import type { DepotRecord, EntryRecord, RecordStore } from "../records/schema.js";
import { issue, type DepotCert, type IssueOptions, type Issued } from "./issue.js";
import { get, list, listFilter, type ListOptions } from "./read.js";
import { renew, type Renewed, type RenewOptions } from "./renew.js";
import { crl, revoke, type Crl, type CrlOptions, type Revoked, type RevokeOptions } from "./revoke.js";
import type { PinOptions } from "../keys/index.js";
import { tokenKeyUri } from "../keys/ref.js";
import { firstSealedKey, openKey, ROOT, Session } from "./session.js";

export interface OpenDepotOptions {
  /** the depot directory, or its postgresql:// URL (as `pki --depot`) */
  depot: string;
  /** the passphrase of the depot's CA keys: it opens the issuing CA's key and seals every new key */
  passphrase: string;
  /**
   * Accepted for programs written against the release before the switch; a layout-1 depot is now always upgraded
   * (once the passphrase has opened its CA key), as the commands upgrade it when they first write.
   */
  upgrade?: boolean;
  /** a CA key in a PKCS#11 token: where its PIN comes from (default: the URI's pin-source, PKI_PKCS11_PIN_FILE,
   * PKI_PKCS11_PIN; no prompt) */
  pkcs11?: PinOptions;
}

export interface Depot {
  /** the directory, or the URL without its password */
  readonly dir: string;
  issue(name: string, o?: IssueOptions): Promise<Issued>;
  get(name: string): Promise<DepotCert>;
  list(o?: ListOptions): AsyncIterable<EntryRecord>;
  revoke(name: string, o?: RevokeOptions): Promise<Revoked>;
  renew(name: string, o?: RenewOptions): Promise<Renewed>;
  crl(issuer?: string, o?: CrlOptions): Promise<Crl>;
  close(): Promise<void>;
}

export async function openDepot(o: OpenDepotOptions): Promise<Depot> {
  if (typeof o?.depot !== "string" || !o.depot) throw new InputError("openDepot needs { depot: DIR, passphrase }");
  if (typeof o.passphrase !== "string" || !o.passphrase)
    throw new InputError("openDepot needs the depot's passphrase: an empty one protects no key");
  if (isPgUrl(o.depot)) {
    const store = await (await import("../records/postgres.js")).PgStore.open(o.depot);
    return opened(store, store.location, o);
  }
  const dir = resolve(o.depot);
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory())
    throw new InputError(`no depot at ${dir}: run 'pki init' first`);
  const hasDb = existsSync(join(dir, DB_FILE)), layout1 = existsSync(join(dir, "depot.json"));
  if (!hasDb && !layout1) throw new InputError(`no depot at ${dir}: run 'pki init' first`);
  if (!hasDb) await checkLayout1Passphrase(dir, o.passphrase);
  const store: RecordStore = hasDb ? await SqliteStore.open(dir) : (await upgradeLayout1(dir)).store;
  return opened(store, dir, o, hasDb && layout1Remains(dir));
}

/**
 * The session on an opened store once the passphrase opened the CA key (closed if it does not);
 * `finishUpgrade`: depot.db is beside layout-1 files, an upgrade to finish once the passphrase is known good.
 */
async function opened(store: RecordStore, dir: string, o: OpenDepotOptions, finishUpgrade = false): Promise<Depot> {
  try {
    const { depot, rootKey } = await store.read(async (tx) => ({
      depot: await tx.depot(),
      rootKey: await tx.blob({ name: ROOT, kind: "key" }),
    }));
    const kdf = await derive(depot, o.passphrase);
    const sealed = rootKey && !tokenKeyUri(rootKey, "the root CA") ? rootKey : await store.read(firstSealedKey);
    if (sealed) await openKey(sealed, o.passphrase, "the CA key"); // a wrong passphrase stops here
    if (finishUpgrade) {
      // An upgrade that stopped after depot.db committed: upgradeLayout1 finishes moving layout 1 aside.
      await store.close();
      store = (await upgradeLayout1(dir)).store;
    }
    const session = new Session(dir, store, kdf, o.passphrase);
    if (o.pkcs11) session.pin = o.pkcs11;
    return depotOf(session);
  } catch (e) {
    await store.close();
    throw e;
  }
}

export async function derive(d: DepotRecord, passphrase: string) {
  const salt = Buffer.from(d.kdf.salt, "base64");
  return { salt, iterations: d.kdf.iterations, key: Buffer.from(await deriveKey(passphrase, salt, d.kdf.iterations)) };
}

/** Before a layout-1 depot is upgraded: the passphrase opens its CA key (else it stays exactly as it was). */
async function checkLayout1Passphrase(dir: string, passphrase: string): Promise<void> {
  const l1 = readLayout1(dir);
  const key = l1.blobs.find((b) => b.ref.name === ROOT && b.ref.kind === "key" && !b.ref.serial);
  if (!key) return;
  await derive(l1.depot, passphrase); // the one derivation: openKey and the session find it made
  await openKey(key.data, passphrase, "the CA key");
}

function depotOf(s: Session): Depot {
  return {
    dir: s.dir,
    issue: (name, o) => issue(s, name, o),
    get: (name) => get(s, name),
    list: (o) => {
      s.check();
      listFilter(o); // bad filters are refused here, not at the first iteration
      return list(s, o);
    },
    revoke: (name, o) => revoke(s, name, o),
    renew: (name, o) => renew(s, name, o),
    crl: (issuer, o) => crl(s, issuer, o),
    close: () => s.close(),
  };
}

export { DepotError, InputError };
export type {
  Crl, CrlOptions, DepotCert, IssueOptions, Issued, ListOptions, Renewed, RenewOptions, Revoked, RevokeOptions,
};
