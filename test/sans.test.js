// Every SAN type: URI (e.g. SPIFFE IDs) and email SANs beside IP and DNS, through every issuance path,
// read back as URIs by openssl and by Python's cryptography (when installed).
import test from "ava";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openssl, pki, pkiOk, run, snapshot, untar } from "./_helpers.js";
import { cheapDepot, ext } from "./_lifecycle.js";
import { blobFile } from "./_depot-read.js";

const URI = "spiffe://example.org/ns/web";

/** The SANs of a PEM certificate as Python's cryptography reads them (null when Python or the package is missing). */
async function pythonSans(t, crt) {
  const code = `import sys, json
from cryptography import x509
c = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
s = c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
print(json.dumps({"uri": s.get_values_for_type(x509.UniformResourceIdentifier), "email": s.get_values_for_type(x509.RFC822Name),
  "dns": s.get_values_for_type(x509.DNSName), "ip": [str(i) for i in s.get_values_for_type(x509.IPAddress)]}))`;
  const r = await run("python3", ["-c", code, crt]);
  if (r.code !== 0 && /No module named|ENOENT|not found/.test(r.stderr)) { t.log("python3 cryptography not available: skipped that reader"); return null; }
  t.is(r.code, 0, r.stderr);
  return JSON.parse(r.out);
}

test("a URI and an email SAN round-trip through new-cert, sign, renew and export; openssl and Python read a URI", async (t) => {
  const dir = await cheapDepot(t);
  await pkiOk(t, dir, ["new-cert", "--passphrase-file", "pass", "--uri", URI, "--email", "ops@example.org", "--domain", "web.example", "web"]);
  await pkiOk(t, dir, ["sign", "--passphrase-file", "pass", "web"]);
  const crt = join(dir, "web.crt");
  const check = async (what) => {
    await blobFile(join(dir, ".pki"), "web", crt); // the current certificate, as the depot holds it
    t.regex(await ext(crt, "subjectAltName"), /^\s*DNS:web\.example, URI:spiffe:\/\/example\.org\/ns\/web, email:ops@example\.org\s*$/m, what);
    const py = await pythonSans(t, crt);
    if (py) t.deepEqual(py, { uri: [URI], email: ["ops@example.org"], dns: ["web.example"], ip: [] }, what);
    const v = await openssl(["verify", "-x509_strict", "-CAfile", await blobFile(join(dir, ".pki"), "ca", join(dir, "ca.crt")), crt]);
    t.is(v.code, 0, v.stderr + v.out);
  };
  await check("signed");
  const status = JSON.parse((await pkiOk(t, dir, ["status", "--json", "web"])).out);
  t.deepEqual(status.sans, { ips: [], domains: ["web.example"], uris: [URI], emails: ["ops@example.org"] });
  t.regex((await pkiOk(t, dir, ["list"])).out, /web\s+valid\s+\S+\s+web\.example,spiffe:\/\/example\.org\/ns\/web,ops@example\.org/);
  await pkiOk(t, dir, ["renew", "--passphrase-file", "pass", "web"]);
  await check("renewed");
  await pkiOk(t, dir, ["renew", "--rekey", "--passphrase-file", "pass", "--key-passphrase-file", "pass", "web"]);
  await check("renewed with a new key");
  const out = join(dir, "out");
  mkdirSync(out);
  await untar(t, out, (await pkiOk(t, dir, ["export", "web"])).stdout);
  t.regex(await ext(join(out, "web.crt"), "subjectAltName"), /URI:spiffe:\/\/example\.org\/ns\/web/);

  // sign --csr: a request carrying a URI SAN, and --uri replacing the request's SANs.
  const csr = join(dir, "svc.csr");
  t.is((await openssl(["req", "-new", "-newkey", "ed25519", "-nodes", "-keyout", join(dir, "svc.key"), "-out", csr, "-subj", "/CN=svc", "-addext", "subjectAltName=URI:spiffe://example.org/ns/svc,DNS:svc.example"])).code, 0);
  await pkiOk(t, dir, ["sign", "--csr", csr, "--uri", "spiffe://example.org/ns/svc", "--passphrase-file", "pass", "svc"]);
  t.regex(await ext(await blobFile(join(dir, ".pki"), "svc", join(dir, "svc.crt")), "subjectAltName"), /^\s*URI:spiffe:\/\/example\.org\/ns\/svc\s*$/m);
});

