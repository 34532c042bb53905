import type { Argv } from "yargs";
import {
  EXPORT_PASSWORD_OPTION,
  EXPORT_PASSWORD_SOURCE,
  getPassphrase,
  PASSPHRASE_OPTIONS,
  UsageError,
  type SecretSource,
} from "./common.js";
import type { ExportOptions } from "../lib/formats/export.js";
import type { ExportSource } from "./records.js";

const P12_SOURCE: SecretSource = { option: "p12-password", env: "PKI_P12_PASSWORD", noun: "password" };
const JKS_SOURCE: SecretSource = { option: "jks-password", env: "PKI_JKS_PASSWORD", noun: "password" };
/** Options that mean nothing without another. */
const NEEDS = {
  "p12-password": "p12",
  "p12-password-file": "p12",
  "p12-legacy": "p12",
  "jks-password": "jks",
  "jks-password-file": "jks",
  alias: "jks",
  "keystore-type": "jks",
};

/** What goes into the tar (shared with `pki issue --export`). */
export const EXPORT_OPTIONS = {
  insecure: { type: "boolean", describe: "export the key unencrypted as NAME.key.insecure (needs its passphrase)" },
  "key-format": {
    type: "string",
    choices: ["pkcs8", "pkcs1", "sec1"] as const,
    describe:
      "with --insecure: pkcs1 (RSA PRIVATE KEY) or sec1 (EC PRIVATE KEY) for software that reads only those; encrypted keys are PKCS#8 only",
  },
  crl: {
    type: "boolean",
    describe: "add the latest CRL (made by 'pki crl'): NAME.crl of a CA, else its issuer's, e.g. ca.crl",
  },
  bundle: {
    type: "boolean",
    describe: "add ca.pem (the root; always for the CA) and NAME.chain.pem (NAME's cert, then its issuers)",
  },
  p12: {
    type: "boolean",
    describe: "add NAME.p12 (PKCS#12: key, cert and CA chain; needs NAME's passphrase and a password)",
  },
  "p12-password": {
    type: "string",
    describe: "NAME.p12's password (visible to other processes: prefer --p12-password-file or PKI_P12_PASSWORD)",
  },
  "p12-password-file": { type: "string", describe: "read NAME.p12's password from the first line of FILE" },
  "p12-legacy": {
    type: "boolean",
    describe: "NAME.p12 with 3DES and a SHA-1 MAC (old macOS, Java 8) instead of AES-256 and SHA-256",
  },
  jks: {
    type: "boolean",
    describe: "add NAME.jks, a Java keystore with key and chain (needs NAME's passphrase and a password)",
  },
  "jks-password": {
    type: "string",
    describe:
      "the keystore's store and key password (visible to other processes: prefer --jks-password-file or PKI_JKS_PASSWORD)",
  },
  "jks-password-file": { type: "string", describe: "read the keystore password from the first line of FILE" },
  ...EXPORT_PASSWORD_OPTION,
  alias: { type: "string", describe: "the keystore entry's alias (default NAME; JKS stores it lower-cased)" },
  "keystore-type": {
    type: "string",
    choices: ["jks", "pkcs12"] as const,
    describe: "pkcs12: write the keystore as NAME.ks in PKCS#12 form (default jks)",
  },
} as const;

/** The flags writeExport reads (`pki export`'s and `pki issue --export`'s arguments). */
export interface ExportArgs {
  [k: string]: unknown;
  insecure?: boolean; keyFormat?: "pkcs8" | "pkcs1" | "sec1"; bundle?: boolean; crl?: boolean;
  p12?: boolean; p12Legacy?: boolean; jks?: boolean; alias?: string; keystoreType?: "jks" | "pkcs12";
}

export const command = "export [name]";
export const describe =
  "write a tar of the CA (no NAME) or of NAME's cert and key (and, if asked, .p12, .jks, ca.pem) to stdout";

export function builder(y: Argv) {
  return y
    .options({ ...PASSPHRASE_OPTIONS })
    .positional("name", { type: "string", describe: "certificate name; omit for the CA" })
    .options(EXPORT_OPTIONS)
    .example("$0 export | tar xvf -", "ca.crt, ca.key (encrypted, as stored) and ca.pem")
    .example("$0 export --insecure server1 | tar xvf -", "server1.crt and server1.key.insecure")
    .example(
      "$0 export --insecure --key-format sec1 server1 | tar xvf -",
      "the key as 'EC PRIVATE KEY' for software that reads nothing else",
    )
    .example("$0 export --p12 --p12-password-file p12pass client1 | tar xvf -", "also client1.p12, e.g. for macOS curl")
    .example(
      "$0 export --jks --jks-password-file jkspass --alias razor --bundle server1 | tar xvf -",
      "also server1.jks, ca.pem and server1.chain.pem",
    );
}

type Args = Awaited<ReturnType<typeof builder>["argv"]> & { depot?: string };

