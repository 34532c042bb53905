import type { Argv } from "yargs";
import { PASSPHRASE_OPTIONS, UsageError } from "./common.js";
import { bindCrlListener, CRL_LISTEN_OPTION, crlListenFrom, publishCrls } from "./crl-listen.js";

const CRL_LISTEN_DESCRIBE = CRL_LISTEN_OPTION["crl-listen"].describe;

export const command = "acme <action> [args..]";
export const describe =
  "an ACME (RFC 8555) CA for certbot, lego, cert-manager: 'pki acme serve', 'pki acme eab add NAME', " +
  "'pki acme renew-now NAME|--issuer CA|--all'";

const SERVE_OPTIONS = {
  host: { type: "string", default: "127.0.0.1", describe: "serve: address to bind" },
  port: { type: "number", default: 8443, describe: "serve: HTTPS port (0: any free port)" },
  issuer: {
    type: "string",
    describe: "serve: the depot CA that signs (the root or an intermediate; default: ca); renew-now: what it issued",
  },
  all: { type: "boolean", describe: "renew-now: every certificate the server issued" },
  allow: {
    type: "string",
    describe: "serve: names it may certify: web.internal, *.svc.internal (any name under), 10.0.0.0/8 (default: any)",
  },
  "cert-lifetime": {
    type: "string",
    default: "7d",
    describe: "serve: lifetime of issued certificates ('7d', '36h', '90d')",
  },
  eab: {
    type: "boolean",
    default: false,
    describe: "serve: only holders of an external account binding key may register",
  },
  "http-01-port": { type: "number", default: 80, describe: "serve: port http-01 validation connects to" },
  "tls-alpn-01-port": { type: "number", default: 443, describe: "serve: port tls-alpn-01 validation connects to" },
  resolve: { type: "string", describe: "serve: name=ip: validate NAME at IP (repeatable; a test network without DNS)" },
  "dns-resolver": {
    type: "string",
    describe: "serve: IP[:PORT] dns-01 asks for TXT records (repeatable; default: the system's resolvers)",
  },
  "external-url": {
    type: "string",
    describe: "serve: https://HOST[:PORT] clients reach it by (behind a proxy): links use it, never the Host header",
  },
  "tls-name": {
    type: "string",
    default: "acme-server",
    describe: "serve: depot entry of the server's own TLS certificate (made on first start)",
  },
} as const;

export function builder(y: Argv) {
  return y
    .options(SERVE_OPTIONS)
    .options(PASSPHRASE_OPTIONS)
    .options({ "crl-listen": { ...CRL_LISTEN_OPTION["crl-listen"], describe: `serve: ${CRL_LISTEN_DESCRIBE}` } })
    .options({
      "crl-next-update": {
        type: "string",
        default: "7d",
        describe: "serve: validity of the CRLs it re-signs itself for its CRL listener (at half of it, or if none)",
      },
    })
    .positional("action", {
      choices: ["serve", "eab", "renew-now"] as const,
      describe: "serve, eab add NAME, or renew-now NAME|--issuer CA|--all",
    })
    .positional("args", { type: "string", array: true, describe: "eab: add NAME; renew-now: NAME" })
    .example(
      "$0 acme serve --allow '*.svc.internal,10.0.0.0/8' --eab",
      "an ACME CA for a private network; prints its directory URL",
    )
    .example("$0 acme eab add ci-runners", "a key id and HMAC key for one client (printed once)")
    .example("$0 acme renew-now --issuer inter", "ARI tells the clients of what inter issued to renew now");
}

type Args = Awaited<ReturnType<typeof builder>["argv"]> & { depot?: string };

export async function handler(a: Args) {
  if (a.action === "serve") {
    if (a.args?.length)
      throw new UsageError(`unexpected argument ${JSON.stringify(String(a.args[0]))}; usage: pki acme serve [options]`);
    return serve(a);
  }
  if (a.action === "renew-now") return renewNow(a);
  if (a.args?.[0] !== "add" || a.args.length !== 2) throw new UsageError("usage: pki acme eab add NAME");
  return eabAdd(a.depot, String(a.args[1]));
}

const port = (v: unknown, flag: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`invalid --${flag} ${v}: expected 0-65535`);
  return n;
};

