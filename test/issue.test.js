// `pki issue`: key + CSR + certificate in one process and one KDF run; mkcert-style hosts; --export writes the tar.
import test from "ava";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { newDepot, openssl, PASS, pki, pkiOk, snapshot, untar } from "./_helpers.js";
import { blobFile, blobPem } from "./_depot-read.js";

test("issue NAME hosts..: SANs sorted by kind, openssl verifies -x509_strict, the key opens with the one passphrase", async (t) => {
  t.timeout(120_000);
  const dir = await newDepot(t);
  await pkiOk(t, dir, ["issue", "--passphrase-file", "pass", "--server", "web1", "example.com", "10.0.0.5", "::1", "spiffe://example.com/web", "ops@example.com"]);
  const tar = await pkiOk(t, dir, ["export", "--insecure", "--passphrase-file", "pass", "web1"]);
  await untar(t, dir, tar.stdout);
  await untar(t, dir, (await pkiOk(t, dir, ["export"])).stdout);
  const text = (await openssl(["x509", "-in", join(dir, "web1.crt"), "-noout", "-text"])).out;
  t.regex(text, /DNS:example\.com, IP Address:10\.0\.0\.5, IP Address:0:0:0:0:0:0:0:1, URI:spiffe:\/\/example\.com\/web, email:ops@example\.com/);
  t.regex(text, /Extended Key Usage: \n\s+TLS Web Server Authentication\n/);
  const v = await openssl(["verify", "-x509_strict", "-CAfile", join(dir, "ca.crt"), join(dir, "web1.crt")]);
  t.is(v.code, 0, v.stderr);
  const pub = async (args) => (await openssl(args)).out;
  const stored = await blobFile(join(dir, ".pki"), "web1", join(dir, "web1.stored.key"), "key");
  t.is(await pub(["pkey", "-in", stored, "-passin", `pass:${PASS}`, "-pubout"]), await pub(["x509", "-in", join(dir, "web1.crt"), "-noout", "-pubkey"]));
  const list = JSON.parse((await pkiOk(t, dir, ["list", "--json"])).out);
  t.is(list.find((e) => e.name === "web1").status, "valid");
});

test("issue --export --insecure --bundle: the tar 'pki export' writes, straight away", async (t) => {
  t.timeout(120_000);
  const dir = await newDepot(t);
  const r = await pkiOk(t, dir, ["issue", "--export", "--insecure", "--bundle", "--passphrase-file", "pass", "--key-type", "rsa", "api", "localhost"]);
  const listing = await untar(t, dir, r.stdout);
  for (const f of ["api.crt", "api.key.insecure", "ca.pem", "api.chain.pem"]) t.regex(listing, new RegExp(f.replace(".", "\\.")));
  t.regex(listing, /-rw------- .* api\.key\.insecure/);
  const v = await openssl(["verify", "-x509_strict", "-CAfile", join(dir, "ca.pem"), join(dir, "api.crt")]);
  t.is(v.code, 0, v.stderr);
  const mod = async (args) => (await openssl(args)).out;
  t.is(await mod(["rsa", "-in", join(dir, "api.key.insecure"), "-noout", "-modulus"]), await mod(["x509", "-in", join(dir, "api.crt"), "-noout", "-modulus"]));
});

test("issue refuses before writing: wrong passphrase, bad host, a taken name, no export password; --insecure alone", async (t) => {
  t.timeout(120_000);
  const dir = await newDepot(t);
  await pkiOk(t, dir, ["issue", "--passphrase-file", "pass", "taken"]);
  writeFileSync(join(dir, "wrong"), "not the passphrase\n");
  const before = snapshot(join(dir, ".pki"));
  const cases = [
    [["issue", "--passphrase-file", "wrong", "web"], 1, /^pki: wrong passphrase for the CA key\n$/],
    [["issue", "--passphrase-file", "pass", "--insecure", "web"], 2, /^pki: --insecure needs --export\n$/],
    [["issue", "--passphrase-file", "pass", "taken"], 1, /^pki: "taken" already exists in the depot\n$/],
    [["issue", "--passphrase-file", "pass", "web", "1.2.3"], 1, /^pki: invalid IP address "1\.2\.3"/],
    // the tar's passwords are asked for before anything is issued (they were asked for after, the entry made)
    [["issue", "--passphrase-file", "pass", "--export", "--p12", "web"], 2, /^pki: no password for web\.p12: /],
    [["issue", "--passphrase-file", "pass", "--export", "--jks", "web"], 2, /^pki: no password for web\.jks: /],
    [["issue", "--passphrase-file", "pass", "--export", "--p12", "--p12-password-file", "absent", "web"], 2,
      /^pki: cannot read --p12-password-file absent: not found\n$/],
  ];
  for (const [args, code, re] of cases) {
    const r = await pki(dir, args);
    t.is(r.code, code, `${args.join(" ")}: ${r.stderr}`);
    t.regex(r.stderr, re);
  }
  t.deepEqual(snapshot(join(dir, ".pki")), before);
});

test("issueNew: the CA key and the new key cost one KDF run together", async (t) => {
  t.timeout(120_000);
  const dir = await newDepot(t);
  const depot = join(dir, ".pki");
  const { locateDepot, openRecords } = await import("../dist/store/depot/locate.js");
  const { sessionOn } = await import("../dist/store/depot/session.js");
  const { issue } = await import("../dist/store/depot/issue.js");
  const { kdfRunCount } = await import("../dist/lib/formats/pkcs8.js");
  const store = await openRecords(locateDepot(depot), { write: true });
  const before = kdfRunCount();
  const s = await sessionOn(depot, store, PASS);
  let issued;
  try {
    issued = await issue(s, "one", { ips: ["127.0.0.1"], lifetime: "1d" });
  } finally {
    await s.close();
  }
  t.is(kdfRunCount() - before, 1);
  t.is(await blobPem(depot, "one"), issued.certificate);
});
