/**
 * The commands' depot (a directory holding depot.db, a layout-1 directory, or a postgresql:// URL): where it is,
 * its record store opened for one command, and what export and chain read there.
 */
import type { DepotTarget } from "../store/depot/locate.js";
import type { RecordStore } from "../store/records/schema.js";
import type { ExportMaterial } from "../lib/formats/export.js";

/** The depot `flag` names: a directory (depot.db, or layout 1: read as it is, upgraded by a write) or a URL. */
export async function recordsTarget(flag?: string): Promise<DepotTarget> {
  return (await import("../store/depot/locate.js")).locateDepot(flag);
}

/** Runs `fn` on the depot's record store, closed after it whatever happens. */
export async function withStore<T>(
  t: DepotTarget,
  fn: (store: RecordStore, label: string) => Promise<T>,
  o: { write: boolean } = { write: true },
): Promise<T> {
  const { depotLabel, openRecords } = await import("../store/depot/locate.js");
  const store = await openRecords(t, o); // a read opens a layout-1 depot as it is; a write upgrades it first
  try {
    return await fn(store, await depotLabel(t));
  } finally {
    await store.close();
  }
}

/** What an export reads NAME from (the record store, or what a command just issued into it). */
export interface ExportSource {
  kind(name: string): Promise<{ external: boolean; ca: boolean }>;
  /** refuses (WrongPassphraseError: a prompt asks again) a passphrase that does not open NAME's key */
  checkPassphrase(name: string, passphrase: string): Promise<void>;
  material(name: string, passphrase: string | undefined, o: { crl?: boolean }): Promise<ExportMaterial>;
}

/** A record store as an export's source. */
export function exportSource(store: RecordStore): ExportSource {
  const ops = import("../store/depot/export.js");
  const session = import("../store/depot/session.js");
  return {
    kind: async (name) => (await ops).exportKind(store, name),
    checkPassphrase: async (name, p) => { await (await session).checkKeyPassphrase(store, name, p); },
    material: async (name, passphrase, o) => (await ops).exportMaterial(store, name, passphrase, o),
  };
}

/** `pki chain [NAME]` on a record store: PEM certificates, leaf first, after they verify. */
export async function chain(t: DepotTarget, name: string | undefined, root: boolean): Promise<string> {
  const { caCertificates, verifiedChain } = await import("../store/depot/export.js");
  const certs = await withStore(t, (store) =>
    name === undefined ? caCertificates(store) : verifiedChain(store, name), { write: false },
  );
  const out = name === undefined || root || certs.length === 1 ? certs : certs.slice(0, -1);
  return out.map((c) => c.toString("pem") + "\n").join("");
}
