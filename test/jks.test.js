import test from "ava";
import { execFile as execFileCb, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { buildJks, buildPkcs12Keystore } from "../dist/lib/jks.js";

const execFile = promisify(execFileCb);
const SERVER_JAVA = fileURLToPath(new URL("java/HttpsServe.java", import.meta.url));
const STOREPASS = "store pass";
const ALIAS = "pki-server";

/** CA + leaf (SAN IP:127.0.0.1, DNS:localhost; serverAuth+clientAuth) made by the openssl CLI. */
function makePki(t, kind) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pki-jks-"));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const f = (n) => path.join(dir, n);
  const ssl = (...args) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  const newkey = kind === "rsa" ? ["-newkey", "rsa:2048"] : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
  ssl("req", "-x509", ...newkey, "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=Test CA", "-days", "2");
  ssl("req", ...newkey, "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost");
  fs.writeFileSync(f("ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n");
  ssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "leaf.crt", "-days", "2", "-extfile", "ext.cnf");
  ssl("pkcs8", "-topk8", "-nocrypt", "-in", "leaf.key", "-outform", "DER", "-out", "leaf.p8");
  ssl("x509", "-in", "leaf.crt", "-outform", "DER", "-out", "leaf.der");
  ssl("x509", "-in", "ca.crt", "-outform", "DER", "-out", "ca.der");
  return {
    dir, f,
    keyPkcs8Der: fs.readFileSync(f("leaf.p8")),
    chainDer: [fs.readFileSync(f("leaf.der")), fs.readFileSync(f("ca.der"))],
  };
}

const formats = {
  JKS: { build: buildJks, ext: "jks" },
  PKCS12: { build: buildPkcs12Keystore, ext: "p12" },
};

function writeKeystore(t, kind, type, extra = {}) {
  const pki = makePki(t, kind);
  const file = pki.f(`server.${formats[type].ext}`);
  const opts = { alias: ALIAS, keyPkcs8Der: pki.keyPkcs8Der, chainDer: pki.chainDer, storePassword: STOREPASS, ...extra };
  fs.writeFileSync(file, formats[type].build(opts));
  return { pki, file };
}

/** Starts test/java/HttpsServe.java on a free port; resolves with the port once it prints READY. */
function startJavaServer(t, args) {
  const child = spawn("java", [SERVER_JAVA, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  t.teardown(() => { if (child.exitCode === null) child.kill(); });
  let out = "", err = "";
  child.stderr.on("data", (d) => { err += d; });
  return new Promise((resolve, reject) => {
    child.stdout.on("data", (d) => {
      out += d;
      const m = /READY (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on("exit", (code) => reject(new Error(`java server exited (${code}): ${out}${err}`)));
  });
}

for (const type of ["JKS", "PKCS12"]) {
  for (const kind of ["rsa", "ec"]) {
    test(`${type} ${kind}: keytool lists a PrivateKeyEntry with the chain; wrong store password fails`, async (t) => {
      const { file } = writeKeystore(t, kind, type);
      const { stdout } = await execFile("keytool", ["-list", "-v", "-keystore", file, "-storetype", type, "-storepass", STOREPASS]);
      t.regex(stdout, new RegExp(`Keystore type: ${type}`));
      t.regex(stdout, /Your keystore contains 1 entry/);
      t.regex(stdout, new RegExp(`Alias name: ${ALIAS}`));
      t.regex(stdout, /Entry type: PrivateKeyEntry/);
      t.regex(stdout, /Certificate chain length: 2/);
      t.regex(stdout, /Owner: CN=localhost[\s\S]*Owner: CN=Test CA/);
      await t.throwsAsync(execFile("keytool", ["-list", "-keystore", file, "-storetype", type, "-storepass", "wrong pass"]));
    });

    // Java recovers the private key (KeyManagerFactory) and serves TLS with it. The EC
    // cases use a key password different from the store password.
    test.serial(`${type} ${kind}: a Java HTTPS server loads it and curl gets 200`, async (t) => {
      const keyPassword = kind === "ec" ? "key pass" : undefined;
      const { pki, file } = writeKeystore(t, kind, type, keyPassword ? { keyPassword } : {});
      const port = await startJavaServer(t, [file, type, STOREPASS, "0", ...(keyPassword ? [keyPassword] : [])]);
      const { stdout } = await execFile("curl", ["-sS", "--cacert", pki.f("ca.crt"), "-o", "-", "-w", "\n%{http_code}",
        `https://127.0.0.1:${port}/v1/versions`]);
      t.regex(stdout, /"versions"/);
      t.regex(stdout, /\n200$/);
    });
  }
}

test("JKS stores the alias lower-cased, as Java looks it up", async (t) => {
  const pki = makePki(t, "ec");
  const file = pki.f("upper.jks");
  fs.writeFileSync(file, buildJks({ alias: "My Server", keyPkcs8Der: pki.keyPkcs8Der, chainDer: pki.chainDer, storePassword: STOREPASS }));
  const list = (...extra) => execFile("keytool", ["-list", "-keystore", file, "-storepass", STOREPASS, ...extra]);
  t.regex((await list()).stdout, /^my server, .*PrivateKeyEntry/m);
  t.regex((await list("-alias", "My Server")).stdout, /PrivateKeyEntry/);
});

test("keystore builders reject empty passwords and mismatched keys", (t) => {
  const pki = makePki(t, "ec");
  const base = { alias: ALIAS, keyPkcs8Der: pki.keyPkcs8Der, chainDer: pki.chainDer, storePassword: STOREPASS };
  for (const build of [buildJks, buildPkcs12Keystore]) {
    t.throws(() => build({ ...base, storePassword: "" }), { message: /password must not be empty/ });
    t.throws(() => build({ ...base, chainDer: [pki.chainDer[1]] }), { message: /does not match/ });
  }
});
