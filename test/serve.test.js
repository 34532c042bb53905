// `pki serve` as a child process, driven by the real curl exactly as the etcd security guide does.
import test from "ava";
import net from "node:net";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { PKI, PASS, ROOT, run, pki, curl, tempDir } from "./_helpers.js";
import { sharedSet, serve, logged } from "./_serve.js";

const url = (port, path = "/v1/versions") => `https://127.0.0.1:${port}${path}`;
const served = (t, r, what) => { t.is(r.code, 0, `${what}: ${r.stderr}`); t.is(r.out, '["v1"]', what); };
const rejected = (t, r, what) => { t.not(r.code, 0, what); t.not(r.out, '["v1"]', what); };

test("HTTPS only: the guide's curl --cacert ca.crt -L is served; without --cacert curl refuses; 404 elsewhere", async (t) => {
  const { dir } = await sharedSet(t);
  const s = serve(t, dir, ["--certfile", "server1.crt", "--keyfile", "server1.key.insecure"]);
  const port = await s.ready;
  t.regex(s.stdout, /HTTPS only/);
  served(t, await curl(["--cacert", "ca.crt", "-L", url(port)], { cwd: dir }), "seed command");
  const noCa = await curl(["-L", url(port)], { cwd: dir });
  t.is(noCa.code, 60, "curl: peer certificate cannot be authenticated with known CA certificates");
  const other = await curl(["--cacert", "ca.crt", "-o", "/dev/null", "-w", "%{http_code}", url(port, "/v2/keys")], { cwd: dir });
  t.is(other.out, "404");
  const byName = await curl(["--cacert", "ca.crt", "--resolve", `localhost:${port}:127.0.0.1`, `https://localhost:${port}/v1/versions`], { cwd: dir });
  served(t, byName, "DNS SAN localhost");
  await logged(t, s, /127\.0\.0\.1 GET \/v1\/versions 200\n/);
  await logged(t, s, /GET \/v2\/keys 404/);
});

test("a server cert without the IP SAN: pki serve warns, and curl refuses it exactly as the guide's command would fail", async (t) => {
  const { dir } = await sharedSet(t);
  const s = serve(t, dir, ["--certfile", "server2.crt", "--keyfile", "server2.key.insecure"]);
  const port = await s.ready;
  await logged(t, s, /^pki: warning: server2\.crt has no IP SAN 127\.0\.0\.1: clients of https:\/\/127\.0\.0\.1 will refuse it \(re-issue with --ip 127\.0\.0\.1\)$/m);
  const r = await curl(["--cacert", "ca.crt", "-L", url(port)], { cwd: dir });
  t.is(r.code, 60);
  t.regex(r.stderr, /no alternative certificate subject name matches target host name '127\.0\.0\.1'/);
  served(t, await curl(["--cacert", "ca.crt", "--resolve", `etcd.example:${port}:127.0.0.1`, `https://etcd.example:${port}/v1/versions`], { cwd: dir }), "by its DNS SAN");
});

