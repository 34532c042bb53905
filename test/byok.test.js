// Bring your own key: CSRs made by `openssl req` signed by `pki sign --csr`, judged by openssl and curl.
import test from "ava";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { curl, openssl, pki, pkiOk, snapshot, untar, versionsServer } from "./_helpers.js";
import { cheapDepot, ext, sh } from "./_lifecycle.js";
import { blobFile, blobPem, entry as depotEntry } from "./_state.js";

/** `openssl req` with its own new key; returns the paths of the key and the CSR. */
async function opensslCsr(t, dir, name, { subj = `/CN=${name}`, san, extra = [], newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] } = {}) {
  const key = join(dir, `${name}.own.key`), csr = join(dir, `${name}.csr`);
  const r = await openssl(["req", "-new", ...newkey, "-nodes", "-keyout", key, "-out", csr, "-subj", subj, ...(san ? ["-addext", `subjectAltName=${san}`] : []), ...extra]);
  t.is(r.code, 0, r.stderr);
  return { key, csr };
}

test("a CSR made by openssl req is signed, verifies -x509_strict and serves TLS to curl with the key that never left openssl", async (t) => {
  const dir = await cheapDepot(t);
  const { key, csr } = await opensslCsr(t, dir, "web", { san: "DNS:localhost,IP:127.0.0.1,URI:spiffe://example.org/ns/web" });
  const r = await pkiOk(t, dir, ["sign", "--csr", csr, "--server", "--passphrase-file", "pass", "web"]);
  t.regex(r.stderr, /^Signed "web" \(external key, ECDSA P-256; SANs: IP:127\.0\.0\.1, DNS:localhost, URI:spiffe:\/\/example\.org\/ns\/web\) by "ca"/);
  const crt = await blobFile(dir, "web"), ca = await blobFile(dir, "ca");
  const v = await openssl(["verify", "-x509_strict", "-CAfile", ca, crt]);
  t.is(v.code, 0, v.stderr + v.out);
  t.regex(await ext(crt, "subjectAltName"), /DNS:localhost, IP Address:127\.0\.0\.1, URI:spiffe:\/\/example\.org\/ns\/web/);
  t.regex(await ext(crt, "extendedKeyUsage"), /TLS Web Server Authentication\s*$/);
  t.is(await blobPem(dir, "web", "key"), undefined, "no key in the depot");
  const entry = await depotEntry(dir, "web");
  t.true(entry.external);
  t.deepEqual(entry.sans, { ips: ["127.0.0.1"], domains: ["localhost"], uris: ["spiffe://example.org/ns/web"] });

  const port = await versionsServer(t, { cert: readFileSync(crt), key: readFileSync(key) });
  const c = await curl(["--cacert", ca, `https://localhost:${port}/v1/versions`]);
  t.is(c.code, 0, c.stderr);
  t.is(c.out, '["v1"]');

  // export ships the certificate (and with --bundle the chain) but no key; key-needing options are refused.
  const out = join(dir, "out");
  await sh(dir, "mkdir out");
  const listing = await untar(t, out, (await pkiOk(t, dir, ["export", "--bundle", "web"])).stdout);
  t.regex(listing, /web\.crt/);
  t.regex(listing, /ca\.pem/);
  t.notRegex(listing, /\.key/);
  const insecure = await pki(dir, ["export", "--insecure", "--passphrase-file", "pass", "web"]);
  t.regex(insecure.stderr, /^pki: the key of "web" is held elsewhere \(external key\)[^\n]*\n$/);

  // `pki doctor` accepts an entry without a key file.
  const d = await pki(dir, ["doctor"]);
  t.is(d.code, 0, d.stderr + d.out);
});

