/**
 * The ACME state `pki acme serve` and `pki acme eab add` work on: the record store of the depot a command names
 * (store/acme/serve.ts, state.ts; a layout-1 directory is upgraded to depot.db first, as by any write).
 */
import type { AcmeBackend } from "../../lib/acme/backend.js";
import type { x509 } from "../../lib/x509/peculiar.js";
import { locateDepot } from "../depot/locate.js";
import type { Session } from "../depot/session.js";
import type { AcmeServeOptions } from "./serve.js";

export type { AcmeServeOptions };
export interface AcmeServing {
  state: AcmeBackend;
  issuerPath: x509.X509Certificate[];
  names: string[];
  certPem: string;
  keyPem: string;
  created: boolean;
  /** The record store's session holding the issuer's key (what re-signs CRLs). */
  session?: Session;
  /** Once the server stopped: the store's connections closed, the keys held in memory dropped. */
  close(): Promise<void>;
}

/** Opens the depot `flag` names; `passphrase` is asked once the issuer is known to be there. */
export async function openAcmeServe(
  flag: string | undefined, o: AcmeServeOptions, passphrase: () => Promise<string>,
): Promise<AcmeServing> {
  const t = locateDepot(flag);
  const { openServeStore, openRecordAcme, sessionOn } = await import("./serve.js");
  const { store, label } = await openServeStore(t, o.issuer);
  try {
    const pass = await passphrase();
    const s = await sessionOn(store, label, pass);
    return { ...(await openRecordAcme(s, { ...o, passphrase: pass })), session: s, close: () => s.close() };
  } catch (e) {
    await store.close();
    throw e;
  }
}

/** `pki acme eab add NAME`: a new key id and HMAC key, in whichever depot `flag` names. */
export async function addEab(flag: string | undefined, name: string): Promise<{ kid: string; hmac: string }> {
  const t = locateDepot(flag);
  return (await import("./eab.js")).addEabRecord(t, name);
}
