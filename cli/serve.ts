import type { Argv } from "yargs";
import { PASSPHRASE_OPTIONS, UsageError } from "./common.js";
import { bindCrlListener, CRL_LISTEN_OPTION, crlListenFrom, publishCrls } from "./crl-listen.js";
import type { TlsMaterial } from "../lib/tls/server.js";

export const command = "serve";
export const describe =
  "run the etcd guide's HTTPS API (GET /v1/versions) with your certs; a cafile turns on client-cert auth";

/** Where the server's files come from: shared with `pki check`. */
export const SOURCE_OPTIONS = {
  name: { type: "string", describe: "serve NAME's cert and key from the depot (client auth with the depot CA)" },
  config: {
    type: "string",
    describe: "YAML/JSON config with api: {certfile, keyfile, cafile, crlfile} (paths relative to it)",
  },
  certfile: { type: "string", describe: "server certificate PEM (then any intermediates)" },
  keyfile: { type: "string", describe: "server key PEM (ENCRYPTED PRIVATE KEY asks for its passphrase)" },
  cafile: { type: "string", describe: "CA PEM: require client certificates signed by it" },
  crlfile: { type: "string", describe: "PEM CRL: reject revoked client certificates (needs a cafile)" },
  "client-auth": { type: "boolean", describe: "--no-client-auth: HTTPS only, even with a cafile or --name" },
} as const;

export function builder(y: Argv) {
  return y
    .options({ ...SOURCE_OPTIONS, ...PASSPHRASE_OPTIONS, ...CRL_LISTEN_OPTION })
    .options({
      host: { type: "string", default: "127.0.0.1", describe: "address to bind" },
      port: { type: "number", default: 6060, describe: "port to bind (0: any free port, printed when ready)" },
    })
    .conflicts("name", "config")
    .example(
      "$0 serve --certfile server1.crt --keyfile server1.key.insecure",
      "HTTPS: curl --cacert ca.crt -L https://127.0.0.1:6060/v1/versions",
    )
    .example("$0 serve --config etcd.yaml", "api: {certfile, keyfile, cafile}: client certificates required")
    .example(
      "$0 serve --name server1 --passphrase-file pass",
      "server1 from the depot; clients need a cert from the depot CA",
    );
}

/** What `--name`/`--config`/file flags describe; `label` names the server cert in messages. */
export interface Resolved extends TlsMaterial { label: string; caLabel?: string }

/** Resolves the server's files: depot (--name), config (api/*), then flags override. */
export async function resolveServer(a: SourceArgs, purpose = "the server key"): Promise<Resolved> {
  const { readInputFile, getPassphrase } = await import("./common.js");
  const { dirname, resolve } = await import("node:path");
  const { parsePemAll, toPem } = await import("../lib/x509/pem.js");
  const { unlockKeyPem } = await import("../lib/tls/server.js");
  const pemFile = (path: string, what: string, label: RegExp, name = "CERTIFICATE") => {
    const text = readInputFile(path, what);
    if (!parsePemAll(text).some((b) => label.test(b.label)))
      throw new Error(`${what} ${path}: no PEM ${name} block found`);
    return text;
  };
  const files: Record<string, string | undefined> = {};
  let r: Partial<Resolved> = {};
  if (a.name) {
    const { recordsTarget } = await import("./records.js");
    const t = await recordsTarget(a.depot);
    const m = await onRecords(t, a, a.name);
    const chain = m.chainPems ?? [];
    r = {
      label: a.name,
      certPem: m.certPem + chain.slice(0, -1).join(""),
      keyPem: toPem("PRIVATE KEY", m.keyDer!),
      caPem: chain.join("") || undefined,
      caLabel: "the depot CA",
    };
  } else if (a.config) {
    const { parseApiConfig } = await import("../lib/tls/server.js");
    const cfg = parseApiConfig(readInputFile(a.config, "--config"), a.config);
    for (const [k, v] of Object.entries(cfg)) files[k] = resolve(dirname(a.config), v);
  }
  for (const k of ["certfile", "keyfile", "cafile", "crlfile"] as const) if (a[k]) files[k] = a[k];
  if (files.certfile) r.certPem = pemFile(files.certfile, "certfile", /^CERTIFICATE$/), r.label = files.certfile;
  if (files.keyfile)
    r.keyPem = await unlockKeyPem(
      pemFile(files.keyfile, "keyfile", /PRIVATE KEY$/, "PRIVATE KEY"),
      files.keyfile,
      async () => (await getPassphrase(a, `${files.keyfile}`))!,
    );
  if (files.cafile) r.caPem = pemFile(files.cafile, "cafile", /^CERTIFICATE$/), r.caLabel = files.cafile;
  if (files.crlfile) r.crlPem = pemFile(files.crlfile, "crlfile", /^(X509 )?CRL$/, "X509 CRL");
  if (!r.certPem || !r.keyPem)
    throw new UsageError(
      `${a.config ? `${a.config}: api/certfile and api/keyfile are` : "a server cert and key are"} needed: --name NAME, --config FILE, or --certfile and --keyfile`,
    );
  if (a.clientAuth === false) r.caPem = r.crlPem = undefined;
  return r as Resolved;
}