test("client-cert auth (--cafile): the guide's first command is rejected, the client key pair is served, a foreign client is not", async (t) => {
  const { dir, other } = await sharedSet(t);
  const s = serve(t, dir, ["--certfile", "server1.crt", "--keyfile", "server1.key.insecure", "--cafile", "ca.crt"]);
  const port = await s.ready;
  t.regex(s.stdout, /client certificates required/);
  const r1 = await curl(["--cacert", "ca.crt", "-L", url(port)], { cwd: dir });
  rejected(t, r1, "no client cert");
  t.true([35, 56].includes(r1.code), `curl exit ${r1.code}: ${r1.stderr}`);
  served(t, await curl(["--cacert", "ca.crt", "--cert", "client1.crt", "--key", "client1.key.insecure", "-L", url(port)], { cwd: dir }), "seed mTLS command");
  await logged(t, s, /GET \/v1\/versions 200 client="CN=client1"/);
  const foreign = await curl(["--cacert", "ca.crt", "--cert", join(other, "server1.crt"), "--key", join(other, "server1.key.insecure"), "-L", url(port)], { cwd: dir });
  rejected(t, foreign, "client from another CA");
  await logged(t, s, /TLS rejected: bad client certificate: UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
  await logged(t, s, /TLS rejected: peer did not return a certificate/);

  // macOS: the client as PKCS#12, made with the guide's openssl command (curl on Linux: --cert-type P12 --pass).
  served(t, await curl(["--cacert", "ca.crt", "--cert-type", "P12", "--cert", "client.p12", "--pass", "pass", "-L", url(port)], { cwd: dir }), "PKCS#12 client");
});

test("config file (YAML, api: certfile/keyfile/cafile) with paths relative to it; JSON too; HTTPS-only config", async (t) => {
  const { dir } = await sharedSet(t);
  mkdirSync(join(dir, "etc"));
  writeFileSync(join(dir, "etc", "etcd.yaml"), "# etcd\nname: node1\napi:\n  certfile: ../server1.crt\n  keyfile: ../server1.key.insecure\n  cafile: ../ca.crt\n");
  const s = serve(t, dir, ["--config", "etc/etcd.yaml"]);
  const port = await s.ready;
  rejected(t, await curl(["--cacert", "ca.crt", "-L", url(port)], { cwd: dir }), "mTLS via YAML: no client cert");
  served(t, await curl(["--cacert", "ca.crt", "--cert", "client1.crt", "--key", "client1.key.insecure", "-L", url(port)], { cwd: dir }), "mTLS via YAML");

  writeFileSync(join(dir, "https.json"), JSON.stringify({ api: { certfile: "server1.crt", keyfile: "server1.key.insecure" } }));
  const j = serve(t, dir, ["--config", "https.json"]);
  served(t, await curl(["--cacert", "ca.crt", "-L", url(await j.ready)], { cwd: dir }), "HTTPS via JSON");
});

test("--name from the depot: encrypted key unlocked with the passphrase, depot CA requires client certs; --no-client-auth", async (t) => {
  const { dir } = await sharedSet(t);
  const s = serve(t, dir, ["--name", "server1", "--passphrase-file", "pass"]);
  const port = await s.ready;
  rejected(t, await curl(["--cacert", "ca.crt", "-L", url(port)], { cwd: dir }), "no client cert");
  served(t, await curl(["--cacert", "ca.crt", "--cert", "client1.crt", "--key", "client1.key.insecure", "-L", url(port)], { cwd: dir }), "client1");
  const h = serve(t, dir, ["--name", "server1", "--no-client-auth"], { PKI_PASSPHRASE: PASS });
  served(t, await curl(["--cacert", "ca.crt", "-L", url(await h.ready)], { cwd: dir }), "HTTPS only from the depot");
});

test("an exported encrypted key (ENCRYPTED PRIVATE KEY) needs its passphrase; a wrong one is one clear line", async (t) => {
  const { dir } = await sharedSet(t);
  t.regex(readFileSync(join(dir, "enc", "server1.key"), "utf8"), /ENCRYPTED PRIVATE KEY/);
  const s = serve(t, dir, ["--certfile", "enc/server1.crt", "--keyfile", "enc/server1.key", "--passphrase-file", "pass"]);
  served(t, await curl(["--cacert", "ca.crt", "-L", url(await s.ready)], { cwd: dir }), "encrypted key");
  const none = await pki(dir, ["serve", "--port", "0", "--certfile", "enc/server1.crt", "--keyfile", "enc/server1.key"]);
  t.not(none.code, 0);
  t.is(none.stderr, "pki: no passphrase for enc/server1.key: use --passphrase-file FILE, PKI_PASSPHRASE_FILE, PKI_PASSPHRASE, or run in a terminal\n");
  writeFileSync(join(dir, "wrong-pass"), "wrong\n");
  const wrong = await pki(dir, ["serve", "--port", "0", "--certfile", "enc/server1.crt", "--keyfile", "enc/server1.key", "--passphrase-file", "wrong-pass"]);
  t.not(wrong.code, 0);
  t.is(wrong.stderr.split("\n").length, 2, wrong.stderr);
  t.regex(wrong.stderr, /^pki: .*passphrase/i);
});

test("--crlfile (and api/crlfile): a revoked client is rejected, the others still served", async (t) => {
  const { dir } = await sharedSet(t);
  writeFileSync(join(dir, "crl.yaml"), "api:\n  certfile: server1.crt\n  keyfile: server1.key.insecure\n  cafile: ca.crt\n  crlfile: ca.crl\n");
  for (const args of [["--certfile", "server1.crt", "--keyfile", "server1.key.insecure", "--cafile", "ca.crt", "--crlfile", "ca.crl"], ["--config", "crl.yaml"]]) {
    const s = serve(t, dir, args);
    const port = await s.ready;
    served(t, await curl(["--cacert", "ca.crt", "--cert", "client1.crt", "--key", "client1.key.insecure", "-L", url(port)], { cwd: dir }), "client1 not revoked");
    rejected(t, await curl(["--cacert", "ca.crt", "--cert", "client2.crt", "--key", "client2.key.insecure", "-L", url(port)], { cwd: dir }), "client2 revoked");
    await logged(t, s, /bad client certificate: CERT_REVOKED/);
  }
});

test("SIGTERM and SIGINT stop it cleanly (exit 0)", async (t) => {
  const { dir } = await sharedSet(t);
  for (const sig of ["SIGTERM", "SIGINT"]) {
    const s = serve(t, dir, ["--certfile", "server1.crt", "--keyfile", "server1.key.insecure"]);
    await s.ready;
    s.child.kill(sig);
    t.deepEqual(await s.exited, { code: 0, signal: null });
    t.regex(s.stderr, new RegExp(`^Stopped by ${sig}$`, "m")); // the child has exited: all of its stderr is in
  }
});

test("bad input: one clear line on stderr, non-zero exit", async (t) => {
  const { dir } = await sharedSet(t);
  const busy = serve(t, dir, ["--certfile", "server1.crt", "--keyfile", "server1.key.insecure"]);
  const port = await busy.ready;
  const cases = [
    [["--certfile", "server1.crt", "--keyfile", "server1.key.insecure", "--port", String(port)], /port is in use/],
    [["--certfile", "server1.crt", "--keyfile", "client1.key.insecure"], /does not match the server certificate/],
    [["--certfile", "server1.key.insecure", "--keyfile", "server1.key.insecure"], /no PEM CERTIFICATE block/],
    [["--certfile", "server1.crt"], /server cert and key are needed/],
    [["--certfile", "server1.crt", "--keyfile", "server1.key.insecure", "--crlfile", "ca.crt", "--cafile", "ca.crt"], /no PEM X509 CRL block/],
    [["--name", "nosuch", "--passphrase-file", "pass"], /unknown name "nosuch"/],
  ];
  await oneLine(t, dir, cases);
});

test("bad input without certificates: config and flag errors are one line", async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, "noapi.yaml"), "peer:\n  certfile: a\n");
  writeFileSync(join(dir, "typo.yaml"), "api:\n  certFile: server1.crt\n");
  writeFileSync(join(dir, "bad.yaml"), "api: [\n");
  await oneLine(t, dir, [
    [["--certfile", "missing.crt", "--keyfile", "missing.key"], /cannot read certfile missing\.crt: not found/],
    [["--config", "noapi.yaml"], /no "api" section/],
    [["--config", "typo.yaml"], /unknown key api\/certFile/],
    [["--config", "bad.yaml"], /not valid YAML or JSON/],
    [["--config", "none.yaml"], /cannot read --config none\.yaml: not found/],
    [["--certfile", "a", "--keyfile", "b", "--port", "99999"], /invalid --port/],
  ]);
});

