// `pki export --p12 / --jks / --bundle`: the formats the seed clients need (macOS curl, Razor's
// Java HTTPS connector, RAZOR_CA_FILE=ca.pem), judged through the CLI by GNU tar, openssl,
// curl, keytool and a Java HTTPS server.
import test from "ava";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pemCerts, startJavaServer } from "./_peers.js";
import {
  curl, depotOf, issue, newDepot, openssl, pki, pkiOk, run, tempDir, untar, versionsServer,
} from "./_helpers.js";

const P12PASS = "p12 pass-word";
const JKSPASS = "jks pass word";
const P = ["--passphrase-file", "pass"];
const KINDS = { ecdsa: [], rsa: ["--key-type", "rsa"] };

// One depot per key kind (a CA, server1 for 127.0.0.1/localhost, client1), shared by the tests,
// which only export from it; each test extracts into its own directory.
const cleanups = [];
const shared = { teardown: (f) => cleanups.push(f), fail: (m) => { throw new Error(m); } };
test.after.always(() => Promise.all(cleanups.map((f) => f())));
const depots = {};
const depotDir = (kind) => depots[kind] ??= (async () => {
  const dir = await newDepot(shared);
  await issue(shared, dir, "server1", [...KINDS[kind], "--ip", "127.0.0.1", "--domain", "localhost"]);
  await issue(shared, dir, "client1", KINDS[kind]);
  return dir;
})();

/** A work directory for one test (passphrase and password files) using `kind`'s depot. */
async function setup(t, kind) {
  const depot = await depotDir(kind);
  const dir = tempDir(t);
  writeFileSync(join(dir, "pass"), readFileSync(join(depot, "pass")));
  writeFileSync(join(dir, "p12pass"), P12PASS + "\n");
  writeFileSync(join(dir, "jkspass"), JKSPASS + "\n");
  return { dir, env: { PKI_DEPOT: depotOf(depot) } };
}

/** Runs `pki export ARGS` in the work dir, extracts the tar with GNU tar; returns member names and the listing. */
async function exportTar(t, w, args, env = {}) {
  const r = await pkiOk(t, w.dir, ["export", ...args], { env: { ...w.env, ...env } });
  const listing = await untar(t, w.dir, r.stdout);
  return { names: listing.trim().split("\n").map((l) => l.split(/\s+/).pop()), listing, stderr: r.stderr };
}

const file = (dir, n) => readFileSync(join(dir, n), "utf8");