type Args = Awaited<ReturnType<typeof builder>["argv"]> & { depot?: string };
/** What resolveServer reads (`pki check` passes its own arguments): SOURCE_OPTIONS, the passphrase, --depot. */
type SourceArgs = Pick<Args, keyof typeof SOURCE_OPTIONS | "clientAuth" | "passphrase" | "passphraseFile" | "depot">;

export async function handler(a: Args) {
  const port = Number(a.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`invalid --port ${a.port}: expected 0-65535`);
  const crls = await bindCrlListener(a.depot, crlListenFrom(a.crlListen), port);
  const m = await resolveServer(a);
  // The depot's own CRLs, unless a crlfile was given: a test server that accepts a revoked client proves nothing.
  let crlNote = "";
  if (a.name && m.caPem && !m.crlPem) {
    const c = await depotCrls(a.depot, a.name);
    m.crlPem = c.crlPem;
    crlNote = c.crlPem ? `; revoked ones refused (CRL of ${c.issuers.join(", ")})` : "; nothing revoked, no CRL";
  }
  const { startServer, sanWarning } = await import("../lib/tls/server.js");
  const warning = sanWarning(m.certPem, a.host, m.label);
  if (warning) process.stderr.write(`pki: warning: ${warning}\n`);
  // Signal handlers first: a supervisor may signal as soon as it reads the ready line.
  const stopped = new Promise<string>((resolve) => {
    for (const s of ["SIGINT", "SIGTERM"] as const) process.once(s, () => resolve(s));
  });
  if (crls) await publishCrls(crls);
  const s = await startServer({ ...m, host: a.host, port, log: (l) => process.stderr.write(l + "\n") });
  const mode = s.clientAuth
    ? `client certificates required, signed by ${m.caLabel}${crlNote}`
    : "HTTPS only, no client certificates";
  process.stdout.write(`serving ${s.url} (${mode})\n`);
  const sig = await stopped;
  await s.close();
  await crls?.close();
  process.stderr.write(`Stopped by ${sig}\n`); // an info line: no "pki: " (errors and warnings)
}

/** NAME's certificate, chain and opened key on a record store (the passphrase asked again until it opens it). */
async function onRecords(t: import("../store/depot/locate.js").DepotTarget, a: SourceArgs, name: string) {
  const { withStore } = await import("./records.js");
  const { getPassphrase } = await import("./common.js");
  const { exportMaterial } = await import("../store/depot/export.js");
  const { checkKeyPassphrase } = await import("../store/depot/session.js");
  return withStore(t, async (store) => {
    const verify = (p: string) => checkKeyPassphrase(store, name, p);
    return exportMaterial(store, name, (await getPassphrase(a, `the key of "${name}"`, { verify }))!);
  }, { write: false });
}

/** The CRLs of NAME's issuing CAs, from their records. */
async function depotCrls(depot: string | undefined, name: string) {
  const { recordsTarget, withStore } = await import("./records.js");
  const t = await recordsTarget(depot);
  const { clientCrls } = await import("../store/depot/serve-crls.js");
  const { recordsOf } = await import("../store/depot/read.js");
  return withStore(t, (store) => clientCrls(recordsOf(store), name), { write: false });
}
