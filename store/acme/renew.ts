/**
 * `pki acme renew-now`: marks ACME certificates (one, all a CA issued, or all) on their orders, so that the
 * server's renewal information (RFC 9773) tells their clients to renew at once — for an incident (a key
 * compromise, a mis-issuance) before anything is revoked. Revoked certificates need no mark: ARI says so already.
 * One write on the record store.
 */
import type { Order } from "../../lib/acme/protocol.js";
import { checkName, InputError } from "../../lib/x509/validate.js";
import type { EntryRecord } from "../records/schema.js";
import { locateDepot, openRecords } from "../depot/locate.js";

export type RenewNowSelection = { name: string } | { issuer: string } | { all: true };
const ROOT = "ca";

interface MarkTx {
  entry(name: string): Promise<EntryRecord | undefined>;
  entries(): Iterable<EntryRecord> | AsyncIterable<EntryRecord>;
  order(id: string): Promise<Order | undefined>;
  put(o: Order): Promise<void> | void;
}

/** Marks the selected certificates; returns the names marked (valid, unrevoked ACME certificates only). */
export async function markRenewNow(flag: string | undefined, sel: RenewNowSelection): Promise<string[]> {
  const at = new Date().toISOString();
  const t = locateDepot(flag);
  const store = await openRecords(t, { write: true });
  try {
    return await store.write((tx) =>
      mark({ entry: (n) => tx.entry(n), entries: () => tx.list(), order: (id) => tx.acmeGet("orders", id),
        put: (o) => tx.acmePut("orders", o) }, sel, at));
  } finally {
    await store.close();
  }
}

async function mark(tx: MarkTx, sel: RenewNowSelection, at: string): Promise<string[]> {
  const chosen: EntryRecord[] = [];
  const known = async (name: string) => {
    const e = await tx.entry(checkName(name));
    if (!e) throw new InputError(`unknown name "${name}": see 'pki list'`);
    return e;
  };
  if ("name" in sel) {
    const e = await known(sel.name);
    if (!e.acme) throw new InputError(`"${sel.name}" was not issued by 'pki acme serve': only its clients ask ARI`);
    if (e.status === "revoked") throw new InputError(`"${sel.name}" is revoked: its clients are told to renew already`);
    chosen.push(e);
  } else {
    if ("issuer" in sel && (await known(sel.issuer)).kind !== "ca") throw new InputError(`"${sel.issuer}" is not a CA`);
    for await (const e of tx.entries())
      if (e.acme && e.status === "signed" && (!("issuer" in sel) || (e.issuer ?? ROOT) === sel.issuer)) chosen.push(e);
  }
  const marked: string[] = [];
  for (const e of chosen) {
    const o = await tx.order(e.acme!.order);
    if (!o) continue;
    await tx.put({ ...o, renewNow: at });
    marked.push(e.name);
  }
  return marked;
}
