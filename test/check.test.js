// `pki check`: PASS on a good set, the right FAIL (and fix) on each broken one.
import test from "ava";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pki, pkiOk, issue, openssl, untar, tempDir } from "./_helpers.js";
import { sharedSet, serve, logged } from "./_serve.js";
import { depotFile } from "./_state.js";

const FILES = ["--certfile", "server1.crt", "--keyfile", "server1.key.insecure", "--cafile", "ca.crt"];
const CLIENT = ["--client-cert", "client1.crt", "--client-key", "client1.key.insecure"];

async function check(t, dir, args, env) {
  const r = await pki(dir, ["check", "--json", ...args], { env });
  let out;
  try { out = JSON.parse(r.out); } catch { t.fail(`pki check printed no JSON (exit ${r.code}): ${r.out}${r.stderr}`); }
  return { ...r, json: out, rule: (id) => out.results.find((x) => x.id === id) };
}

/** The rule ids and results, e.g. {"https-ca:127.0.0.1": "PASS", ...}. */
const results = (c) => Object.fromEntries(c.json.results.map((r) => [r.id, r.result]));

/** Signs `csr` with the exported CA key through `openssl ca`, with explicit (past) dates: what pki refuses to make. */
async function opensslSign(t, dir, csr, out, start, end) {
  mkdirSync(join(dir, "ossl"), { recursive: true });
  writeFileSync(join(dir, "ossl", "index.txt"), "");
  writeFileSync(join(dir, "ossl", "serial"), "1000\n");
  writeFileSync(join(dir, "ossl", "ca.cnf"), [
    "[ca]", "default_ca = d", "[d]", "database = ossl/index.txt", "new_certs_dir = ossl", "serial = ossl/serial", "default_md = sha256",
    "policy = p", "unique_subject = no", "copy_extensions = copy", "x509_extensions = ext", "[p]", "commonName = supplied",
    "[ext]", "basicConstraints = critical,CA:FALSE", "keyUsage = critical,digitalSignature", "extendedKeyUsage = serverAuth,clientAuth", "",
  ].join("\n"));
  const r = await openssl(["ca", "-batch", "-notext", "-config", "ossl/ca.cnf", "-cert", "ca.crt", "-keyfile", "caexp/ca.key.insecure",
    "-in", csr, "-out", out, "-startdate", start, "-enddate", end], { cwd: dir });
  t.is(r.code, 0, r.stderr);
}

test("a good set from the depot: every rule PASS (p12, CRL, expired client via the CA key in memory), exit 0", async (t) => {
  const { dir } = await sharedSet(t);
  const c = await check(t, dir, ["--name", "server1", "--client", "client1", "--passphrase-file", "pass", "--ca-passphrase-file", "pass", "--domain", "localhost",
    "--crlfile", "ca.crl", "--revoked-client", "client2", "--client-p12", "client.p12", "--p12-password", "pass"]);
  t.is(c.code, 0, c.out + c.stderr);
  t.true(c.json.ok);
  t.deepEqual(results(c), {
    "https-ca:127.0.0.1": "PASS", "https-ca:localhost": "PASS", "https-no-ca": "PASS", "mtls-no-cert": "PASS", "mtls-client": "PASS",
    "mtls-foreign-ca": "PASS", "mtls-expired": "PASS", "mtls-revoked": "PASS", "mtls-p12": "PASS", "https-wrong-name": "PASS",
  });
  t.regex(c.rule("mtls-expired").got, /CERT_HAS_EXPIRED/);
  t.regex(c.rule("mtls-revoked").got, /CERT_REVOKED/);
  t.regex(c.rule("mtls-foreign-ca").got, /rejected by server/);
  t.regex(c.rule("https-no-ca").got, /rejected by client/);
  t.is(c.rule("mtls-client").got, 'served 200 ["v1"]');
});