async function oneLine(t, dir, cases) {
  for (const [args, re] of cases) {
    const r = await pki(dir, ["serve", ...(args.includes("--port") ? [] : ["--port", "0"]), ...args]);
    t.not(r.code, 0, args.join(" "));
    t.is(r.stderr.trim().split("\n").length, 1, `${args.join(" ")}: ${r.stderr}`);
    t.regex(r.stderr, /^pki: /);
    t.regex(r.stderr, re, args.join(" "));
  }
}

test("scripts/seed-curl.sh runs the guide's commands with the real curl and agrees", async (t) => {
  const { dir } = await sharedSet(t);
  const free = await new Promise((r) => { const s = net.createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => r(p)); }); });
  const r = await run("bash", [join(ROOT, "scripts", "seed-curl.sh"), String(free)], { cwd: dir, env: { ...process.env, PKI: `${process.execPath} ${PKI}` } });
  t.is(r.code, 0, r.out + r.stderr);
  t.true(r.out.includes(`$ curl --cacert ca.crt -L https://127.0.0.1:${free}/v1/versions`));
  t.true(r.out.includes(`$ curl --cacert ca.crt --cert client1.crt --key client1.key.insecure -L https://127.0.0.1:${free}/v1/versions`));
  t.is(r.out.match(/as the guide says/g).length, 4);
  // The README's names (server1, client1) are the default; the guide's are a variable away; a missing file is named.
  const missing = await run("bash", [join(ROOT, "scripts", "seed-curl.sh"), String(free)], { cwd: dir, env: { ...process.env, PKI: `${process.execPath} ${PKI}`, SERVER: "server", CLIENT: "client" } });
  t.is(missing.code, 2);
  t.regex(missing.stderr, /server\.crt not found/);
});