async function serve(a: Args) {
  const { getPassphrase, last } = await import("./common.js");
  const { splitList, checkIp, checkDomain } = await import("../lib/x509/validate.js");
  const { parsePolicy, AcmeProblem } = await import("../lib/acme/protocol.js");
  const { expiryFrom } = await import("./args.js");
  const { dnsServer } = await import("../lib/acme/dns01.js");
  const p = {
    port: port(a.port, "port"),
    http: port(a.http01Port, "http-01-port"),
    alpn: port(a.tlsAlpn01Port, "tls-alpn-01-port"),
  };
  const resolve: Record<string, string> = {};
  for (const r of splitList(a.resolve)) {
    const [name, ip] = r.split("=");
    if (!name || !ip) throw new Error(`invalid --resolve ${r}: expected name=ip`);
    resolve[checkDomain(name).toLowerCase()] = checkIp(ip);
  }
  const dnsServers = splitList(a.dnsResolver).map((v) => {
    const server = dnsServer(v);
    if (!server) throw new UsageError(`invalid --dns-resolver ${JSON.stringify(v).slice(0, 60)}: expected IP[:PORT]`);
    return server;
  });
  let policy;
  try {
    policy = parsePolicy(splitList(a.allow));
  } catch (e) {
    throw new Error(e instanceof AcmeProblem ? e.detail : (e as Error).message);
  }
  const external = a.externalUrl === undefined ? undefined : externalUrl(String(last(a.externalUrl)));
  const now = new Date();
  const lifetimeMs = expiryFrom(String(last(a.certLifetime)))(now).getTime() - now.getTime();
  const issuer = a.issuer ?? "ca";
  const crlListen = crlListenFrom(a.crlListen);
  const crlNextUpdate = String(last(a.crlNextUpdate));
  expiryFrom(crlNextUpdate); // a bad duration is refused before the passphrase is read
  const crls = await bindCrlListener(a.depot, crlListen, p.port);
  const { startAcmeServer, probeListen } = await import("../lib/acme/server.js");
  const { DEADLINE_MS } = await import("../lib/acme/challenges.js");
  const { openAcmeServe } = await import("../store/acme/open.js");
  const setup = {
    issuer,
    lifetimeMs,
    host: a.host,
    tlsName: a.tlsName,
    externalHost: external && new URL(external).hostname.replace(/^\[|\]$/g, ""),
  };
  const m = await openAcmeServe(a.depot, setup, async () => {
    const pass = (await getPassphrase(a, issuer === "ca" ? "the CA key" : `the key of the CA "${issuer}"`))!;
    await probeListen(a.host, p.port).catch((e) => {
      throw new Error(e instanceof AcmeProblem ? e.detail : String(e));
    });
    return pass;
  }).catch(async (e) => { await crls?.close(); throw e; });
  if (m.created) process.stderr.write(`Made the server's TLS certificate "${a.tlsName}" in the depot\n`);
  const log = (l: string) => process.stderr.write(l + "\n");
  const stopped = new Promise<string>((r) => {
    for (const s of ["SIGINT", "SIGTERM"] as const) process.once(s, () => r(s));
  });
  const s = await startAcmeServer(m.state, {
    host: a.host,
    port: p.port,
    certPem: m.certPem,
    keyPem: m.keyPem,
    names: m.names,
    externalUrl: external,
    policy,
    issuerPath: m.issuerPath,
    eab: a.eab,
    log,
    validation: {
      httpPort: p.http,
      tlsAlpnPort: p.alpn,
      resolve,
      dnsServers,
      deadlineMs: testDeadline() ?? DEADLINE_MS,
    },
  }).catch(async (e) => {
    await crls?.close();
    await m.close();
    throw new Error(e instanceof AcmeProblem ? e.detail : String(e));
  });
  if (crls) await publishCrls(crls, m.session && { session: m.session, nextUpdate: crlNextUpdate, log });
  process.stdout.write(`ACME directory: ${s.url}\n`);
  const sig = await stopped;
  await crls?.close();
  await s.close();
  await m.close();
  process.stderr.write(`Stopped by ${sig}\n`); // an info line: no "pki: " (errors and warnings)
  process.exit(0);
}

/** --external-url: an https origin (no path, query or credentials), its host a valid name or address. */
function externalUrl(v: string): string {
  const bad = () =>
    new UsageError(`invalid --external-url ${JSON.stringify(v).slice(0, 80)}: expected https://HOST[:PORT]`);
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw bad();
  }
  if (u.protocol !== "https:" || u.username || u.password || u.search || u.hash || !["", "/"].includes(u.pathname))
    throw bad();
  return u.origin;
}

/** PKI_TEST_ONLY_ACME_DEADLINE_MS: a shorter validation deadline (100 ms to the default), so tests need not wait. */
function testDeadline(): number | undefined {
  const v = process.env.PKI_TEST_ONLY_ACME_DEADLINE_MS;
  const n = Number(v);
  return v && Number.isInteger(n) && n >= 100 && n <= 10_000 ? n : undefined;
}

async function eabAdd(depotFlag: string | undefined, name: string) {
  const { addEab } = await import("../store/acme/open.js");
  const r = await addEab(depotFlag, name);
  process.stdout.write(`key id: ${r.kid}\nhmac key: ${r.hmac}\n`);
  process.stderr.write(
    "Keep the HMAC key secret: it is shown once. Clients pass both (certbot --eab-kid/--eab-hmac-key)\n",
  );
}

/** One of NAME, --issuer CA, --all: the certificates whose ARI window begins now. */
async function renewNow(a: Args) {
  const usage = "usage: pki acme renew-now NAME | --issuer CA | --all";
  const given = [a.args?.length ? 1 : 0, a.issuer !== undefined ? 1 : 0, a.all ? 1 : 0].reduce((x, y) => x + y);
  if (given !== 1 || (a.args?.length ?? 0) > 1) throw new UsageError(usage);
  const { markRenewNow } = await import("../store/acme/renew.js");
  const marked = await markRenewNow(
    a.depot,
    a.args?.length ? { name: String(a.args[0]) } : a.issuer !== undefined ? { issuer: a.issuer } : { all: true },
  );
  for (const n of marked) process.stdout.write(`${n}\n`);
  process.stderr.write(
    marked.length
      ? `Marked ${marked.length} certificate(s): their ACME clients are told to renew now (RFC 9773)\n`
      : "No valid ACME certificate matched: nothing marked\n",
  );
}
