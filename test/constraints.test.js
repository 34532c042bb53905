// Name constraints: a root limited to example.test and 127.0.0.0/8, judged by openssl verify and curl.
import test from "ava";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PASS, curl, issue, newDepot, openssl, pki, pkiOk, snapshot, tempDir } from "./_helpers.js";
import { depotFile } from "./_state.js";
import { serve } from "./_serve.js";
import { createCA } from "../dist/lib/index.js";

const LIMITS = ["--permit-domain", "example.test", "--permit-ip", "127.0.0.0/8"];

/** The stderr of a `pki new-cert NAME` that must fail with exit 1 (as sign would), writing nothing. */
async function refused(t, dir, name, newCertArgs) {
  const before = snapshot(join(dir, ".pki"));
  const r = await pki(dir, ["new-cert", "--passphrase-file", "pass", ...newCertArgs, name]);
  t.is(r.code, 1, r.stderr);
  t.deepEqual(snapshot(join(dir, ".pki")), before, "the depot is unchanged");
  return r.stderr;
}

test("a constrained root: an in-bounds leaf verifies (-x509_strict) and serves curl; pki refuses evil.org and 10.0.0.1", async (t) => {
  t.timeout(4 * 60_000);
  const dir = await newDepot(t, LIMITS);
  const ca = await depotFile(dir, "ca.crt");
  const ext = await openssl(["x509", "-in", ca, "-noout", "-ext", "nameConstraints"], { cwd: dir });
  t.regex(ext.out, /Name Constraints: critical[\s\S]*DNS:example\.test[\s\S]*IP:127\.0\.0\.0\/255\.0\.0\.0/);

  await issue(t, dir, "web", ["--domain", "web.example.test", "--ip", "127.0.0.1"]);
  const v = await openssl(["verify", "-x509_strict", "-CAfile", await depotFile(dir, "ca.crt"),
    await depotFile(dir, "certs/web.crt")], { cwd: dir });
  t.is(v.code, 0, v.stderr + v.out);
  const s = serve(t, dir, ["--name", "web", "--no-client-auth", "--passphrase-file", "pass"]);
  const port = await s.ready;
  const r = await curl(
    [
      "--cacert",
      await depotFile(dir, "ca.crt"),
      "--resolve",
      `web.example.test:${port}:127.0.0.1`,
      `https://web.example.test:${port}/v1/versions`,
    ],
    { cwd: dir },
  );
  t.is(r.code, 0, r.stderr);
  t.is(r.out, `["v1"]`);

  for (const [name, flags, re] of [
    [
      "evil",
      ["--domain", "evil.org"],
      /DNS name evil\.org is outside the name constraints of the CA .*permitted DNS: example\.test/,
    ],
    [
      "ten",
      ["--ip", "10.0.0.1"],
      /IP 10\.0\.0\.1 is outside the name constraints of the CA .*permitted IP: 127\.0\.0\.0\/8/,
    ],
  ]) {
    // refused at new-cert, before a key is made, with the words sign has for it
    const before = snapshot(join(dir, ".pki"));
    const refused = await pki(dir, ["new-cert", "--passphrase-file", "pass", ...flags, name]);
    t.is(refused.code, 1);
    t.regex(refused.stderr, re);
    t.is(refused.stderr.trim().split("\n").length, 1, refused.stderr);
    t.deepEqual(snapshot(join(dir, ".pki")), before, "the depot is unchanged");
  }
});

