/**
 * `pki check`: the etcd security guide's rules, each proven with a real TLS handshake and
 * HTTP request (node's https client) against a server, judged and explained.
 */
import { isIP } from "node:net";
import { createPrivateKey } from "node:crypto";
import { x509 } from "../x509/peculiar.js";
import { exportPkcs8, generateKeyPair, importPkcs8, KeyPair, subtle } from "../x509/keys.js";
import { createRootCertificate, issueCertificate, sansOf } from "../x509/cert.js";
import { toPem } from "../x509/pem.js";
import { probe, showOutcome, WHO, type ClientId, type Outcome, type Target } from "./probe.js";

export { classify, probe, showOutcome } from "./probe.js";
export type { ClientId, Outcome, Target } from "./probe.js";

const CHAIN_CODES = [
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_GET_ISSUER_CERT",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
];

/** A throwaway client certificate made in memory (never written anywhere). */
export async function throwawayClient(
  label: string,
  issuer?: { cert: x509.X509Certificate; keys: KeyPair },
  dates?: { notBefore: Date; notAfter: Date },
): Promise<ClientId> {
  const day = 86_400_000,
    now = Date.now();
  if (!issuer) {
    const keys = await generateKeyPair();
    issuer = {
      keys,
      cert: await createRootCertificate({
        subject: { commonName: "pki check throwaway CA" },
        keys,
        notAfter: new Date(now + day),
      }),
    };
  }
  const keys = await generateKeyPair();
  const cert = await issueCertificate({
    subject: `CN=${label}`,
    publicKey: new x509.PublicKey(await subtle().exportKey("spki", keys.publicKey)),
    issuerCert: issuer.cert,
    issuerKeys: issuer.keys,
    profile: { kind: "leaf", usage: "client" },
    notBefore: dates?.notBefore,
    notAfter: dates?.notAfter ?? new Date(now + day),
  });
  return {
    label,
    certPem: cert.toString("pem") + "\n",
    keyPem: toPem("PRIVATE KEY", await exportPkcs8(keys.privateKey)),
  };
}

/** A signing key pair from an unencrypted PEM key (PKCS#8, SEC1 or PKCS#1). */
export function keyPairFromPem(pem: string): Promise<KeyPair> {
  return importPkcs8(createPrivateKey(pem).export({ format: "der", type: "pkcs8" }));
}

export interface CheckInput {
  https: Target;           // a server without client auth (in-process), or the --url target
  mtls: Target;            // the server as configured (client auth iff it has a cafile)
  external: boolean;       // --url: one target, mode unknown
  host: string;            // the address clients use (its IP SAN is checked)
  domains: string[];       // names clients use (DNS SANs checked)
  caPem: string;           // the CA the clients trust
  caLabel: string;
  serverLabel: string;
  serverCert?: x509.X509Certificate;
  clientAuth: boolean;     // does the mTLS target have a CA (in-process); --url: assumed when a client is given
  crl: boolean;
  client?: ClientId;
  p12?: ClientId;
  revoked?: ClientId;
  ca?: { cert: x509.X509Certificate; keys: KeyPair };  // the CA key, in memory: enables the expired-client rule
}

export interface RuleResult {
  n: string;
  id: string;
  rule: string;
  expected: string;
  got: string;
  result: "PASS" | "FAIL" | "SKIP";
  fix?: string;
}

type Expect = "served" | "client-rejected" | "server-rejected";

