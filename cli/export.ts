import type { Argv } from "yargs";
import { getPassphrase, PASSPHRASE_OPTIONS, withOptions, UsageError } from "./common.js";

export const command = "export [name]";
export const describe = "write a tar of the CA (no NAME) or of NAME's cert and key to stdout";

export function builder(y: Argv) {
  return withOptions(y, PASSPHRASE_OPTIONS)
    .positional("name", { type: "string", describe: "certificate name; omit for the CA" })
    .options({
      insecure: { type: "boolean", describe: "export the key unencrypted as NAME.key.insecure (needs its passphrase)" },
      crl: { type: "boolean", describe: "add the latest CRL (made by 'pki crl'): NAME.crl of a CA, else its issuer's, e.g. ca.crl" },
    })
    .example("$0 export | tar xvf -", "ca.crt and ca.key (encrypted, as stored)")
    .example("$0 export --insecure server1 | tar xvf -", "server1.crt and server1.key.insecure");
}

export async function handler(a: any) {
  if (process.stdout.isTTY) throw new UsageError("refusing to write a tar archive to a terminal: pipe it, e.g. 'pki export | tar xvf -'");
  const { openDepot } = await import("./common.js");
  const { exportMembers, needsKey } = await import("../lib/export.js");
  const { tarStream } = await import("../lib/tar.js");
  const depot = await openDepot(a.depot);
  const name = a.name ?? "ca";
  const opts = { insecure: Boolean(a.insecure), crl: Boolean(a.crl) };
  const what = name === "ca" ? "the CA key" : `the key of "${name}"`;
  const passphrase = await getPassphrase(a, what, { optional: !needsKey(opts) });
  const material = await depot.exportMaterial(name, passphrase, { crl: opts.crl });
  const stream = tarStream(exportMembers(material, opts));
  await new Promise<void>((resolve, reject) => {
    stream.on("error", reject);
    process.stdout.on("error", reject);
    stream.pipe(process.stdout, { end: false });
    stream.on("end", resolve);
  });
}
