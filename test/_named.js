// A real BIND 9 `named` per test: authoritative for one zone on 127.0.0.1:<free port>, accepting TSIG-signed
// dynamic updates (RFC 2136), in the foreground; stopped at the end of the test.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Resolver } from "node:dns/promises";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "./_helpers.js";
import { depotCert, freePort } from "./_acme.js";

export const NAMED = "/usr/sbin/named";
export const KEY_NAME = "pki-test-key";

/** Starts named for `zone` in `dir`/named; returns { port, server, zone, key: {name, secret}, nsupdate, log }. */
export async function startNamed(t, dir, zone = "example.internal") {
  const home = join(dir, "named");
  mkdirSync(home, { recursive: true });
  const secret = randomBytes(32).toString("base64");
  const port = await freePort();
  writeFileSync(
    join(home, "named.conf"),
    `options {
  directory "${home}";
  pid-file none;
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  notify no;
  session-keyfile none;
  managed-keys-directory "${home}";
};
controls { };
key "${KEY_NAME}" { algorithm hmac-sha256; secret "${secret}"; };
zone "${zone}" {
  type primary;
  file "${home}/${zone}.zone";
  allow-update { key "${KEY_NAME}"; };
};
`,
  );
  writeFileSync(
    join(home, `${zone}.zone`),
    `$TTL 300
@ IN SOA ns.${zone}. hostmaster.${zone}. 1 60 60 600 600
@ IN NS ns.${zone}.
ns IN A 127.0.0.1
`,
  );
  let log = "";
  const child = spawn(NAMED, ["-g", "-c", join(home, "named.conf")], { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const exited = new Promise((r) => child.on("exit", r));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  });
  const server = `127.0.0.1:${port}`;
  const r = new Resolver({ timeout: 500, tries: 1 });
  r.setServers([server]);
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`named exited:\n${log}`);
    try {
      await r.resolveSoa(zone);
      break;
    } catch (e) {
      if (i > 100) throw new Error(`named never answered (${e.code}):\n${log}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  }
  /** Runs nsupdate with TSIG on `lines` (e.g. ["update add x. 60 TXT \"v\""]); fails the test on error. */
  const nsupdate = async (lines) => {
    const script = [`server 127.0.0.1 ${port}`, `zone ${zone}`, ...lines, "send", ""].join("\n");
    const res = await run("nsupdate", ["-y", `hmac-sha256:${KEY_NAME}:${secret}`], { input: script });
    if (res.code !== 0) throw new Error(`nsupdate failed (${res.code}): ${res.stderr}${res.out}\n${log}`);
  };
  return { port, server, zone, key: { name: KEY_NAME, secret }, nsupdate, log: () => log };
}

/** lego with the rfc2136 provider against `ns`; server `s`; `args` are lego's (e.g. -d NAME run). */
export async function legoDns(dir, s, ns, args) {
  const env = {
    ...process.env,
    LEGO_CA_CERTIFICATES: await depotCert(dir),
    RFC2136_NAMESERVER: ns.server,
    RFC2136_TSIG_ALGORITHM: "hmac-sha256.",
    RFC2136_TSIG_KEY: ns.key.name,
    RFC2136_TSIG_SECRET: ns.key.secret,
    RFC2136_TTL: "60",
    RFC2136_PROPAGATION_TIMEOUT: "30",
    RFC2136_POLLING_INTERVAL: "1",
    RFC2136_SEQUENCE_INTERVAL: "1", // between two names' records (a wildcard and its base): 60 s by default
  };
  const base = ["--accept-tos", "--email", "ops@example.internal", "--server", s.url, "--path", join(dir, "lego")];
  const dns = ["--dns", "rfc2136", "--dns.resolvers", ns.server, "--dns.disable-cp"];
  return run("lego", [...base, ...dns, ...args], { env, timeout: 120_000 });
}