/** Runs the rule matrix, in order; never throws for a failed rule. */
export async function runChecks(c: CheckInput): Promise<RuleResult[]> {
  const out: RuleResult[] = [];
  const refused: { n: string; code: string }[] = [];
  const server = c.serverLabel;
  const serverFix = (o: Outcome, name: string): string => {
    if (o.kind === "served" || o.kind === "http")
      return `the server answered HTTP ${o.status}: is it the /v1/versions API?`;
    if (o.kind === "server-rejected")
      return c.client
        ? `the server refused ${c.client.label}: ${o.reason}`
        : `the server wants a client certificate: pass --client NAME (or --client-cert/--client-key)`;
    if (o.kind === "error") return `no TLS connection to ${c.https.host}:${c.https.port}: ${o.reason}`;
    const cert = c.serverCert;
    if (o.code === "ERR_TLS_CERT_ALTNAME_INVALID") {
      const has = cert ? sansOf(cert) : undefined;
      const sans = has ? ` (its SANs: ${[...has.ips, ...has.domains].join(", ") || "none"})` : "";
      return isIP(name)
        ? `${server} has no IP SAN ${name}${sans}: re-issue with --ip ${name}`
        : `${server} has no DNS SAN ${name}${sans}: re-issue with --domain ${name}`;
    }
    if (o.code === "CERT_HAS_EXPIRED")
      return `${server} expired${cert ? ` on ${cert.notAfter.toISOString()}` : ""}: re-issue it (pki new-cert, pki sign)`;
    if (o.code === "CERT_NOT_YET_VALID")
      return `${server} is not valid before ${cert?.notBefore.toISOString() ?? "its notBefore"}: check the clocks`;
    if (o.code === "INVALID_PURPOSE") return `${server} may not act as a TLS server: re-sign it without --client`;
    if (CHAIN_CODES.includes(o.code))
      return `${server}${cert ? ` (issuer "${cert.issuer}")` : ""} was not signed by the CA in ${c.caLabel}: sign it with that CA, or trust the CA that issued it`;
    return `${server}: ${o.reason}`;
  };
  const add = async (
    n: string,
    id: string,
    rule: string,
    expect: Expect,
    run: (() => Promise<Outcome>) | string,
    fixFor: (o: Outcome) => string,
    reason?: [RegExp, string],
  ) => {
    const expected = WHO[expect] + (reason ? ` (${reason[1]})` : "");
    if (typeof run === "string") return out.push({ n, id, rule, expected, got: "-", result: "SKIP", fix: run });
    const o = await run();
    // --url: a server's reason for refusing a client is not on the wire (node closes without an alert).
    const ok =
      o.kind === expect &&
      (!reason ||
        ("reason" in o && (reason[0].test(`${o.code} ${o.reason}`) || (c.external && o.kind === "server-rejected"))));
    // A server cert the client refuses fails every later rule too: name the first such rule rather than repeat its fix.
    const first =
      o.kind === "client-rejected" && id.startsWith("mtls") ? refused.find((r) => r.code === o.code) : undefined;
    if (!ok && o.kind === "client-rejected" && !first) refused.push({ n, code: o.code });
    out.push({
      n,
      id,
      rule,
      expected,
      got: showOutcome(o),
      result: ok ? "PASS" : "FAIL",
      ...(ok ? {} : { fix: first ? `the client refuses the server certificate, as in rule ${first.n}` : fixFor(o) }),
    });
  };
  // With --url the target's mode is unknown: HTTPS rules present the client (if any) so they hold in both modes.
  const httpsClient = c.external ? c.client : undefined;
  const names = [c.host, ...c.domains];
  for (const [i, name] of names.entries()) {
    await add(
      i ? `1${String.fromCharCode(97 + i)}` : "1",
      `https-ca:${name}`,
      `HTTPS to ${name} with the CA trusted (curl --cacert)`,
      "served",
      () => probe(c.https, name, { ca: c.caPem, client: httpsClient }),
      (o) => serverFix(o, name),
    );
  }
  await add(
    "2",
    "https-no-ca",
    "HTTPS, CA not trusted (system roots only)",
    "client-rejected",
    () => probe(c.https, c.host, { client: httpsClient }),
    (o) =>
      o.kind === "served"
        ? `${server} is trusted without ${c.caLabel}: it chains to a public root, not your CA`
        : serverFix(o, c.host),
  );

  const mtlsOn = c.clientAuth || Boolean(c.client);
  const off = "client auth is off and no client given: add a cafile to test it";
  const tls = (client?: ClientId) => () => probe(c.mtls, c.host, { ca: c.caPem, client });
  const mtlsFix = (served: string) => (o: Outcome) => o.kind === "served" || o.kind === "http" ? served
    : o.kind === "client-rejected" ? serverFix(o, c.host) : `rejected, but not for the expected reason: ${o.reason}`;
  const authOff = "client-certificate auth is off: give the server the CA (--cafile, or api/cafile in the config)";
  await add(
    "3a",
    "mtls-no-cert",
    "client auth on: no client cert",
    "server-rejected",
    mtlsOn ? tls() : off,
    mtlsFix(`a client without a certificate was served: ${authOff}`),
  );
  await add("3b", "mtls-client", `client auth on: ${c.client?.label ?? "a client"} signed by the CA`, "served",
    c.client ? tls(c.client) : mtlsOn ? "needs a client: --client NAME, or --client-cert and --client-key" : off,
    (o) => o.kind !== "server-rejected" ? serverFix(o, c.host) : clientFix(c.client!.label, o, c.caLabel));
  await add(
    "3c",
    "mtls-foreign-ca",
    "client auth on: a client cert from another CA",
    "server-rejected",
    mtlsOn ? async () => tls(await throwawayClient("pki check foreign client"))() : off,
    mtlsFix(`a client from a foreign CA was served: ${authOff}, or its cafile trusts more than your CA`),
  );
  const day = 86_400_000, now = Date.now();
  await add(
    "3d",
    "mtls-expired",
    "client auth on: an expired client cert from the CA",
    "server-rejected",
    !mtlsOn
      ? off
      : c.ca
        ? async () =>
            tls(
              await throwawayClient("pki check expired client", c.ca, {
                notBefore: new Date(now - 2 * day),
                notAfter: new Date(now - day),
              }),
            )()
        : "needs the CA key (--ca-passphrase-file; files: --ca-key): it signs a throwaway expired cert in memory",
    mtlsFix(`an expired client was served: ${authOff}`),
    [/expired/i, "expired"],
  );
  await add(
    "3e",
    "mtls-revoked",
    `client auth on: ${c.revoked?.label ?? "a revoked client"}, revoked by the CRL`,
    "server-rejected",
    !mtlsOn
      ? off
      : !c.crl
        ? "no CRL given (--crlfile or api/crlfile)"
        : c.revoked
          ? tls(c.revoked)
          : "needs the revoked client: --revoked-client NAME, or --revoked-client-cert/--revoked-client-key",
    mtlsFix(`${c.revoked?.label} was served: the CRL does not revoke it (revoke it, then regenerate the CRL)`),
    [/revoked/i, "revoked"],
  );
  await add("4", "mtls-p12", `client auth on: ${c.p12?.label ?? "the client"} as PKCS#12`, "served",
    !mtlsOn ? off : c.p12 ? tls(c.p12) : "no --client-p12 given",
    (o) => o.kind !== "server-rejected" ? serverFix(o, c.host) : clientFix(c.p12!.label, o, c.caLabel));
  await add(
    "5",
    "https-wrong-name",
    "HTTPS to a name not in the SANs (pki-check.invalid)",
    "client-rejected",
    () => probe(c.https, "pki-check.invalid", { ca: c.caPem, client: httpsClient }),
    (o) =>
      o.kind === "served"
        ? `${server} covers any name (a wildcard?): clients cannot tell servers apart`
        : serverFix(o, c.host),
    [/ERR_TLS_CERT_ALTNAME_INVALID/, "hostname mismatch"],
  );
  return out;
}