for (const kind of Object.keys(KINDS)) {
  for (const legacy of [false, true]) {
    test(`${kind} --p12${legacy ? " --p12-legacy" : ""}: openssl opens it, curl authenticates with it over mTLS`, async (t) => {
      const w = await setup(t, kind), { dir } = w;
      await exportTar(t, w, []); // ca.crt
      const { names, listing } = await exportTar(t, w, ["--p12", "--p12-password-file", "p12pass", ...(legacy ? ["--p12-legacy"] : []), ...P, "client1"]);
      t.deepEqual(names, ["client1.crt", "client1.key", "client1.p12"]);
      t.regex(listing, /^-rw------- .* client1\.p12$/m);
      t.regex(file(dir, "client1.key"), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/, "without --insecure the PEM key stays encrypted");

      const info = await openssl(["pkcs12", "-info", "-nokeys", "-passin", `pass:${P12PASS}`, "-in", "client1.p12"], { cwd: dir });
      t.is(info.code, 0, info.stderr);
      const text = info.out + info.stderr; // openssl prints the MAC/PBE summary on stderr
      if (legacy) {
        t.regex(text, /MAC: sha1/);
        t.regex(text, /Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC/);
      } else {
        t.regex(text, /MAC: sha256/);
        t.regex(text, /Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, .*PRF hmacWithSHA256/);
      }
      t.regex(text, /friendlyName: client1/);
      t.deepEqual(pemCerts(info.out), [...pemCerts(file(dir, "client1.crt")), ...pemCerts(file(dir, "ca.crt"))], "leaf then CA");
      const wrong = await openssl(["pkcs12", "-info", "-nokeys", "-passin", "pass:wrong", "-in", "client1.p12"], { cwd: dir });
      t.not(wrong.code, 0, "a wrong password must not open it");

      // The key inside is client1's: its public key matches the certificate's.
      const keys = await openssl(["pkcs12", "-nocerts", "-nodes", "-passin", `pass:${P12PASS}`, "-in", "client1.p12"], { cwd: dir });
      const pub = await openssl(["pkey", "-pubout"], { input: keys.stdout });
      const certPub = await openssl(["x509", "-pubkey", "-noout", "-in", "client1.crt"], { cwd: dir });
      t.is(pub.code, 0, pub.stderr);
      t.is(pub.out, certPub.out);

      // etcd's client-certificate auth, macOS style: --cert client.p12 with its password.
      await exportTar(t, w, ["--insecure", ...P, "server1"]);
      const port = await versionsServer(t, { cert: file(dir, "server1.crt"), key: file(dir, "server1.key.insecure"), ca: file(dir, "ca.crt") });
      const url = `https://127.0.0.1:${port}/v1/versions`;
      for (const cert of [["--cert", `client1.p12:${P12PASS}`], ["--cert", "client1.p12", "--pass", P12PASS]]) {
        const c = await curl(["--cacert", "ca.crt", "--cert-type", "P12", ...cert, "-L", url], { cwd: dir });
        t.is(c.code, 0, c.stderr);
        t.is(c.out, '["v1"]');
      }
      const none = await curl(["--cacert", "ca.crt", "-L", url], { cwd: dir });
      t.not(none.code, 0, "the mTLS server must reject a client without a certificate");
    });
  }

  for (const type of ["jks", "pkcs12"]) {
    const member = type === "jks" ? "server1.jks" : "server1.ks";
    test.serial(`${kind} --jks --keystore-type ${type}: keytool lists a PrivateKeyEntry, Java serves HTTPS with it, curl --cacert ca.pem`, async (t) => {
      const w = await setup(t, kind), { dir } = w;
      const { names, listing } = await exportTar(t, w, ["--jks", "--keystore-type", type, "--jks-password-file", "jkspass", "--alias", "razor-server", "--bundle", ...P, "server1"]);
      t.deepEqual(names, ["server1.crt", "server1.key", "ca.pem", "server1.chain.pem", member]);
      t.regex(listing, new RegExp(`^-rw------- .* ${member.replace(".", "\\.")}$`, "m"));
      t.regex(listing, /^-rw-r--r-- .* ca\.pem$/m);

      const list = await run("keytool", ["-list", "-v", "-keystore", member, "-storepass", JKSPASS], { cwd: dir });
      t.is(list.code, 0, list.out + list.stderr);
      t.regex(list.out, new RegExp(`Keystore type: ${type.toUpperCase()}`));
      t.regex(list.out, /Your keystore contains 1 entry/);
      t.regex(list.out, /Alias name: razor-server/);
      t.regex(list.out, /Entry type: PrivateKeyEntry/);
      t.regex(list.out, /Certificate chain length: 2/);
      t.regex(list.out, /Owner: CN=server1[\s\S]*Owner: CN=pki Root CA/);
      const wrong = await run("keytool", ["-list", "-keystore", member, "-storepass", "wrong pass"], { cwd: dir });
      t.not(wrong.code, 0, "a wrong store password must not open it");

      // Razor: the HTTPS connector loads the keystore (key-alias + password); the client trusts ca.pem.
      const port = await startJavaServer(t, [join(dir, member), type.toUpperCase(), JKSPASS, "0"]);
      for (const host of ["127.0.0.1", "localhost"]) {
        const c = await curl(["--cacert", "ca.pem", `https://${host}:${port}/v1/versions`], { cwd: dir });
        t.is(c.code, 0, c.stderr);
        t.regex(c.out, /"versions"/);
      }
      const untrusted = await curl([`https://127.0.0.1:${port}/v1/versions`], { cwd: dir });
      t.is(untrusted.code, 60, "without ca.pem curl must not trust the server");
    });
  }
}

test("--bundle: ca.pem is the root and NAME.chain.pem is leaf then issuers; the CA export always has ca.pem", async (t) => {
  const w = await setup(t, "ecdsa"), { dir } = w;
  const ca = await exportTar(t, w, []);
  t.deepEqual(ca.names, ["ca.crt", "ca.key", "ca.pem"]);
  t.deepEqual(pemCerts(file(dir, "ca.pem")), pemCerts(file(dir, "ca.crt")));

  // No key material in the bundle, so no passphrase is needed.
  const { names, listing } = await exportTar(t, w, ["--bundle", "client1"]);
  t.deepEqual(names, ["client1.crt", "client1.key", "ca.pem", "client1.chain.pem"]);
  t.regex(listing, /^-rw-r--r-- .* client1\.chain\.pem$/m);
  t.deepEqual(pemCerts(file(dir, "client1.chain.pem")), [...pemCerts(file(dir, "client1.crt")), ...pemCerts(file(dir, "ca.crt"))]);
  const v = await openssl(["verify", "-CAfile", "ca.pem", "client1.crt"], { cwd: dir });
  t.is(v.code, 0, v.stderr + v.out);

  // --insecure changes only the PEM key member.
  const all = await exportTar(t, w, ["--insecure", "--p12", "--jks", "--bundle", ...P, "client1"], { PKI_P12_PASSWORD: P12PASS, PKI_JKS_PASSWORD: JKSPASS });
  t.deepEqual(all.names, ["client1.crt", "client1.key.insecure", "ca.pem", "client1.chain.pem", "client1.p12", "client1.jks"]);
  const info = await openssl(["pkcs12", "-info", "-nokeys", "-passin", "env:PW", "-in", "client1.p12"], { cwd: dir, env: { ...process.env, PW: P12PASS } });
  t.is(info.code, 0, "PKI_P12_PASSWORD is the password: " + info.stderr);
  const list = await run("keytool", ["-list", "-keystore", "client1.jks", "-storepass", JKSPASS], { cwd: dir });
  t.regex(list.out, /^client1, .*PrivateKeyEntry/m, "alias defaults to NAME; PKI_JKS_PASSWORD is the password");
});

