import type { Argv } from "yargs";
import { getPassphrase, passphraseAtHand, PASSPHRASE_OPTIONS, UsageError } from "./common.js";
import { SOURCE_OPTIONS } from "./serve.js";

export const command = "check";
export const describe =
  "prove a server cert (and clients) satisfy the etcd guide's HTTPS and client-cert rules, with real handshakes";

export function builder(y: Argv) {
  return y
    .options({ ...SOURCE_OPTIONS, ...PASSPHRASE_OPTIONS })
    .options({
      url: {
        type: "string",
        describe: "check a running server (https://HOST:PORT) instead of serving the files in-process",
      },
      host: {
        type: "string",
        default: "127.0.0.1",
        describe: "address clients use (bound in-process; its IP SAN is checked)",
      },
      domain: { type: "string", array: true, describe: "a DNS name clients use (its DNS SAN is checked; repeatable)" },
      cacert: { type: "string", describe: "the CA the clients trust (default: the cafile / depot CA)" },
      client: { type: "string", describe: "client NAME from the depot" },
      "client-cert": { type: "string", describe: "client certificate PEM" },
      "client-key": { type: "string", describe: "client key PEM" },
      "client-passphrase-file": {
        type: "string",
        describe: "passphrase of the client key (default: the --passphrase sources)",
      },
      "client-p12": { type: "string", describe: "the client as a PKCS#12 bundle (as macOS curl uses it)" },
      "p12-password": { type: "string", describe: "the PKCS#12 bundle's password" },
      "revoked-client": { type: "string", describe: "a revoked client NAME from the depot (with a CRL)" },
      "revoked-client-cert": { type: "string", describe: "a revoked client's certificate PEM" },
      "revoked-client-key": { type: "string", describe: "a revoked client's key PEM" },
      "ca-key": { type: "string", describe: "CA key PEM (files mode) for the expired-client rule" },
      "ca-passphrase-file": {
        type: "string",
        describe:
          "CA key passphrase (default: the passphrase at hand): the expired-client rule signs a throwaway cert",
      },
      json: { type: "boolean", describe: "print the results as JSON" },
    })
    .conflicts("name", "config")
    .conflicts("client", "client-cert")
    .example(
      "$0 check --name server1 --client client1 --passphrase-file pass",
      "serve server1 in-process and run every rule",
    )
    .example(
      "$0 check --certfile server1.crt --keyfile server1.key.insecure --cafile ca.crt --client-cert client1.crt --client-key client1.key.insecure",
      "the same from exported files",
    );
}

type Args = Awaited<ReturnType<typeof builder>["argv"]> & { depot?: string };

export async function handler(a: Args) {
  const needsDepot = a.client || a.revokedClient || a.name || (a.caPassphraseFile && !a.caKey);
  if (!needsDepot) return check(a);
  const { recordsTarget, withStore } = await import("./records.js");
  return withStore(await recordsTarget(a.depot), (store) => check(a, store), { write: false });
}

type Store = import("../store/records/schema.js").RecordStore;