test("a good set from files: table output, PASS, rules that need more input are SKIP with what they need", async (t) => {
  const { dir } = await sharedSet(t);
  const r = await pki(dir, ["check", ...FILES, ...CLIENT]);
  t.is(r.code, 0, r.out + r.stderr);
  t.regex(r.out, /^#\s+RULE\s+EXPECTED\s+GOT\s+RESULT$/m);
  t.regex(r.out, /^1\s+HTTPS to 127\.0\.0\.1 with the CA trusted.*served 200 \["v1"\]\s+PASS$/m);
  t.regex(r.out, /^SKIP 3d: needs the CA key/m);
  t.regex(r.out, /^SKIP 3e: no CRL given/m);
  t.regex(r.out, /^SKIP 4: no --client-p12 given/m);
  t.regex(r.out, /^6 PASS, 0 FAIL, 3 SKIP$/m);
});

test("wrong CA: the server cert from another CA fails rule 1 and says so; a client from another CA fails 3b", async (t) => {
  const { dir, other } = await sharedSet(t);
  const c = await check(t, dir, ["--certfile", join(other, "server1.crt"), "--keyfile", join(other, "server1.key.insecure"), "--cafile", "ca.crt", ...CLIENT]);
  t.is(c.code, 1);
  t.false(c.json.ok);
  t.is(c.rule("https-ca:127.0.0.1").result, "FAIL");
  t.regex(c.rule("https-ca:127.0.0.1").got, /rejected by client: unable to verify the first certificate/);
  t.regex(c.rule("https-ca:127.0.0.1").fix, /server1\.crt \(issuer "O=pki, CN=pki Root CA"\) was not signed by the CA in ca\.crt/);

  const cl = await check(t, dir, [...FILES, "--client-cert", join(other, "server1.crt"), "--client-key", join(other, "server1.key.insecure")]);
  t.is(cl.code, 1);
  t.is(results(cl)["https-ca:127.0.0.1"], "PASS");
  t.is(cl.rule("mtls-client").result, "FAIL");
  t.regex(cl.rule("mtls-client").got, /rejected by server: bad client certificate: UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
  t.regex(cl.rule("mtls-client").fix, /server1\.crt was not signed by the server's CA \(ca\.crt\): sign it with that CA/);
});

test("missing SAN: a server cert without IP 127.0.0.1 fails with hostname mismatch and the --ip fix; a missing --domain likewise", async (t) => {
  const { dir } = await sharedSet(t);
  const c = await check(t, dir, ["--name", "server2", "--client", "client1", "--passphrase-file", "pass", "--domain", "etcd.example", "--domain", "other.example"]);
  t.is(c.code, 1);
  const r1 = c.rule("https-ca:127.0.0.1");
  t.is(r1.result, "FAIL");
  t.regex(r1.got, /rejected by client: .*IP: 127\.0\.0\.1 is not in the cert's list/);
  t.is(r1.fix, "server2 has no IP SAN 127.0.0.1 (its SANs: etcd.example): re-issue with --ip 127.0.0.1");
  t.is(c.rule("https-ca:etcd.example").result, "PASS");
  t.is(c.rule("mtls-client").fix, "the client refuses the server certificate, as in rule 1");
  t.is(c.rule("https-ca:other.example").fix, "server2 has no DNS SAN other.example (its SANs: etcd.example): re-issue with --domain other.example");
});

test("expired: an expired server cert fails rule 1, an expired client fails 3b (both made by openssl ca)", async (t) => {
  const { dir } = await sharedSet(t);
  mkdirSync(join(dir, "caexp"));
  await untar(t, join(dir, "caexp"), (await pkiOk(t, dir, ["export", "--insecure", "--passphrase-file", "pass"])).stdout);
  await opensslSign(t, dir, await depotFile(dir, "certs/server1.csr"), "server1-old.crt", "20200101000000Z",
    "20200201000000Z");
  await opensslSign(t, dir, await depotFile(dir, "certs/client1.csr"), "client1-old.crt", "20200101000000Z",
    "20200201000000Z");
  const s = await check(t, dir, ["--certfile", "server1-old.crt", "--keyfile", "server1.key.insecure", "--cafile", "ca.crt", ...CLIENT]);
  t.is(s.code, 1);
  t.regex(s.rule("https-ca:127.0.0.1").got, /certificate has expired/);
  t.is(s.rule("https-ca:127.0.0.1").fix, "server1-old.crt expired on 2020-02-01T00:00:00.000Z: re-issue it (pki new-cert, pki sign)");
  const c = await check(t, dir, [...FILES, "--client-cert", "client1-old.crt", "--client-key", "client1.key.insecure"]);
  t.is(c.code, 1);
  t.deepEqual(Object.entries(results(c)).filter(([, v]) => v === "FAIL").map(([k]) => k), ["mtls-client"]);
  t.regex(c.rule("mtls-client").got, /CERT_HAS_EXPIRED/);
  t.is(c.rule("mtls-client").fix, "client1-old.crt has expired: re-issue it (pki new-cert, pki sign)");
});

test("no client cert needed: a config without api/cafile fails 3a and 3c with the cafile fix; --url against pki serve agrees", async (t) => {
  const { dir } = await sharedSet(t);
  writeFileSync(join(dir, "noca.yaml"), "api:\n  certfile: server1.crt\n  keyfile: server1.key.insecure\n");
  const c = await check(t, dir, ["--config", "noca.yaml", "--cacert", "ca.crt", ...CLIENT]);
  t.is(c.code, 1);
  t.deepEqual(Object.entries(results(c)).filter(([, v]) => v === "FAIL").map(([k]) => k), ["mtls-no-cert", "mtls-foreign-ca"]);
  t.regex(c.rule("mtls-no-cert").got, /^served 200/);
  t.regex(c.rule("mtls-no-cert").fix, /client-certificate auth is off: give the server the CA \(--cafile, or api\/cafile in the config\)/);

  const https = serve(t, dir, ["--config", "noca.yaml"]);
  const u = await check(t, dir, ["--url", `https://127.0.0.1:${await https.ready}`, "--cacert", "ca.crt", ...CLIENT]);
  t.is(u.code, 1);
  t.is(u.rule("mtls-no-cert").result, "FAIL");
  t.is(u.rule("https-ca:127.0.0.1").result, "PASS");

  const mtls = serve(t, dir, FILES);
  const g = await check(t, dir, ["--url", `https://127.0.0.1:${await mtls.ready}`, "--cacert", "ca.crt", ...CLIENT]);
  t.is(g.code, 0, JSON.stringify(g.json, null, 1));
  t.is(results(g)["mtls-client"], "PASS");
  await logged(t, mtls, /GET \/v1\/versions 200 client="CN=client1"/);
});

test("pki revoke + pki crl: the depot's CRL makes the server reject the revoked client (rule 3e), others still served", async (t) => {
  const { dir } = await sharedSet(t);
  await issue(t, dir, "client3");
  await pkiOk(t, dir, ["revoke", "--reason", "keyCompromise", "client3"]);
  writeFileSync(join(dir, "depot.crl"), (await pkiOk(t, dir, ["crl", "--passphrase-file", "pass"])).stdout);
  const c = await check(t, dir, ["--name", "server1", "--client", "client1", "--passphrase-file", "pass", "--crlfile", "depot.crl", "--revoked-client", "client3"]);
  t.is(c.code, 0, JSON.stringify(c.json, null, 1));
  t.is(c.rule("mtls-client").result, "PASS");
  t.is(c.rule("mtls-revoked").result, "PASS");
  t.regex(c.rule("mtls-revoked").got, /CERT_REVOKED/);
  // The CRL from before the revocation does not list client3: 3e fails and says why.
  const old = await check(t, dir, ["--name", "server1", "--client", "client1", "--passphrase-file", "pass", "--crlfile", "ca.crl", "--revoked-client", "client3"]);
  t.is(old.code, 1);
  t.is(old.rule("mtls-revoked").result, "FAIL");
  t.is(old.rule("mtls-revoked").fix, "client3 was served: the CRL does not revoke it (revoke it, then regenerate the CRL)");
});

test("wrong usage: a client signed --server fails 3b, a server signed --client fails rule 1, each with the re-sign fix", async (t) => {
  const { dir } = await sharedSet(t);
  await Promise.all([issue(t, dir, "srvonly", [], ["--server"]), issue(t, dir, "cltonly", ["--ip", "127.0.0.1"], ["--client"])]);
  const c = await check(t, dir, ["--name", "server1", "--client", "srvonly", "--passphrase-file", "pass"]);
  t.is(c.code, 1);
  t.regex(c.rule("mtls-client").got, /INVALID_PURPOSE/);
  t.is(c.rule("mtls-client").fix, "srvonly may not act as a TLS client: re-sign it without --server");
  const s = await check(t, dir, ["--name", "cltonly", "--client", "client1", "--passphrase-file", "pass"]);
  t.is(s.code, 1);
  t.is(s.rule("https-ca:127.0.0.1").got, "rejected by client: unsuitable certificate purpose");
  t.is(s.rule("https-ca:127.0.0.1").fix, "cltonly may not act as a TLS server: re-sign it without --client");
});

test("check --url errors need no certificates", async (t) => {
  for (const [url, re] of [["http://127.0.0.1:1", /^pki: --url must be https:\/\/ \(got http:\)\n$/], ["not a url", /^pki: invalid --url not a url: expected https:\/\/HOST:PORT\n$/]]) {
    const r = await pki(tempDir(t), ["check", "--url", url, "--cacert", "ca.crt"]);
    t.not(r.code, 0);
    t.regex(r.stderr, re);
  }
});

test("check input errors: one line, non-zero", async (t) => {
  const { dir } = await sharedSet(t);
  const cases = [
    [["--certfile", "server1.crt", "--keyfile", "server1.key.insecure"], /needs the CA the clients trust/],
    [[...FILES, "--client-cert", "client1.crt"], /--client-cert and --client-key go together/],
    [[...FILES, "--client-p12", "client1.crt"], /--client-p12 needs --p12-password/],
    [[...FILES, "--client-p12", "client.p12", "--p12-password", "wrong"], /^pki: --client-p12 client\.p12: wrong --p12-password\n$/],
    [[...FILES, "--ca-key", "client1.key.insecure"], /the CA key does not belong to ca\.crt/],
  ];
  for (const [args, re] of cases) {
    const r = await pki(dir, ["check", ...args]);
    t.not(r.code, 0, args.join(" "));
    t.is(r.stderr.trim().split("\n").length, 1, r.stderr);
    t.regex(r.stderr, re);
  }
});