test("--p12-password on the command line works and warns like --passphrase", async (t) => {
  const w = await setup(t, "ecdsa"), { dir } = w;
  const { names, stderr } = await exportTar(t, w, ["--p12", "--p12-password", P12PASS, ...P, "client1"]);
  t.true(names.includes("client1.p12"));
  t.regex(stderr, /^pki: warning: --p12-password is visible to other processes; prefer --p12-password-file or PKI_P12_PASSWORD$/m);
  const info = await openssl(["pkcs12", "-info", "-nokeys", "-passin", `pass:${P12PASS}`, "-in", "client1.p12"], { cwd: dir });
  t.is(info.code, 0, info.stderr);
});

test("formats that need a secret are refused without one: one line on stderr, no tar", async (t) => {
  const w = await setup(t, "ecdsa"), { dir } = w;
  writeFileSync(join(dir, "empty"), "\n");
  const cases = [
    [["--p12", ...P, "client1"], {}, /^pki: no password for client1\.p12: use --p12-password-file FILE, PKI_P12_PASSWORD_FILE, PKI_P12_PASSWORD, or run in a terminal$/],
    [["--p12", "--p12-password-file", "empty", ...P, "client1"], {}, /^pki: an empty password cannot protect client1\.p12$/],
    [["--p12", ...P, "client1"], { PKI_P12_PASSWORD: "" }, /^pki: an empty password cannot protect client1\.p12$/],
    [["--jks", ...P, "client1"], {}, /^pki: no password for client1\.jks: use --jks-password-file FILE, PKI_JKS_PASSWORD_FILE, PKI_JKS_PASSWORD, or run in a terminal$/],
    [["--jks", "--keystore-type", "pkcs12", "--jks-password-file", "empty", ...P, "client1"], {}, /^pki: an empty password cannot protect client1\.ks$/],
    [["--p12", "--p12-password-file", "p12pass", "client1"], {}, /^pki: no passphrase for the key of "client1"/],
    [["--p12-legacy", ...P, "client1"], {}, /^pki: --p12-legacy needs --p12$/],
    [["--keystore-type", "pkcs12", ...P, "client1"], {}, /^pki: --keystore-type needs --jks$/],
  ];
  for (const [args, env, expected] of cases) {
    const r = await pki(dir, ["export", ...args], { env: { ...w.env, ...env } });
    const what = `pki export ${args.join(" ")} ${JSON.stringify(env)}`;
    t.not(r.code, 0, what);
    t.is(r.stdout.length, 0, `${what}: nothing on stdout`);
    t.is(r.stderr.trim().split("\n").length, 1, `${what}: one line, got ${r.stderr}`);
    t.regex(r.stderr.trim(), expected, what);
  }
});

test.serial("under an intermediate CA: chain.pem, .p12 and .jks carry leaf, intermediate, root; Java serves the whole chain", async (t) => {
  const dir = await newDepot(t);
  await pkiOk(t, dir, ["init", "--intermediate", "issuing", ...P]);
  await issue(t, dir, "server1", ["--issuer", "issuing", "--ip", "127.0.0.1"]);
  const w = { dir, env: {} };
  await exportTar(t, w, []); // ca.crt
  const { names } = await exportTar(t, w, ["--bundle", "--p12", "--jks", ...P, "server1"], { PKI_P12_PASSWORD: P12PASS, PKI_JKS_PASSWORD: JKSPASS });
  t.deepEqual(names, ["server1.crt", "server1.key", "ca.pem", "server1.chain.pem", "server1.p12", "server1.jks"]);
  const chain = pemCerts(file(dir, "server1.chain.pem"));
  t.is(chain.length, 3);
  t.deepEqual(chain[0], pemCerts(file(dir, "server1.crt"))[0]);
  t.deepEqual(chain[2], pemCerts(file(dir, "ca.crt"))[0]);
  t.deepEqual(pemCerts(file(dir, "ca.pem")), pemCerts(file(dir, "ca.crt")), "ca.pem is the root, not the intermediate");
  const v = await openssl(["verify", "-CAfile", "ca.pem", "-untrusted", "server1.chain.pem", "server1.crt"], { cwd: dir });
  t.is(v.code, 0, v.stderr + v.out);

  const info = await openssl(["pkcs12", "-info", "-nokeys", "-passin", `pass:${P12PASS}`, "-in", "server1.p12"], { cwd: dir });
  t.deepEqual(pemCerts(info.out), chain);
  const list = await run("keytool", ["-list", "-v", "-keystore", "server1.jks", "-storepass", JKSPASS], { cwd: dir });
  t.regex(list.out, /Certificate chain length: 3/);

  // The server sends leaf + intermediate from the keystore, so the root alone is enough for curl.
  const port = await startJavaServer(t, [join(dir, "server1.jks"), "JKS", JKSPASS, "0"]);
  const c = await curl(["--cacert", "ca.pem", `https://127.0.0.1:${port}/v1/versions`], { cwd: dir });
  t.is(c.code, 0, c.stderr);
  t.regex(c.out, /"versions"/);
});