test("invalid URI and email SANs are refused with one line and nothing written", async (t) => {
  const dir = await cheapDepot(t);
  const before = snapshot(join(dir, ".pki"));
  const cases = [
    ["--uri", "relative/path", /invalid URI "relative\/path"/],
    ["--uri", "spiffe://", /invalid URI "spiffe:\/\/"/],
    ["--uri", "http://exa mple.org/", /invalid URI/],
    ["--uri", "spiffe://example.org/caf\u00e9", /invalid URI "spiffe:\/\/example\.org\/caf\\u00e9"/],
    ["--uri", "http://example.org/%zz", /invalid URI/],
    ["--email", "no-at-sign", /invalid email address "no-at-sign"/],
    ["--email", "a..b@example.org", /invalid email address/],
    ["--email", "ops@-bad-.org", /invalid email address/],
    ["--email", "ops@*.example.org", /invalid email address/],
  ];
  for (const [flag, value, re] of cases) {
    const r = await pki(dir, ["new-cert", "--passphrase-file", "pass", flag, value, "x"]);
    t.is(r.code, 1, `${flag} ${value}: ${r.stderr}`);
    t.regex(r.stderr, /^pki: [^\n]+\n$/);
    t.regex(r.stderr, re);
  }
  t.deepEqual(snapshot(join(dir, ".pki")), before);
});

test("fixtures and the API: uri and email SANs in the spec reach the certificate and the manifest", async (t) => {
  const dir = await cheapDepot(t);
  writeFileSync(join(dir, "spec.json"), JSON.stringify({
    passphrase: "pw-for-fixtures", kdfIterations: 1000, cas: [{ name: "root" }],
    certs: [{ name: "wl", uri: [URI, "urn:example:wl"], email: "wl@example.org", domain: "wl.example" }],
  }));
  const r = await pkiOk(t, dir, ["fixtures", "spec.json", "--out", "fx", "--json"]);
  const wl = JSON.parse(r.out).entries.find((e) => e.name === "wl");
  t.deepEqual(wl.sans, { ips: [], domains: ["wl.example"], uris: [URI, "urn:example:wl"], emails: ["wl@example.org"] });
  const crt = join(dir, "fx", "wl.crt");
  t.regex(await ext(crt, "subjectAltName"), /DNS:wl\.example, URI:spiffe:\/\/example\.org\/ns\/web, URI:urn:example:wl, email:wl@example\.org/);
  const py = await pythonSans(t, crt);
  if (py) t.deepEqual(py.uri, [URI, "urn:example:wl"]);
  writeFileSync(join(dir, "bad.json"), JSON.stringify({ passphrase: "x", cas: [{ name: "root" }], certs: [{ name: "b", uri: ["ok:x", "not a uri"] }] }));
  const bad = await pki(dir, ["fixtures", "bad.json", "--out", "fx2"]);
  t.regex(bad.stderr, /^pki: .*certs\[0\]\.uri\[1\].*invalid URI "not a uri"/);

  const { createCA } = await import("../dist/lib/index.js");
  const ca = await createCA({ name: "api-root" });
  const leaf = await ca.issue({ name: "api-leaf", uri: [URI], email: ["api@example.org"] });
  writeFileSync(join(dir, "api.crt"), leaf.certPem);
  t.regex(await ext(join(dir, "api.crt"), "subjectAltName"), /URI:spiffe:\/\/example\.org\/ns\/web, email:api@example\.org/);
  await t.throwsAsync(() => ca.issue({ name: "x", uri: ["nope"] }), { message: /invalid URI "nope"/ });
});
