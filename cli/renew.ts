import type { Argv } from "yargs";
import {
  recordsSession,
  getPassphrase,
  KEY_OPTIONS,
  PASSPHRASE_OPTIONS,
  printWarnings,
  UsageError,
} from "./common.js";
import { CSR_OPTION, VALIDITY_OPTIONS } from "./options.js";
import type { KeySpec } from "../lib/x509/keys.js";

export const command = "renew <name>";
export const describe =
  "issue NAME a fresh certificate (new serial, same SANs and profile); the old one is kept in history";

export function builder(y: Argv) {
  return y
    .options({ ...PASSPHRASE_OPTIONS, ...VALIDITY_OPTIONS, ...CSR_OPTION })
    .positional("name", { type: "string", describe: "the certificate's name in the depot" })
    .options({
      expires: {
        type: "string",
        default: "1 year",
        describe: "validity of the new certificate (never past the issuer's own)",
      },
      rekey: {
        type: "boolean",
        describe: "also a new key (same type unless --key-type); the old key is kept in history",
      },
      "key-passphrase-file": {
        type: "string",
        describe: "with --rekey: a passphrase of the new key's own, from FILE ('-': stdin); default: the CA key's",
      },
      "key-type": {
        ...KEY_OPTIONS["key-type"],
        default: undefined,
        describe: "with --rekey: a different key algorithm",
      },
      curve: KEY_OPTIONS.curve,
      "key-bits": KEY_OPTIONS["key-bits"],
    })
    .example("$0 renew --passphrase-file ca.pass web1", "a new certificate for web1's key, valid 1 year")
    .example("$0 renew --rekey --key-passphrase-file web1.pass web1", "a new key and certificate")
    .example(
      "$0 renew --csr web.csr web",
      "an external-key entry: a new request from the key's holder (same subject and SANs)",
    );
}

type Args = Awaited<ReturnType<typeof builder>["argv"]> & { depot?: string };

export async function handler(a: Args) {
  const { expiryFrom, keySpecFrom, notBeforeFrom } = await import("./args.js");
  const notAfter = expiryFrom(a.expires);
  const notBefore = notBeforeFrom(a.notBefore);
  const key = a.keyType !== undefined ? keySpecFrom(a) : undefined;
  if (a.csr !== undefined && a.rekey)
    throw new UsageError("--csr conflicts with --rekey: the request brings the new key");
  return renewOn(a, notAfter(new Date()), notBefore, key);
}

/** A new request from the holder of an external key: verified and validated (its subject and SANs are not used). */
async function requestOf(path: string) {
  const { externalRequestFrom, readCsrInput } = await import("./args.js");
  const req = await externalRequestFrom(await readCsrInput(path), {}, path === "-" ? "the CSR on stdin" : path);
  const { parsePem } = await import("../lib/x509/pem.js");
  const der = parsePem(req.csrPem, "CERTIFICATE REQUEST");
  return { publicKey: req.publicKey, keyType: req.keyType, der };
}

/** The new key made and sealed first, then one write. */
async function renewOn(a: Args, notAfter: Date, notBefore: Date | undefined, key: KeySpec | undefined) {
  const { depotLabel, locateDepot, openRecords } = await import("../store/depot/locate.js");
  const { entryOf, recordsOf } = await import("../store/depot/read.js");
  const { renew } = await import("../store/depot/renew.js");
  const name = String(a.name);
  const t = locateDepot(a.depot);
  const store = await openRecords(t, { write: true });
  let s: Awaited<ReturnType<typeof recordsSession>>;
  let entry: Awaited<ReturnType<typeof entryOf>>;
  try {
    entry = await entryOf(recordsOf(store), name);
    if (entry.external && a.rekey)
      throw new Error(`the key of "${name}" is held elsewhere: renew with --csr FILE (a new request from its holder)`);
    s = await recordsSession(a, await depotLabel(t), store, entry.issuer ?? "ca");
  } catch (e) {
    await store.close();
    throw e;
  }
  try {
    const csr = a.csr === undefined ? undefined : await requestOf(a.csr);
    const keyPassphrase = a.rekey && a.keyPassphraseFile !== undefined
      ? (await getPassphrase({ passphraseFile: a.keyPassphraseFile }, `the new key of "${name}"`))!
      : undefined;
    const r = await renew(s, name, {
      lifetime: notAfter, notBefore, rekey: a.rekey ? key ?? true : undefined, keyPassphrase,
      csr: csr && { der: csr.der, spki: new Uint8Array(csr.publicKey.rawData), keyType: csr.keyType },
    });
    printWarnings(r.warnings);
    process.stderr.write(
      `Renewed "${name}"${a.rekey || csr ? " with a new key" : ""}: serial ${entry.serial} -> ${r.serial}, ` +
        `valid until ${r.notAfter}\n`,
    );
  } finally {
    await s.close();
  }
}
