/**
 * A CA's CRL URL changed after `pki init` (`pki crl --set-url`), as Vault's `config/urls` is: recorded on the CA's
 * entry, put in the certificates it signs from then on; those already issued keep what they carry. No key is
 * opened: nothing is signed.
 */
import { InputError } from "../../lib/x509/validate.js";
import type { RecordStore } from "../records/schema.js";
import { who } from "./session.js";

/** Records `url` (undefined: none) as CA `ca`'s; returns the URL it had. */
export async function setCrlUrl(store: RecordStore, ca: string, url: string | undefined) {
  return store.write(async (tx) => {
    const e = await tx.entry(ca);
    if (!e) throw new InputError(`unknown name "${ca}": see 'pki list'`);
    if (e.kind !== "ca") throw new InputError(`"${ca}" is not a CA: only a CA's certificates name its CRL`);
    const { crlUrl: was, ...rest } = e;
    await tx.putEntry(url === undefined ? rest : { ...rest, crlUrl: url });
    return { was, who: who(ca) };
  });
}
