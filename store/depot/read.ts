/**
 * `depot.get(name)` and `depot.list(filter)`: an entry with its certificate and encrypted key, and the entries a
 * filter selects, streamed page by page (the database answers each filter with an index: 100,000 entries never
 * sit in memory at once).
 */
import { parseDurationMs } from "../../lib/x509/duration.js";
import { toPem } from "../../lib/x509/pem.js";
import { checkName, InputError } from "../../lib/x509/validate.js";
import { tokenKeyUri } from "../keys/ref.js";
import type { Entry, EntryRecord, ListFilter, ReadTx, RecordStore, Status } from "../records/schema.js";
import type { DepotCert } from "./issue.js";
import { validityState, type ValidityState } from "../../lib/x509/validity.js";
import { ROOT } from "../records/schema.js";
import type { Records } from "./session.js";

export interface ListOptions {
  status?: Status;
  /** certificates whose notAfter falls before now + this ("30d", or milliseconds); expired ones included */
  expiringWithin?: string | number;
  /** issued by this CA ("ca": the root) */
  issuer?: string;
}

/** The store as the operations that open no key take it (read.ts, revoke, rm): no passphrase, no KDF. */
export const recordsOf = (store: RecordStore): Records => ({ store, check: () => undefined });

/** An entry's state as `pki list` shows it: unsigned, valid, expired, not-yet-valid or revoked. */
export function stateOf(e: Entry, now = new Date()): "unsigned" | ValidityState {
  if (e.status === "unsigned") return "unsigned";
  const date = (s?: string) => (s ? new Date(s) : undefined);
  return validityState(date(e.notBefore), date(e.notAfter), e.status === "revoked", now);
}

const STATUSES: Status[] = ["unsigned", "signed", "revoked"];

/** NAME's record and its past certificates, read in `tx`. */
async function entryIn(tx: ReadTx, name: string): Promise<Entry> {
  const e = await tx.entry(name);
  if (!e) throw new InputError(`unknown name "${name}": see 'pki list'`);
  const history = await tx.history(name);
  return { ...e, ...(history.length ? { history } : {}) };
}

export async function get(s: Records, name: string): Promise<DepotCert> {
  s.check();
  checkName(name);
  return s.store.read(async (tx) => {
    const e = await entryIn(tx, name);
    const cert = await tx.blob({ name, kind: "cert" });
    const key = await tx.blob({ name, kind: "key" });
    return {
      ...e,
      ...(cert && e.status !== "unsigned" ? { certificate: toPem("CERTIFICATE", cert) } : {}),
      ...keyFields(key, name),
    };
  });
}

/** A sealed key as PEM, or the URI of a key held in a token. */
export function keyFields(key: Uint8Array | undefined, name: string): { key?: string; keyUri?: string } {
  if (!key) return {};
  const keyUri = tokenKeyUri(key, `"${name}"`);
  return keyUri ? { keyUri } : { key: toPem("ENCRYPTED PRIVATE KEY", key) };
}

/** The filter as the records store takes it, checked as `pki list`'s flags are. */
export function listFilter(o: ListOptions = {}, now = Date.now()): ListFilter {
  const f: ListFilter = {};
  if (o.status !== undefined) {
    if (!STATUSES.includes(o.status))
      throw new InputError(`unknown status ${JSON.stringify(o.status)}: use ${STATUSES.join(", ")}`);
    f.status = o.status;
  }
  if (o.expiringWithin !== undefined) {
    let ms: number;
    try {
      ms = typeof o.expiringWithin === "number" ? o.expiringWithin : parseDurationMs(String(o.expiringWithin));
    } catch (e) {
      throw new InputError((e as Error).message);
    }
    if (!Number.isFinite(ms) || ms < 0)
      throw new InputError(`invalid expiringWithin ${JSON.stringify(o.expiringWithin)}: a duration like "30d"`);
    f.expiringBefore = new Date(now + ms);
  }
  if (o.issuer !== undefined) f.issuer = checkName(o.issuer);
  return f;
}

export async function* list(s: Records, o: ListOptions = {}): AsyncGenerator<EntryRecord> {
  s.check();
  const f = listFilter(o);
  for await (const e of s.store.list(f)) yield e;
}

/**
 * `pki list` and `pki status`'s order: unfiltered, the root first and then by name (the database's order, byte by
 * byte); filtered, the order the filter's index gives (by notAfter with `expiringWithin`).
 */
export async function* listed(s: Records, o: ListOptions = {}): AsyncGenerator<EntryRecord> {
  const f = listFilter(o);
  const plain = !Object.keys(f).length;
  if (plain) {
    const root = await s.store.read((tx) => tx.entry(ROOT));
    if (root) yield root;
  }
  for await (const e of list(s, o)) if (!plain || e.name !== ROOT) yield e;
}

/** NAME's entry with its past certificates (`pki status NAME`). */
export async function entryOf(s: Records, name: string): Promise<Entry & { keyUri?: string }> {
  s.check();
  checkName(name);
  return s.store.read(async (tx) => {
    const e = await entryIn(tx, name);
    const key = e.kind === "ca" ? await tx.blob({ name, kind: "key" }) : undefined;
    const keyUri = key && tokenKeyUri(key, `"${name}"`);
    return { ...e, ...(keyUri ? { keyUri } : {}) };
  });
}