test("refused with one line and the depot unchanged: a bad signature, a forbidden SAN, a CA:TRUE request, a weak key", async (t) => {
  const dir = await cheapDepot(t);
  const good = await opensslCsr(t, dir, "good", { san: "DNS:good.example" });
  // Flip one bit in the last byte of the DER (inside the signature): the self-signature no longer verifies.
  const der = Buffer.from(readFileSync(good.csr, "utf8").replace(/-----[^-]+-----|\s/g, ""), "base64");
  der[der.length - 1] ^= 1;
  writeFileSync(join(dir, "tampered.csr"), der);
  const uri = await opensslCsr(t, dir, "baduri", { san: "URI:not a uri" });
  const dns = await opensslCsr(t, dir, "baddns", { san: "DNS:-bad-.example" });
  const ca = await opensslCsr(t, dir, "wantsca", { extra: ["-addext", "basicConstraints=critical,CA:TRUE"] });
  const rsa = await opensslCsr(t, dir, "weak", { newkey: ["-newkey", "rsa:1024"] });
  const subj = await opensslCsr(t, dir, "badsubj", { subj: "/CN=a\u202eb", extra: ["-utf8"] }); // a bidi override
  const before = snapshot(join(dir, ".pki"));
  const cases = [
    ["tampered.csr", /its signature does not verify/],
    [uri.csr, /invalid URI "not a uri"/],
    [dns.csr, /invalid domain "-bad-\.example"/],
    [ca.csr, /asks for a CA certificate \(basicConstraints CA:TRUE\)/],
    [rsa.csr, /RSA key of 1024 bits is too weak/],
    [join(dir, "missing.csr"), /cannot read --csr .*missing\.csr: not found/],
  ];
  for (const [file, re] of cases) {
    const r = await pki(dir, ["sign", "--csr", file, "--passphrase-file", "pass", "x"]);
    t.is(r.code, file.endsWith("missing.csr") ? 2 : 1, `${file}: ${r.stderr}`);
    t.regex(r.stderr, /^pki: [^\n]+\n$/, file);
    t.regex(r.stderr, re);
  }
  const s = await pki(dir, ["sign", "--csr", subj.csr, "--passphrase-file", "pass", "x"]);
  t.regex(s.stderr, /^pki: .*invalid common name "a\\u202eb"/);
  // A SAN given on the command line is validated as strictly as new-cert's.
  const flag = await pki(dir, ["sign", "--csr", good.csr, "--uri", "relative/path", "--passphrase-file", "pass", "x"]);
  t.regex(flag.stderr, /^pki: invalid URI "relative\/path"/);
  const intermediate = await pki(dir, ["sign", "--csr", good.csr, "--intermediate", "--passphrase-file", "pass", "x"]);
  t.regex(intermediate.stderr, /^pki: --intermediate with an external key is not supported/);
  t.deepEqual(snapshot(join(dir, ".pki")), before, "nothing in the depot changed");
});

test("new-cert --csr files the request, --domain narrows its SANs, sign issues it later; renew --csr takes a new key", async (t) => {
  const dir = await cheapDepot(t);
  const { csr } = await opensslCsr(t, dir, "api", { san: "DNS:api.example,DNS:www.example,email:ops@example.org" });
  const filed = await pkiOk(t, dir, ["new-cert", "--csr", "-", "--domain", "api.example", "--email", "ops@example.org", "api"], { input: readFileSync(csr) });
  t.regex(filed.stderr, /Filed the request for "api" \(external key, ECDSA P-256; SANs: DNS:api\.example, email:ops@example\.org\)/);
  t.deepEqual(JSON.parse((await pkiOk(t, dir, ["list", "--json"])).out).find((e) => e.name === "api").status, "unsigned");
  await pkiOk(t, dir, ["sign", "--client", "--passphrase-file", "pass", "api"]);
  let crt = await blobFile(dir, "api");
  t.regex(await ext(crt, "subjectAltName"), /^\s*DNS:api\.example, email:ops@example\.org\s*$/m);
  const first = (await openssl(["x509", "-in", crt, "-noout", "-serial", "-pubkey"])).out;

  // --rekey cannot work without the key; a new request from its holder can.
  const rekey = await pki(dir, ["renew", "--rekey", "--passphrase-file", "pass", "api"]);
  t.regex(rekey.stderr, /^pki: the key of "api" is held elsewhere: renew with --csr FILE/);
  const next = await opensslCsr(t, dir, "api2", { subj: "/CN=api", newkey: ["-newkey", "ed25519"] });
  await pkiOk(t, dir, ["renew", "--csr", next.csr, "--passphrase-file", "pass", "api"]);
  crt = await blobFile(dir, "api");
  const second = (await openssl(["x509", "-in", crt, "-noout", "-serial", "-pubkey"])).out;
  t.not(second, first);
  t.regex(await ext(crt, "subjectAltName"), /DNS:api\.example, email:ops@example\.org/, "SANs kept");
  const pub = (await openssl(["pkey", "-in", next.key, "-pubout"])).out;
  t.true(second.includes(pub.trim()), "the new certificate carries the new request's key");
  const v = await openssl(["verify", "-x509_strict", "-CAfile", await blobFile(dir, "ca"), crt]);
  t.is(v.code, 0, v.stderr + v.out);
  const st = JSON.parse((await pkiOk(t, dir, ["status", "--json", "api"])).out);
  t.is(st.keyType, "Ed25519");
  t.is(st.history.length, 1);
  t.is((await pki(dir, ["doctor"])).code, 0);
  // A name in use is refused for a new request.
  const again = await pki(dir, ["sign", "--csr", csr, "--passphrase-file", "pass", "api"]);
  t.regex(again.stderr, /^pki: "api" already exists in the depot/);
});
