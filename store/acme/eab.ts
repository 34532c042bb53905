/**
 * `pki acme eab add NAME` on the record store: a key id and a 256-bit HMAC key, printed once, kept in the depot
 * (every node sharing it accepts the key, once: the account it registers is bound to it in the same write).
 */
import { randomBytes } from "node:crypto";
import { checkName, InputError } from "../../lib/x509/validate.js";
import { openRecords, type DepotTarget } from "../depot/locate.js";

const ID_RE = /^[\w-]{1,64}$/;

export async function addEabRecord(t: DepotTarget, name: string): Promise<{ kid: string; hmac: string }> {
  checkName(name);
  if (!ID_RE.test(name)) throw new InputError(`invalid EAB name "${name}": use letters, digits, _ and -`);
  const store = await openRecords(t, { write: true });
  try {
    const hmac = randomBytes(32).toString("base64url");
    await store.write(async (tx) => {
      if (await tx.eab(name)) throw new InputError(`an EAB key "${name}" already exists`);
      await tx.putEab({ kid: name, hmac, created: new Date().toISOString() });
    });
    return { kid: name, hmac };
  } finally {
    await store.close();
  }
}