async function check(a: Args, store?: Store) {
  const { readInputBytes, readInputFile, printJson } = await import("./common.js");
  const { resolveServer } = await import("./serve.js");
  const { startServer, unlockKeyPem } = await import("../lib/tls/server.js");
  const { runChecks, formatTable, keyPairFromPem } = await import("../lib/tls/check.js");
  const { checkDomain } = await import("../lib/x509/validate.js");
  const { parseCertPem } = await import("../store/cert-file.js");
  const { toPem } = await import("../lib/x509/pem.js");
  type ClientId = import("../lib/tls/check.js").ClientId;

  const domains = (a.domain ?? []).flatMap((d: string) => String(d).split(",")).filter(Boolean).map(checkDomain);
  const { exportMaterial } = await import("../store/depot/export.js");
  const depot = store && {
    material: (name: string, pass?: string) => exportMaterial(store, name, pass),
    certPem: async (name: string) => (await exportMaterial(store, name)).certPem,
  };
  const clientPass = (what: string) =>
    getPassphrase(a.clientPassphraseFile ? { passphraseFile: a.clientPassphraseFile } : a, what).then((p) => p!);
  const fromDepot = async (name: string): Promise<ClientId> => {
    const m = await depot!.material(name, await clientPass(`the key of "${name}"`));
    return {
      label: name,
      certPem: m.certPem + (m.chainPems ?? []).slice(0, -1).join(""),
      keyPem: toPem("PRIVATE KEY", m.keyDer!),
    };
  };
  const fromFiles = async (cert: string | undefined, key: string | undefined, flag: string): Promise<ClientId> => {
    if (!cert || !key) throw new UsageError(`${flag}-cert and ${flag}-key go together`);
    return {
      label: cert,
      certPem: readInputFile(cert, `${flag}-cert`),
      keyPem: await unlockKeyPem(readInputFile(key, `${flag}-key`), key, () => clientPass(key)),
    };
  };

  // The server: in-process from the files (two instances: HTTPS only, and as configured), or --url.
  let url: URL | undefined;
  if (a.url) {
    try { url = new URL(a.url); } catch { throw new Error(`invalid --url ${a.url}: expected https://HOST:PORT`); }
    if (url.protocol !== "https:") throw new Error(`--url must be https:// (got ${url.protocol})`);
  }
  const server = url ? undefined : await resolveServer(a);
  const certfile = a.certfile;
  const namedPem = !server && !certfile && a.name ? await depot!.certPem(a.name) : undefined;
  const serverCert = server
    ? parseCertPem(server.certPem, server.label)
    : certfile
      ? parseCertPem(readInputFile(certfile, "certfile"), certfile)
      : namedPem
        ? parseCertPem(namedPem, `"${a.name}"`)
        : undefined;
  const caPath = a.cacert ?? (url ? a.cafile : undefined);
  const caPem = caPath
    ? readInputFile(caPath, "--cacert")
    : (server?.caPem ?? (depot ? await depot.certPem("ca") : undefined));
  if (!caPem)
    throw new UsageError(
      "check needs the CA the clients trust: --cacert ca.crt (or --cafile, or --name from the depot)",
    );
  const caLabel = caPath ?? server?.caLabel ?? "the depot CA";

  const client = a.client
    ? await fromDepot(a.client)
    : a.clientCert || a.clientKey
      ? await fromFiles(a.clientCert, a.clientKey, "--client")
      : undefined;
  const revoked = a.revokedClient
    ? await fromDepot(a.revokedClient)
    : a.revokedClientCert || a.revokedClientKey
      ? await fromFiles(a.revokedClientCert, a.revokedClientKey, "--revoked-client")
      : undefined;
  let p12: ClientId | undefined;
  if (a.clientP12) {
    if (a.p12Password === undefined) throw new UsageError("--client-p12 needs --p12-password (the bundle's password)");
    const pfx = readInputBytes(a.clientP12, "--client-p12");
    const { checkPkcs12Kdf } = await import("../lib/formats/read-stores.js");
    checkPkcs12Kdf(pfx, String(a.p12Password), `--client-p12 ${a.clientP12}`);
    p12 = { label: a.clientP12, pfx, password: String(a.p12Password) };
    try {
      (await import("node:tls")).createSecureContext({ pfx: p12.pfx, passphrase: p12.password });
    } catch (e) {
      throw new Error(
        `--client-p12 ${a.clientP12}: ${/mac verify/i.test((e as Error).message) ? "wrong --p12-password" : `not a usable PKCS#12 bundle (${(e as Error).message})`}`,
      );
    }
  }
  let ca:
    | { cert: import("../lib/x509/peculiar.js").x509.X509Certificate; keys: import("../lib/x509/keys.js").KeyPair }
    | undefined;
  // The depot's CA key opens with the passphrase at hand as in every command (PKI_PASSPHRASE_FILE too); with none
  // (only a prompt or stdin could give it) the rule is skipped, never asked for.
  const caSource = a.caPassphraseFile !== undefined ? { passphraseFile: a.caPassphraseFile } : a;
  let caPassphrase = depot && !caPath && !a.caKey && !a.caPassphraseFile ? passphraseAtHand(a) : undefined;
  if (a.caKey || a.caPassphraseFile || caPassphrase) {
    const cert = parseCertPem(caPem, caLabel);
    const caPass = async () => (caPassphrase ??= (await getPassphrase(caSource, "the CA key"))!);
    const keys = a.caKey
      ? await keyPairFromPem(await unlockKeyPem(readInputFile(a.caKey, "--ca-key"), a.caKey, caPass))
      : await keyPairFromPem(toPem("PRIVATE KEY", (await depot!.material("ca", await caPass())).keyDer!));
    const { isKeyOf } = await import("../lib/x509/keys.js");
    if (!(await isKeyOf(keys, cert.publicKey.rawData)))
      throw new Error(`the CA key does not belong to ${caLabel}`);
    ca = { cert, keys };
  }

  const started = server ? await Promise.all([
    startServer({ certPem: server.certPem, keyPem: server.keyPem, host: a.host, port: 0 }),
    startServer({ ...server, host: a.host, port: 0 }),
  ]) : [];
  try {
    const target = (i: number) =>
      url
        ? { host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || 443) }
        : { host: a.host, port: started[i].port, lastRejection: started[i].lastRejection };
    const results = await runChecks({
      https: target(0),
      mtls: target(1),
      external: Boolean(url),
      host: url ? url.hostname.replace(/^\[|\]$/g, "") : a.host,
      domains,
      caPem,
      caLabel,
      serverLabel: server?.label ?? certfile ?? (a.name ? `"${a.name}"` : "the server certificate"),
      serverCert,
      clientAuth: url ? Boolean(client) : Boolean(server!.caPem),
      crl: Boolean(server?.crlPem ?? (url && revoked)),
      client,
      p12,
      revoked,
      ca,
    });
    const ok = results.every((r) => r.result !== "FAIL");
    if (a.json) printJson({ ok, target: url?.href ?? started[1].url, results });
    else process.stdout.write(formatTable(results));
    if (!ok) process.exitCode = 1;
  } finally {
    await Promise.all(started.map((s) => s.close()));
  }
}
