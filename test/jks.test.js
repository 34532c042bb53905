import test from "ava";
import { execFile as execFileCb } from "node:child_process";
import fs from "node:fs";
import { promisify } from "node:util";
import { buildJks, buildPkcs12Keystore } from "../dist/lib/formats/jks.js";
import { makeOpensslPki, startJavaServer } from "./_peers.js";

const execFile = promisify(execFileCb);
const STOREPASS = "store pass";
const ALIAS = "pki-server";

const formats = {
  JKS: { build: buildJks, ext: "jks" },
  PKCS12: { build: buildPkcs12Keystore, ext: "p12" },
};

function writeKeystore(t, kind, type, extra = {}) {
  const pki = makeOpensslPki(t, kind);
  const file = pki.f(`server.${formats[type].ext}`);
  const opts = { alias: ALIAS, keyPkcs8Der: pki.keyPkcs8Der, chainDer: pki.chainDer, storePassword: STOREPASS, ...extra };
  fs.writeFileSync(file, formats[type].build(opts));
  return { pki, file };
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
  const pki = makeOpensslPki(t, "ec");
  const file = pki.f("upper.jks");
  fs.writeFileSync(file, buildJks({ alias: "My Server", keyPkcs8Der: pki.keyPkcs8Der, chainDer: pki.chainDer, storePassword: STOREPASS }));
  const list = (...extra) => execFile("keytool", ["-list", "-keystore", file, "-storepass", STOREPASS, ...extra]);
  t.regex((await list()).stdout, /^my server, .*PrivateKeyEntry/m);
  t.regex((await list("-alias", "My Server")).stdout, /PrivateKeyEntry/);
});

test("keystore builders reject empty passwords and mismatched keys", (t) => {
  const pki = makeOpensslPki(t, "ec");
  const base = { alias: ALIAS, keyPkcs8Der: pki.keyPkcs8Der, chainDer: pki.chainDer, storePassword: STOREPASS };
  for (const build of [buildJks, buildPkcs12Keystore]) {
    t.throws(() => build({ ...base, storePassword: "" }), { message: /password must not be empty/ });
    t.throws(() => build({ ...base, chainDer: [pki.chainDer[1]] }), { message: /does not match/ });
  }
});
