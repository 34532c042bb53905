// The batch path (pki fixtures). generateKeyDer (lib/x509/keys.ts): pki encodes ECDSA keys itself, so their PKCS#8
// and SPKI must be byte for byte what OpenSSL writes for the same key, and every kind must open in openssl and sign.
// buildFixtures' keyPairs option. --out's output, created before the build, removed on an interrupt.
import test from "ava";
import { createPrivateKey, createPublicKey, sign, verify, webcrypto } from "node:crypto";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateKeyDer } from "../dist/lib/x509/keys.js";
import { tlv } from "../dist/lib/x509/der.js";
import { buildFixtures } from "../dist/lib/api/fixtures.js";
import { toPem } from "../dist/lib/x509/pem.js";
import { openssl, PKI, tempDir } from "./_helpers.js";

const SPECS = {
  "ECDSA P-256": [{ type: "ecdsa", curve: "P-256" }, "256 bit"],
  "ECDSA P-384": [{ type: "ecdsa", curve: "P-384" }, "384 bit"],
  "RSA 2048": [{ type: "rsa", bits: 2048 }, "2048 bit"],
  Ed25519: [{ type: "ed25519" }, "ED25519"],
};

for (const [label, [spec, size]] of Object.entries(SPECS)) {
  test(`${label}: PKCS#8 and SPKI as OpenSSL encodes them, a working key pair, readable by openssl`, async (t) => {
    const dir = tempDir(t);
    // Many keys: a short private scalar (a leading zero byte, 1 key in 256: missed by 2000 keys once in ~3000 runs)
    // must still be padded to the curve's length.
    for (let i = 0; i < (spec.type === "ecdsa" ? 2000 : 2); i++) {
      // An ECDSA key is made synchronously: without this the loop holds the event loop for minutes under load, and
      // the other tests' openssl children, though done, are read only after their run() timeouts fired.
      await new Promise((r) => setImmediate(r));
      const k = await generateKeyDer(spec);
      t.deepEqual(k.spec, spec);
      const priv = createPrivateKey({ key: k.pkcs8, format: "der", type: "pkcs8" });
      t.true(priv.export({ format: "der", type: "pkcs8" }).equals(k.pkcs8), "PKCS#8 re-encoded by OpenSSL is the same");
      const pub = createPublicKey({ key: k.spki, format: "der", type: "spki" });
      t.true(createPublicKey(priv).export({ format: "der", type: "spki" }).equals(k.spki), "the SPKI is the key's");
      t.true(pub.export({ format: "der", type: "spki" }).equals(k.spki));
      if (i > 1) continue;
      const data = Buffer.from(`data ${i}`);
      const hash = spec.type === "ed25519" ? null : "sha256";
      t.true(verify(hash, data, pub, sign(hash, data, priv)));
      const f = join(dir, `k${i}.pem`);
      writeFileSync(f, toPem("PRIVATE KEY", k.pkcs8));
      const r = await openssl(["pkey", "-in", f, "-noout", "-text", "-check"]);
      if (spec.type !== "ed25519") t.is(r.code, 0, r.stderr);
      const txt = await openssl(["pkey", "-in", f, "-noout", "-text"]);
      t.true(txt.out.includes(size), txt.out.slice(0, 200));
    }
  });
}

test("two keys are never the same (the ECDH object is reused, not its key)", async (t) => {
  const seen = new Set();
  for (let i = 0; i < 200; i++) seen.add((await generateKeyDer({ type: "ecdsa", curve: "P-256" })).pkcs8.toString("hex"));
  t.is(seen.size, 200);
});

test("buildFixtures: the leaves' CryptoKeys are there by default, and only after loadKeys() with keyPairs: false", async (t) => {
  const spec = { passphrase: "p", kdfIterations: 1000, cas: [{ name: "ca" }], certs: [{ name: "a", domain: "a.test" }] };
  const full = await buildFixtures(spec);
  const a = full.certs.get("a");
  const sig = await webcrypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, a.keys.privateKey, Buffer.from("x"));
  t.true(await webcrypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, a.keys.publicKey, sig, Buffer.from("x")));
  const lean = await buildFixtures(spec, { keyPairs: false });
  const b = lean.certs.get("a");
  t.throws(() => b.keys, { message: /loadKeys/ });
  t.is(b.keyType, "ECDSA P-256");
  await b.loadKeys();
  const spki = Buffer.from(await webcrypto.subtle.exportKey("spki", b.keys.publicKey));
  t.true(spki.equals(createPublicKey(createPrivateKey({ key: b.keyPkcs8Der, format: "der", type: "pkcs8" }))
    .export({ format: "der", type: "spki" })));
  t.is(lean.certs.get("ca").keys.privateKey.type, "private", "a CA keeps its CryptoKeys: it signs");
});

// `pki fixtures --out` creates its output before the build (the files are written while the set is built): an
// interrupt in a long build must leave neither a staging directory nor temp files in an existing DIR.
for (const [label, sig, existing] of [["SIGINT, new DIR", "SIGINT", false], ["SIGTERM, existing DIR", "SIGTERM", true]]) {
  test(`pki fixtures --out, ${label}: an interrupted build leaves nothing behind`, async (t) => {
    const dir = tempDir(t);
    const spec = { passphrase: "p", kdfIterations: 1000, defaults: { key: "rsa-4096" }, cas: [{ name: "ca", key: "ecdsa" }],
      certs: Array.from({ length: 40 }, (_, i) => ({ name: `l${i}` })) };
    writeFileSync(join(dir, "spec.json"), JSON.stringify(spec));
    const out = join(dir, "out");
    if (existing) { mkdirSync(out); writeFileSync(join(out, "keep"), "x"); }
    const child = spawn(process.execPath, [PKI, "fixtures", "spec.json", "--out", out], { cwd: dir, stdio: "ignore" });
    const exited = once(child, "exit");
    const mine = () => (existing ? readdirSync(out).filter((f) => f !== "keep") : readdirSync(dir).filter((f) => f.startsWith(".out.tmp-")));
    while (mine().length === 0 && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    t.true(mine().length > 0, "the output was created before the build ended");
    child.kill(sig);
    const [code, signal] = await exited;
    t.is(signal ?? code, signal ? sig : 128 + (sig === "SIGINT" ? 2 : 15));
    t.deepEqual(mine(), []);
    t.deepEqual(readdirSync(dir).sort(), existing ? ["out", "spec.json"] : ["spec.json"]);
  });
}

test("der.ts tlv: short and long length forms at every boundary (X.690 8.1.3), parts joined in order", (t) => {
  const cases = [[0, "00"], [127, "7f"], [128, "8180"], [255, "81ff"], [256, "820100"], [65535, "82ffff"],
    [65536, "83010000"], [16777216, "8401000000"]];
  for (const [len, head] of cases) {
    const body = Buffer.alloc(len, 0xab);
    const der = tlv(0x04, body.subarray(0, len >> 1), body.subarray(len >> 1));
    t.is(der.subarray(0, 1 + head.length / 2).toString("hex"), "04" + head, `length ${len}`);
    t.true(der.subarray(1 + head.length / 2).equals(body));
  }
  t.is(tlv(0x30, Buffer.from([1]), Buffer.from([2, 3]), Buffer.alloc(0)).toString("hex"), "3003010203");
});
