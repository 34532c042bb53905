// Encrypted PKCS#8 at rest: one KDF run per passphrase per process, and openssl reads every key.
import test from "ava";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateKeyPair, exportPkcs8 } from "../dist/lib/x509/keys.js";
import { encryptPkcs8, decryptPkcs8, kdfRunCount, WrongPassphraseError } from "../dist/lib/formats/pkcs8.js";
import { openssl, tempDir } from "./_helpers.js";

test.serial("20 keys under one passphrase cost one PBKDF2 run; each opens with openssl pkey -passin", async (t) => {
  const dir = tempDir(t);
  const salt = randomBytes(16);
  const before = kdfRunCount();
  const keys = await Promise.all(Array.from({ length: 20 }, () => generateKeyPair({ type: "ecdsa", curve: "P-256" })));
  const ders = await Promise.all(keys.map((k) => exportPkcs8(k.privateKey)));
  const pems = await Promise.all(ders.map((d) => encryptPkcs8(d, "s3cret-pass", { salt })));
  t.is(kdfRunCount() - before, 1, "one KDF run for 20 encryptions");
  for (const [i, pem] of pems.entries()) t.deepEqual(await decryptPkcs8(pem, "s3cret-pass"), ders[i]);
  t.is(kdfRunCount() - before, 1, "decrypting them costs no further KDF run");
  t.is(new Set(pems).size, 20, "a fresh IV per key");
  for (const i of [0, 7, 19]) {
    const f = join(dir, `k${i}.pem`);
    writeFileSync(f, pems[i]);
    const der = await openssl(["pkcs8", "-topk8", "-nocrypt", "-in", f, "-passin", "pass:s3cret-pass", "-outform", "DER"]);
    t.is(der.code, 0, der.stderr);
    t.deepEqual(der.stdout, ders[i], "openssl recovers the same PKCS#8 key");
  }
});

test.serial("a wrong passphrase is reported as such, for many wrong guesses (CBC padding can pass by chance)", async (t) => {
  const der = await exportPkcs8((await generateKeyPair({ type: "rsa", bits: 2048 })).privateKey);
  const pem = await encryptPkcs8(der, "right", { salt: randomBytes(16), iterations: 1000 });
  for (let i = 0; i < 300; i++) {
    await t.throwsAsync(decryptPkcs8(pem, `wrong-${i}`, "the test key"), { instanceOf: WrongPassphraseError, message: "wrong passphrase for the test key" });
  }
});

test.serial("keys encrypted by openssl (PBES2 defaults) decrypt too", async (t) => {
  const dir = tempDir(t);
  const f = join(dir, "o.pem");
  const g = await openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-aes-256-cbc", "-pass", "pass:abc", "-out", f]);
  t.is(g.code, 0, g.stderr);
  const { readFileSync } = await import("node:fs");
  const der = await decryptPkcs8(readFileSync(f, "utf8"), "abc");
  const ref = await openssl(["pkcs8", "-topk8", "-nocrypt", "-in", f, "-passin", "pass:abc", "-outform", "DER"]);
  t.deepEqual(der, ref.stdout);
  await t.throwsAsync(decryptPkcs8(readFileSync(f, "utf8"), "abd"), { instanceOf: WrongPassphraseError });
});

test.serial("iteration counts up to 10,000,000 round-trip (2^23 and above included) and openssl reads them", async (t) => {
  t.timeout(180_000);
  const dir = tempDir(t);
  const der = await exportPkcs8((await generateKeyPair({ type: "ecdsa", curve: "P-256" })).privateKey);
  for (const iterations of [(1 << 23) - 1, 1 << 23, 10_000_000]) {
    const pem = await encryptPkcs8(der, "many rounds", { salt: randomBytes(16), iterations });
    t.deepEqual(await decryptPkcs8(pem, "many rounds"), der, `${iterations} iterations`);
    if (iterations === 10_000_000) {
      writeFileSync(join(dir, "k.pem"), pem);
      const o = await openssl(["pkcs8", "-topk8", "-nocrypt", "-in", join(dir, "k.pem"), "-passin", "pass:many rounds", "-outform", "DER"], { timeout: 170_000 });
      t.is(o.code, 0, o.stderr);
      t.deepEqual(o.stdout, der);
      const text = await openssl(["asn1parse", "-in", join(dir, "k.pem")]);
      t.regex(text.out, /INTEGER +:989680\n/, "the count is written as the minimal INTEGER 0x989680");
    }
  }
});
