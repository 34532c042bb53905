// Keys other tools wrote (etcd-ca's legacy PEM encryption, openssl's PKCS#8), opened for import and inspect: a wrong
// passphrase is reported as such however OpenSSL fails on it.
import test from "ava";
import { createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { openForeignKey } from "../dist/lib/formats/foreign-keys.js";
import { InputError } from "../dist/lib/x509/validate.js";
import { openssl, tempDir } from "./_helpers.js";

/** Wrong passphrases whose CBC padding passes by chance (1 in ~256), so OpenSSL fails decoding, not decrypting. */
function luckyGuesses(pem, want) {
  const found = [];
  for (let i = 0; found.length < want && i < 50_000; i++) {
    try {
      createPrivateKey({ key: pem, format: "pem", passphrase: Buffer.from(`guess ${i}`) });
    } catch (e) {
      if (!/bad decrypt/.test(e.message)) found.push(`guess ${i}`);
    }
  }
  return found;
}

for (const [label, args] of [
  ["legacy PEM, DES-EDE3-CBC (etcd-ca)", ["rsa", "-traditional", "-des3"]],
  ["legacy PEM, AES-256-CBC", ["rsa", "-traditional", "-aes256"]],
  ["PKCS#8, AES-256-CBC", ["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-iter", "1"]],
]) {
  test(`${label}: every wrong passphrase is "wrong passphrase", also when the padding passes by chance`, async (t) => {
    const dir = tempDir(t);
    const plain = join(dir, "plain.pem");
    const file = join(dir, "key.pem");
    t.is((await openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", plain])).code, 0);
    const enc = await openssl([...args, "-in", plain, "-passout", "pass:right", "-out", file]);
    t.is(enc.code, 0, enc.stderr);
    const pem = readFileSync(file, "utf8");
    const lucky = luckyGuesses(pem, 3);
    t.is(lucky.length, 3, "wrong passphrases that get past the padding check");
    for (const guess of [...lucky, "wrong", ""]) {
      const e = t.throws(() => openForeignKey("key.pem", pem, guess), { instanceOf: InputError }, guess);
      t.is(e?.message, "key.pem: wrong passphrase (the key is encrypted)", guess);
    }
    t.is(openForeignKey("key.pem", pem, "right").asymmetricKeyType, "rsa");
  });
}
