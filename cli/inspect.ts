import type { Argv, ArgumentsCamelCase, InferredOptionTypes } from "yargs";
import { PASSPHRASE_OPTIONS, type SecretSource } from "./common.js";

export const command = "inspect <file>";
export const describe =
  "describe a certificate, chain, CSR, CRL, key, PKCS#12 or keystore (PEM or DER; '-' for stdin), and whether the depot's CAs issued it";

const options = {
  ...PASSPHRASE_OPTIONS,
  password: {
    type: "string",
    describe:
      "the PKCS#12 or keystore password (visible to other processes: prefer --password-file, PKI_P12_PASSWORD or PKI_JKS_PASSWORD)",
  },
  "password-file": { type: "string", describe: "read the PKCS#12 or keystore password from the first line of FILE" },
  json: { type: "boolean", describe: "machine-readable output" },
  fingerprint: {
    type: "string",
    choices: ["sha256", "sha1", "sha384", "sha512"],
    describe: "print only the fingerprint(s), hex: of each certificate, CRL, or key's public key",
  },
} as const;

export function builder(y: Argv) {
  return y
    .positional("file", { type: "string", describe: "the file, or '-' for stdin" })
    .options(options)
    .example("$0 inspect web.crt", "subject, issuer, validity, SANs, key, fingerprint; and which depot CA issued it")
    .example("$0 inspect --fingerprint sha256 web.crt", "just the SHA-256 fingerprint")
    .example("$0 inspect --password-file p12pass web.p12", "a PKCS#12: MAC verified, key and certificates described");
}

type Args = ArgumentsCamelCase<InferredOptionTypes<typeof options> & { file: string; depot?: string }>;

export async function handler(a: Args) {
  const { getPassphrase, printJson, readInputBytes } = await import("./common.js");
  const { inspect, storeKind } = await import("../lib/formats/inspect.js");
  const { inspectText, fingerprintLines } = await import("../lib/formats/inspect-text.js");
  // yargs-parser turns a lone "-" positional into "": that is stdin.
  if (a.file === "" && process.argv.includes("-")) a.file = "-";
  const data = a.file === "-" ? await stdinBytes() : readInputBytes(a.file, "the file");
  const kind = storeKind(data);
  const source: SecretSource = {
    option: "password",
    env: kind === "keystore" ? "PKI_JKS_PASSWORD" : "PKI_P12_PASSWORD",
    noun: "password",
  };
  const password = kind ? await getPassphrase(a, `${a.file}`, { optional: true, source }) : undefined;
  const passphrase = kind ? undefined : await getPassphrase(a, `${a.file}`, { optional: true });
  const hash = (a.fingerprint ?? "sha256") as "sha256";
  const item = await inspect(data, { hash, passphrase, password });
  if ((item.kind === "pkcs12" || item.kind === "keystore") && item.store.verified === false) {
    throw new Error(
      `${a.file}: the ${item.kind === "pkcs12" ? "PKCS#12 MAC" : "keystore's integrity digest"} does not verify: wrong password (or a damaged file)`,
    );
  }
  if (a.fingerprint) {
    const lines = fingerprintLines(item, hash);
    if (!lines.length)
      throw new Error(`${a.file}: nothing to fingerprint without the ${kind ? "password" : "passphrase"}`);
    process.stdout.write(lines.map((l) => `${l}\n`).join(""));
    return;
  }
  const depot = await depotVerdicts(a.depot, item, hash);
  if (a.json) {
    const { der: _d, ders: _ds, ...rest } = item as typeof item & { der?: unknown; ders?: unknown };
    return printJson({ ...rest, ...(depot ? { depot } : {}) });
  }
  process.stdout.write(inspectText(item, hash, depot ?? []));
}

/** Lines about the item from the depot's point of view; undefined when there is no depot here. */
async function depotVerdicts(
  flag: string | undefined,
  item: import("../lib/formats/inspect.js").Inspected,
  hash: "sha256",
): Promise<string[] | undefined> {
  const { locateDepot, openRecords } = await import("../store/depot/locate.js");
  const target = locateDepot(flag);
  if (target.kind === "dir" && target.format === "none") return undefined;
  const store = await openRecords(target, { write: false }); // a layout-1 depot: its read-only snapshot
  try {
    return await verdictsOf(await import("../store/depot/inspect.js"), store, item, hash);
  } finally {
    await store.close();
  }
}

/** The verdicts of store/depot/inspect.ts. */
interface Verdicts<D> {
  certVerdicts(d: D, ders: Uint8Array[]): Promise<string[]>;
  crlVerdict(d: D, der: Uint8Array): Promise<string>;
  keyVerdict(d: D, spki: string, hash: "sha256"): string | undefined | Promise<string | undefined>;
}

async function verdictsOf<D>(
  v: Verdicts<D>,
  depot: D,
  item: import("../lib/formats/inspect.js").Inspected,
  hash: "sha256",
): Promise<string[]> {
  const { certVerdicts, crlVerdict, keyVerdict } = v;
  switch (item.kind) {
    case "certificate":
      return certVerdicts(depot, [item.der]);
    case "chain":
      return certVerdicts(depot, item.ders);
    case "pkcs12":
    case "keystore":
      return certVerdicts(depot, item.ders);
    case "crl":
      return [await crlVerdict(depot, item.der)];
    case "key":
      return item.key.key
        ? [
            (await keyVerdict(depot, item.key.key.spkiFingerprint, hash)) ??
              "not the key of any certificate in the depot",
          ]
        : [];
    default:
      return [];
  }
}

async function stdinBytes(): Promise<Buffer> {
  const { readInputBytes } = await import("./common.js");
  return readInputBytes("-", "inspect");
}
