import type { Argv } from "yargs";
import { PASSPHRASE_OPTIONS, recordsSession } from "./common.js";

export const command = "crl";
export const describe = "sign a new CRL of the certificates a CA revoked; writes it to the depot and to stdout (PEM)";

export function builder(y: Argv) {
  return y
    .options(PASSPHRASE_OPTIONS)
    .options({
      issuer: { type: "string", default: "ca", describe: "the CA whose CRL to sign (the root or an intermediate)" },
      "next-update": {
        type: "string",
        default: "30d",
        describe: "when relying parties should fetch the next CRL: '30d', '12h', or a date",
      },
      "set-url": {
        type: "string",
        describe: "record the CA's http:// CRL URL, for what it signs from now on ('none': no URL); signs no CRL",
      },
      out: {
        type: "string",
        describe: "also write every CA's latest CRL as DER into this directory, for a web server",
      },
    })
    .example("$0 crl --passphrase-file ca.pass > ca.crl", "the root's CRL, valid 30 days")
    .example("$0 crl --issuer issuing --next-update 7d", "the CRL of the intermediate 'issuing'")
    .example("$0 crl --out /var/www/crl", "sign, then write each CA's CRL (DER) as the last segment of its URL");
}

type Args = Awaited<ReturnType<typeof builder>["argv"]> & { depot?: string };

export async function handler(a: Args) {
  const { expiryFrom } = await import("./args.js");
  const { checkName } = await import("../lib/x509/validate.js");
  const nextUpdate = expiryFrom(String(a.nextUpdate));
  const issuer = checkName(a.issuer);
  if (a.setUrl !== undefined) return (await import("./crl-url.js")).setUrl(a.depot, issuer, a.setUrl);
  return signCrl(a, issuer, nextUpdate(new Date()));
}

/** The CRL signed and recorded as the issuer's latest in one write. */
async function signCrl(a: Args, issuer: string, nextUpdate: Date) {
  const { depotLabel, locateDepot, openRecords } = await import("../store/depot/locate.js");
  const { entryOf, recordsOf } = await import("../store/depot/read.js");
  const { crl } = await import("../store/depot/revoke.js");
  const out = a.out === undefined ? undefined : await import("../store/depot/crl-out.js");
  if (out) out.checkOutDir(String(a.out));
  const t = locateDepot(a.depot);
  const store = await openRecords(t, { write: true });
  const s = await (async () => {
    try {
      await entryOf(recordsOf(store), issuer); // an unknown issuer is refused before the passphrase is asked
      await out?.checkCrlFiles(recordsOf(store));
      return await recordsSession(a, await depotLabel(t), store, issuer);
    } catch (e) {
      await store.close();
      throw e;
    }
  })();
  try {
    const r = await crl(s, issuer, { nextUpdate });
    process.stdout.write(r.pem);
    process.stderr.write(
      `CRL #${r.number} of "${issuer}": ${r.revoked} revoked, next update ${r.nextUpdate.toISOString()}; ` +
        `recorded in ${await depotLabel(t)}\n`,
    );
    for (const f of (await out?.writeCrls(s, String(a.out))) ?? []) process.stderr.write(`Wrote ${f}\n`);
  } finally {
    await s.close();
  }
}