function clientFix(label: string, o: Outcome, caLabel: string): string {
  const r = "reason" in o ? o.reason : "";
  if (/unknown ca|UNABLE_TO_(VERIFY_LEAF|GET_ISSUER)|SELF_SIGNED/.test(r))
    return `${label} was not signed by the server's CA (${caLabel}): sign it with that CA`;
  if (/CRL_HAS_EXPIRED|CRL_NOT_YET_VALID|UNABLE_TO_GET_CRL|CRL_SIGNATURE/.test(r))
    return `the server's CRL is unusable (${r.replace(/^.*: /, "")}): regenerate it with the CA (current, signed by the CA)`;
  if (/expired/i.test(r)) return `${label} has expired: re-issue it (pki new-cert, pki sign)`;
  if (/revoked/i.test(r)) return `${label} is revoked by the CRL: issue a new client certificate`;
  if (/unsupported certificate|INVALID_PURPOSE/.test(r))
    return `${label} may not act as a TLS client: re-sign it without --server`;
  return `the server refused ${label}: ${r}`;
}

/** The rule table for people: RULE, EXPECTED, GOT, RESULT, then one fix line per FAIL/SKIP. */
export function formatTable(rs: RuleResult[]): string {
  const rows = [
    ["#", "RULE", "EXPECTED", "GOT", "RESULT"],
    ...rs.map((r) => [r.n, r.rule, r.expected, r.got, r.result]),
  ];
  const w = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const lines = rows.map((row) => row.map((v, i) => (i === row.length - 1 ? v : v.padEnd(w[i]))).join("  "));
  for (const r of rs) if (r.fix) lines.push(`${r.result} ${r.n}: ${r.fix}`);
  const count = (k: string) => rs.filter((r) => r.result === k).length;
  lines.push(`${count("PASS")} PASS, ${count("FAIL")} FAIL, ${count("SKIP")} SKIP`);
  return lines.join("\n") + "\n";
}
