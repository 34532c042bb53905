import test from "ava";
import { execFile as execFileCb, execFileSync } from "node:child_process";
import fs from "node:fs";
import https from "node:https";
import { promisify } from "node:util";
import { buildPkcs12 } from "../dist/lib/formats/pkcs12.js";
import { makeOpensslPki, pemCerts } from "./_peers.js";

const execFile = promisify(execFileCb);
const PASS = "s3cret pass";

/** Node HTTPS server on 127.0.0.1:0 that requires a client certificate issued by ca.crt. */
async function startMtlsServer(t, pki) {
  const server = https.createServer({
    key: fs.readFileSync(pki.f("leaf.key")),
    cert: fs.readFileSync(pki.f("leaf.crt")),
    ca: fs.readFileSync(pki.f("ca.crt")),
    requestCert: true,
    rejectUnauthorized: true,
  }, (req, res) => {
    const ok = req.url === "/v1/versions" && req.socket.authorized;
    res.writeHead(ok ? 200 : 404, { "content-type": "application/json" });
    res.end(ok ? JSON.stringify({ client: req.socket.getPeerCertificate().subject.CN }) : "{}");
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  return server.address().port;
}

for (const kind of ["rsa", "ec"]) {
  for (const legacy of [false, true]) {
    const name = `${kind} ${legacy ? "legacy" : "modern"}`;

    test(`pkcs12 ${name}: openssl reads it, key and chain round-trip`, async (t) => {
      const pki = makeOpensslPki(t, kind);
      const p12 = pki.f("out.p12");
      fs.writeFileSync(p12, buildPkcs12({ keyPkcs8Der: pki.keyPkcs8Der, chainDer: pki.chainDer, friendlyName: "my leaf", password: PASS, legacy }));

      const out = await execFile("openssl", ["pkcs12", "-info", "-nokeys", "-passin", `pass:${PASS}`, "-in", p12]);
      const info = out.stdout + out.stderr; // openssl prints the MAC/PBE summary on stderr
      t.regex(info, /friendlyName: my leaf/);
      t.regex(info, /localKeyID: [0-9A-F ]+/);
      if (legacy) {
        t.regex(info, /MAC: sha1/);
        t.regex(info, /Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048/);
      } else {
        t.regex(info, /MAC: sha256, Iteration 2048/);
        t.regex(info, /Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256/);
        t.regex(info, /PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC/);
      }

      await t.throwsAsync(execFile("openssl", ["pkcs12", "-info", "-nokeys", "-passin", "pass:wrong", "-in", p12]));

      const pem = (await execFile("openssl", ["pkcs12", "-in", p12, "-passin", `pass:${PASS}`, "-nodes"])).stdout;
      const keyPem = pem.match(/-----BEGIN PRIVATE KEY-----[\s\S]*?-----END PRIVATE KEY-----\n/)?.[0];
      t.truthy(keyPem, "a private key comes out");
      const pub = (input) => execFileSync("openssl", ["pkey", "-pubout"], { input }).toString();
      t.is(pub(keyPem), pub(fs.readFileSync(pki.f("leaf.key"))));
      t.deepEqual(pemCerts(pem), pki.chainDer);
    });

    test(`pkcs12 ${name}: curl authenticates with it to a Node mTLS server`, async (t) => {
      const pki = makeOpensslPki(t, kind);
      const p12 = pki.f("client.p12");
      fs.writeFileSync(p12, buildPkcs12({ keyPkcs8Der: pki.keyPkcs8Der, chainDer: pki.chainDer, friendlyName: "client", password: PASS, legacy }));
      const port = await startMtlsServer(t, pki);
      const url = `https://127.0.0.1:${port}/v1/versions`;
      const common = ["-sS", "--cacert", pki.f("ca.crt"), "-o", "-", "-w", "\n%{http_code}"];

      const { stdout } = await execFile("curl", [...common, "--cert-type", "P12", "--cert", `${p12}:${PASS}`, url]);
      t.regex(stdout, /"client":"localhost"/);
      t.regex(stdout, /\n200$/);

      await t.throwsAsync(execFile("curl", [...common, url]), undefined, "no client certificate: rejected");
    });
  }
}

test("pkcs12 ed25519: openssl extracts the same key", async (t) => {
  const pki = makeOpensslPki(t, "ed25519");
  const p12 = pki.f("ed.p12");
  fs.writeFileSync(p12, buildPkcs12({ keyPkcs8Der: pki.keyPkcs8Der, chainDer: pki.chainDer, friendlyName: "ed", password: PASS }));
  const pem = (await execFile("openssl", ["pkcs12", "-in", p12, "-passin", `pass:${PASS}`, "-nodes", "-nocerts"])).stdout;
  const pub = (input) => execFileSync("openssl", ["pkey", "-pubout"], { input }).toString();
  t.is(pub(pem), pub(fs.readFileSync(pki.f("leaf.key"))));
});

test("pkcs12 rejects an empty password, an empty chain and a key that is not the leaf's", (t) => {
  const pki = makeOpensslPki(t, "ec");
  const base = { keyPkcs8Der: pki.keyPkcs8Der, chainDer: pki.chainDer, friendlyName: "x", password: PASS };
  t.throws(() => buildPkcs12({ ...base, password: "" }), { message: "PKCS#12 password must not be empty" });
  t.throws(() => buildPkcs12({ ...base, chainDer: [] }), { message: /leaf certificate/ });
  t.throws(() => buildPkcs12({ ...base, chainDer: [pki.chainDer[1]] }), { message: /does not match/ });
});