test("pki issue: in-bounds names issue in one step; evil.org or 10.0.0.1 is refused and the depot is unchanged", async (t) => {
  const dir = await newDepot(t, LIMITS);
  await pkiOk(t, dir, ["issue", "--passphrase-file", "pass", "web", "web.example.test", "127.0.0.1"]);
  const v = await openssl(["verify", "-x509_strict", "-CAfile", await depotFile(dir, "ca.crt"),
    await depotFile(dir, "certs/web.crt")], { cwd: dir });
  t.is(v.code, 0, v.stderr + v.out);
  const before = snapshot(join(dir, ".pki"));
  for (const [host, re] of [
    ["evil.org", /^pki: DNS name evil\.org is outside the name constraints/],
    ["10.0.0.1", /^pki: IP 10\.0\.0\.1 is outside the name constraints/],
  ]) {
    const r = await pki(dir, ["issue", "--passphrase-file", "pass", "bad", host]);
    t.is(r.code, 1, r.stderr);
    t.regex(r.stderr, re);
    t.is(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
  t.deepEqual(snapshot(join(dir, ".pki")), before, "nothing written");
});

test("a leaf for evil.org made by openssl under the constrained root fails openssl verify: permitted subtree violation", async (t) => {
  const dir = await newDepot(t, LIMITS);
  const ssl = async (cmd) => {
    const args = cmd.split(" ");
    const r = await openssl(args, { cwd: dir });
    t.is(r.code, 0, `openssl ${args.join(" ")}: ${r.stderr}`);
    return r;
  };
  await ssl(`pkey -in ${await depotFile(dir, "ca.key")} -passin file:pass -out ca.key.insecure`);
  await ssl(
    "req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout evil.key -out evil.csr -subj /CN=evil.org",
  );
  writeFileSync(join(dir, "ext.cnf"), "subjectAltName=DNS:evil.org\nbasicConstraints=critical,CA:FALSE\n");
  await ssl(
    `x509 -req -in evil.csr -CA ${await depotFile(dir, "ca.crt")} -CAkey ca.key.insecure -set_serial 7 -days 2 ` +
      "-extfile ext.cnf -out evil.crt",
  );
  const v = await openssl(["verify", "-x509_strict", "-CAfile", await depotFile(dir, "ca.crt"), "evil.crt"],
    { cwd: dir });
  t.not(v.code, 0);
  t.regex(v.stderr + v.out, /permitted subtree violation/);
});

test("an intermediate's constraints nest inside the root's; its leaves obey both, and the checks read the certificates", async (t) => {
  const dir = await newDepot(t, LIMITS);
  const wide = await pki(dir, "init --intermediate sub --passphrase-file pass --permit-domain evil.org".split(" "));
  t.is(wide.code, 1);
  t.regex(wide.stderr, /--permit-domain evil\.org is outside the name constraints/);
  await pkiOk(
    t,
    dir,
    "init --intermediate sub --passphrase-file pass --permit-domain api.example.test --exclude-ip 127.0.0.2".split(" "),
  );
  await issue(t, dir, "ok", ["--issuer", "sub", "--domain", "x.api.example.test", "--ip", "127.0.0.1"]);
  const chain = await openssl(
    ["verify", "-x509_strict", "-CAfile", await depotFile(dir, "ca.crt"),
      "-untrusted", await depotFile(dir, "certs/sub.crt"), await depotFile(dir, "certs/ok.crt")],
    { cwd: dir },
  );
  t.is(chain.code, 0, chain.stderr + chain.out);
  t.regex(
    await refused(t, dir, "w", ["--issuer", "sub", "--domain", "web.example.test"]),
    /DNS name web\.example\.test is outside the name constraints of the CA "CN=sub"/,
  );
  t.regex(
    await refused(t, dir, "x", ["--issuer", "sub", "--domain", "y.api.example.test", "--ip", "127.0.0.2"]),
    /IP 127\.0\.0\.2 is excluded by the name constraints of the CA "CN=sub" \(excluded: 127\.0\.0\.2\/32\)/,
  );
  const renewed = await pkiOk(t, dir, ["renew", "--passphrase-file", "pass", "sub"]);
  t.is(renewed.code, 0);
  const sub = await depotFile(dir, "certs/sub.crt");
  const ext = await openssl(["x509", "-in", sub, "-noout", "-ext", "nameConstraints"], { cwd: dir });
  t.regex(ext.out, /DNS:api\.example\.test/, "renewal keeps the constraints");
});

test("bad constraint flags are one line, exit 2 or 1, and create nothing", async (t) => {
  const dir = await newDepot(t);
  for (const [flag, value, re] of [
    ["--permit-ip", "10.1.2.3/8", /host bits are set \(did you mean 10\.0\.0\.0\/8\?\)/],
    ["--permit-ip", "10.0.0.0/33", /prefix length must be 0-32/],
    ["--exclude-ip", "nope", /CIDR range/],
    ["--permit-domain", "*.example.test", /not a wildcard/],
    ["--exclude-domain", "bad domain", /invalid --exclude-domain/],
  ]) {
    const r = await pki(dir, ["init", "--depot", join(dir, "other"), "--passphrase-file", "pass", flag, value]);
    t.not(r.code, 0);
    t.regex(r.stderr, re);
    t.is(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
  t.deepEqual(
    Object.keys(snapshot(dir)).filter((p) => p.startsWith("other")),
    [],
  );
});

test("API: createCA({nameConstraints}) writes them and issue() refuses names outside them", async (t) => {
  const ca = await createCA({
    nameConstraints: {
      permitDomains: ["example.test"],
      permitIps: ["127.0.0.0/8"],
      excludeDomains: ["bad.example.test"],
    },
  });
  const ok = await ca.issue({ name: "web", domain: ["web.example.test"], ip: ["127.0.0.1"] });
  t.truthy(ok.certPem);
  await t.throwsAsync(ca.issue({ name: "evil", domain: ["evil.org"] }), { message: /DNS name evil\.org is outside/ });
  await t.throwsAsync(ca.issue({ name: "ten", ip: ["10.0.0.1"] }), { message: /IP 10\.0\.0\.1 is outside/ });
  await t.throwsAsync(ca.issue({ name: "bad", domain: ["x.bad.example.test"] }), {
    message: /excluded: bad\.example\.test/,
  });
  // A wildcard would also cover the excluded name.
  await t.throwsAsync(ca.issue({ name: "wild", domain: ["*.example.test"] }), {
    message: /DNS name \*\.example\.test is excluded .*bad\.example\.test/,
  });
  t.truthy(await ca.issue({ name: "wild2", domain: ["*.web.example.test"] }));
  await t.throwsAsync(ca.issue({ name: "cn", commonName: "evil.org" }), {
    message: /common name evil\.org is outside/,
  });
  const sub = await ca.createIntermediate({ name: "sub", nameConstraints: { permitDomains: ["api.example.test"] } });
  await t.throwsAsync(sub.issue({ name: "w", domain: ["web.example.test"] }), {
    message: /outside the name constraints of the CA "CN=sub"/,
  });
  await t.throwsAsync(ca.createIntermediate({ name: "wide", nameConstraints: { permitDomains: ["evil.org"] } }), {
    message: /--permit-domain evil\.org is outside/,
  });
});

test("pki fixtures: a CA's nameConstraints are written, and a cert outside them is refused with its spec path; nothing is written", async (t) => {
  const dir = tempDir(t);
  const spec = (domain) =>
    `cas:\n  - name: root\n    outputs: [crl]\n    nameConstraints: {permitDomains: [example.test], permitIps: [127.0.0.0/8]}\n` +
    `certs:\n  - {name: web, domain: ${domain}, ip: 127.0.0.1, outputs: [insecure]}\n`;
  writeFileSync(join(dir, "ok.yaml"), spec("web.example.test"));
  await pkiOk(t, dir, ["fixtures", "ok.yaml", "--out", "ok"]);
  const v = await openssl(["verify", "-x509_strict", "-CAfile", "ok/root.crt", "ok/web.crt"], { cwd: dir });
  t.is(v.code, 0, v.stderr + v.out);
  t.regex(
    (await openssl(["x509", "-in", "ok/root.crt", "-noout", "-ext", "nameConstraints"], { cwd: dir })).out,
    /DNS:example\.test/,
  );
  writeFileSync(join(dir, "bad.yaml"), spec("evil.org"));
  const r = await pki(dir, ["fixtures", "bad.yaml", "--out", "bad"]);
  t.is(r.code, 1);
  t.regex(r.stderr, /^pki: certs\[0\]: DNS name evil\.org is outside the name constraints of the CA "CN=root"/);
  t.false(existsSync(join(dir, "bad")));
});

test("an imported CA's own name constraints bind pki sign (read from its certificate)", async (t) => {
  const src = join(tempDir(t, "certstrap-"), "out");
  mkdirSync(src);
  for (const cmd of [
    ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "CertAuth.key"],
    "req -x509 -new -key CertAuth.key -subj /CN=CertAuth -days 30 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -addext nameConstraints=critical,permitted;DNS:corp.test -out CertAuth.crt".split(
      " ",
    ),
  ]) {
    const r = await openssl(cmd, { cwd: src });
    t.is(r.code, 0, r.stderr);
  }
  const dir = tempDir(t);
  writeFileSync(join(dir, "pass"), PASS + "\n");
  await pkiOk(t, dir, ["import", "--from", "certstrap", src, "--passphrase-file", "pass"]);
  await issue(t, dir, "db", ["--domain", "db.corp.test"]);
  const r = await pki(dir, ["new-cert", "--passphrase-file", "pass", "--domain", "evil.org", "evil"]);
  t.is(r.code, 1);
  t.regex(
    r.stderr,
    /^pki: DNS name evil\.org is outside the name constraints of the CA "CN=CertAuth" \(permitted DNS: corp\.test\)\n$/,
  );
});
