// Test fixtures made by real peers: an openssl-built CA + leaf, and the JDK's HTTPS server.
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const SERVER_JAVA = fileURLToPath(new URL("java/HttpsServe.java", import.meta.url));

/** The certificates (DER) in a PEM text, in order. */
export const pemCerts = (text) => [...text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)]
  .map((m) => Buffer.from(m[1].replace(/\s+/g, ""), "base64"));

/** CA + leaf (SAN IP:127.0.0.1, DNS:localhost; serverAuth+clientAuth) made by the openssl CLI alone. */
export function makeOpensslPki(t, kind) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pki-peer-"));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const f = (n) => path.join(dir, n);
  const ssl = (...args) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  const newkey = { rsa: ["-newkey", "rsa:2048"], ec: ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], ed25519: ["-newkey", "ed25519"] }[kind];
  ssl("req", "-x509", ...newkey, "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=Test CA", "-days", "2");
  ssl("req", ...newkey, "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost");
  fs.writeFileSync(f("ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n");
  ssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "leaf.crt", "-days", "2", "-extfile", "ext.cnf");
  ssl("pkcs8", "-topk8", "-nocrypt", "-in", "leaf.key", "-outform", "DER", "-out", "leaf.p8");
  ssl("x509", "-in", "leaf.crt", "-outform", "DER", "-out", "leaf.der");
  ssl("x509", "-in", "ca.crt", "-outform", "DER", "-out", "ca.der");
  return {
    dir, f, ssl,
    keyPkcs8Der: fs.readFileSync(f("leaf.p8")),
    chainDer: [fs.readFileSync(f("leaf.der")), fs.readFileSync(f("ca.der"))],
  };
}

/** Starts test/java/HttpsServe.java (KEYSTORE TYPE STOREPASS PORT [KEYPASS]); resolves with the port once it prints READY. */
export function startJavaServer(t, args) {
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