/**
 * Refuses what cannot work before any work is done: a tar to a terminal (the hint shows `command`, with the NAME
 * given), an option without the one it needs.
 */
export function checkExportArgs(
  a: ExportArgs,
  command = `pki export${a.name === undefined ? "" : ` ${a.name}`}`,
): void {
  if (process.stdout.isTTY)
    throw new UsageError(`refusing to write a tar archive to a terminal: pipe it, e.g. '${command} | tar xvf -'`);
  for (const [opt, needs] of Object.entries(NEEDS))
    if (a[opt] !== undefined && !a[needs]) throw new UsageError(`--${opt} needs --${needs}`);
  if (a.exportPasswordFile !== undefined && !a.p12 && !a.jks)
    throw new UsageError("--export-password-file needs --p12 or --jks");
  if (a.keyFormat !== undefined && a.keyFormat !== "pkcs8" && !a.insecure)
    throw new UsageError(
      `--key-format ${a.keyFormat} is a traditional, unencrypted PEM: add --insecure (an encrypted key is PKCS#8 only)`,
    );
}

export async function handler(a: Args) {
  checkExportArgs(a);
  const name = a.name ?? "ca";
  const { exportSource, recordsTarget, withStore } = await import("./records.js");
  await withStore(await recordsTarget(a.depot), async (store) => {
    const src = exportSource(store);
    await writeExport(a, src, name);
    if (a.insecure && (await src.kind(name)).ca) caKeyWarning(name);
  }, { write: false });
}

function caKeyWarning(name: string): void {
  process.stderr.write(
    `pki: warning: ${name}.key.insecure is the CA key of "${name}" unencrypted: whoever reads it can issue ` +
      "certificates your clients trust; keep it off shared disks and backups, or export it encrypted\n",
  );
}

/**
 * The passwords NAME's --p12 and --jks ask for: --p12-password(-file) and --jks-password(-file) first, then the one
 * --export-password-file for both, then PKI_P12_PASSWORD / PKI_JKS_PASSWORD or a prompt. `pki issue --export` asks
 * for them before it issues, so that none to hand refuses the command before anything is written.
 */
export async function exportPasswords(a: ExportArgs, name: string): Promise<{ p12?: string; jks?: string }> {
  let shared: Promise<string | undefined> | undefined;
  const password = async (file: string, source: SecretSource, own: unknown[]) =>
    (await (own.some((v) => v !== undefined) || a.exportPasswordFile === undefined
      ? getPassphrase(a, file, { confirm: true, source })
      : (shared ??= getPassphrase(a, file, { source: EXPORT_PASSWORD_SOURCE }))))!;
  const out: { p12?: string; jks?: string } = {};
  if (a.p12) out.p12 = await password(`${name}.p12`, P12_SOURCE, [a.p12Password, a.p12PasswordFile]);
  if (a.jks) {
    const file = `${name}.${a.keystoreType === "pkcs12" ? "ks" : "jks"}`;
    out.jks = await password(file, JKS_SOURCE, [a.jksPassword, a.jksPasswordFile]);
  }
  return out;
}

/**
 * Writes NAME's tar to stdout as the flags in `a` ask; `passphrase` when the caller already has NAME's, `passwords`
 * when it has asked for them (exportPasswords).
 */
export async function writeExport(
  a: ExportArgs, src: ExportSource, name: string, passphrase?: string, passwords?: { p12?: string; jks?: string },
): Promise<void> {
  const { exportMembers, needsKey } = await import("../lib/formats/export.js");
  const { tarStream } = await import("../lib/formats/tar.js");
  const opts: ExportOptions = {
    insecure: Boolean(a.insecure),
    keyFormat: a.keyFormat,
    bundle: Boolean(a.bundle),
    crl: Boolean(a.crl),
    p12: a.p12 ? { password: "", legacy: Boolean(a.p12Legacy) } : undefined,
    jks: a.jks ? { password: "", alias: a.alias, type: a.keystoreType } : undefined,
  };
  if ((await src.kind(name)).external && needsKey(opts))
    throw new Error(`the key of "${name}" is held elsewhere (external key): --insecure, --p12 and --jks need it`);
  const what = name === "ca" ? "the CA key" : `the key of "${name}"`;
  const verify = (p: string) => src.checkPassphrase(name, p);
  passphrase ??= await getPassphrase(a, what, { optional: !needsKey(opts), verify });
  const { p12, jks } = passwords ?? (await exportPasswords(a, name));
  if (opts.p12) opts.p12.password = p12!;
  if (opts.jks) opts.jks.password = jks!;
  const material = await src.material(name, passphrase, { crl: opts.crl });
  const keystores = opts.p12 || opts.jks ? (await import("../lib/formats/keystores.js")).keystoreMembers : undefined;
  const stream = tarStream(exportMembers(material, opts, keystores));
  await new Promise<void>((resolve, reject) => {
    stream.on("error", reject);
    process.stdout.on("error", reject);
    stream.pipe(process.stdout, { end: false });
    stream.on("end", resolve);
  });
}
