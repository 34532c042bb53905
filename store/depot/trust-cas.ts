/**
 * What `pki trust` takes from a depot: the CA certificates it names (or, for status and uninstall, every signed
 * CA), and whether a CA's certificate is its key's (a certificate swapped in beside another key is never trusted
 * machine-wide). Read from the record store; the trust stores themselves are store/trust*.ts's.
 */
import { InputError } from "../../lib/x509/validate.js";
import { DepotError } from "../fsutil.js";
import { isKeyOf } from "../../lib/x509/keys.js";
import { tokenKeyUri } from "../keys/ref.js";
import type { RecordStore } from "../records/schema.js";
import { certOf, openKey, ROOT, who } from "./session.js";

export interface DepotCa { name: string; der: ArrayBuffer }

/** The named CAs (default: the root for install, every signed CA otherwise), each a signed CA of the depot. */
export async function trustCas(store: RecordStore, names: string[] | undefined, install: boolean): Promise<DepotCa[]> {
  return store.read(async (tx) => {
    let chosen = names;
    if (!chosen?.length) {
      if (install) chosen = [ROOT];
      else {
        chosen = [];
        for await (const e of tx.list({})) if (e.kind === "ca" && e.status !== "unsigned") chosen.push(e.name);
      }
    }
    const out: DepotCa[] = [];
    for (const n of chosen) {
      const e = await tx.entry(n);
      if (!e) throw new InputError(`unknown name "${n}": see 'pki list'`);
      if (e.kind !== "ca") throw new InputError(`"${n}" is not a CA: only CA certificates go into a trust store`);
      if (e.status === "unsigned") throw new InputError(`the CA "${n}" is not signed yet`);
      out.push({ name: n, der: (await certOf(tx, n)).rawData });
    }
    return out;
  });
}

/** Refuses a CA whose sealed key (when the depot holds one) is not its certificate's key. */
export async function checkTrustCaKey(store: RecordStore, ca: DepotCa, spki: ArrayBuffer, passphrase: string) {
  const der = await store.read((tx) => tx.blob({ name: ca.name, kind: "key" }));
  if (!der || tokenKeyUri(der, who(ca.name))) return; // held elsewhere, or in a token: nothing here to compare
  const keys = await openKey(der, passphrase, ca.name === ROOT ? "the CA key" : `the key of "${ca.name}"`);
  if (!(await isKeyOf(keys, spki)))
    throw new DepotError(`the certificate of the CA "${ca.name}" does not match its key: refusing to trust it`);
}
