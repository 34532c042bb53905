// RSA keys are assembled by pki from two OpenSSL primes (lib/x509/rsa-keygen.ts): openssl must accept every key
// (`openssl pkey -check` tests p and q for primality, d·e ≡ 1 and the CRT values), and the FIPS 186-4 B.3.3 conditions
// are judged here from the parts openssl prints, not from pki's own arithmetic.
import test from "ava";
import { createPrivateKey, createPublicKey, generatePrimeSync, sign, verify } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateKeyDer, generateKeyPair } from "../dist/lib/x509/keys.js";
import { assembleRsa, generateRsaKey, modInverse } from "../dist/lib/x509/rsa-keygen.js";
import { toPem } from "../dist/lib/x509/pem.js";
import { openssl, tempDir } from "./_helpers.js";

/** The key's parts as openssl prints them (`openssl rsa -text`). */
async function opensslParts(file) {
  const text = (await openssl(["rsa", "-in", file, "-noout", "-text"])).out;
  const part = (label) => {
    const m = new RegExp(`^${label}:\\n((?:\\s+[0-9a-f:]+\\n)+)`, "m").exec(text);
    return BigInt(`0x${m[1].replace(/[\s:]/g, "")}`);
  };
  const bits = Number(/Private-Key: \((\d+) bit, 2 primes\)/.exec(text)[1]);
  const e = BigInt(/publicExponent: (\d+)/.exec(text)[1]);
  return {
    bits, e, n: part("modulus"), d: part("privateExponent"), p: part("prime1"), q: part("prime2"),
    dp: part("exponent1"), dq: part("exponent2"), qi: part("coefficient"),
  };
}

const gcd = (a, b) => (b === 0n ? a : gcd(b, a % b));

for (const bits of [2048, 3072, 4096]) {
  test(`RSA ${bits}: keys openssl checks and prints with B.3.3's conditions`, async (t) => {
    const dir = tempDir(t);
    const count = bits === 2048 ? 6 : 1;
    const keys = await Promise.all(Array.from({ length: count }, () => generateKeyDer({ type: "rsa", bits })));
    const primes = new Set();
    for (const [i, k] of keys.entries()) {
      const file = join(dir, `k${i}.pem`);
      writeFileSync(file, toPem("PRIVATE KEY", k.pkcs8));
      const check = await openssl(["pkey", "-in", file, "-check", "-noout"]);
      t.is(check.code, 0, check.stderr);
      t.regex(check.out, /Key is valid/);
      const r = await opensslParts(file);
      t.is(r.bits, bits);
      t.is(r.e, 65537n);
      t.is(r.p * r.q, r.n);
      const half = BigInt(bits / 2);
      for (const x of [r.p, r.q]) {
        t.is(x >> (half - 2n), 3n, "a prime of nlen/2 bits with its top two bits set");
        t.not((x - 1n) % r.e, 0n);
        primes.add(x);
      }
      t.true((r.p > r.q ? r.p - r.q : r.q - r.p) > 1n << (half - 100n), "|p - q| > 2^(nlen/2 - 100)");
      t.true(r.d > 1n << half, "d > 2^(nlen/2)");
      const lambda = ((r.p - 1n) * (r.q - 1n)) / gcd(r.p - 1n, r.q - 1n);
      t.is((r.d * r.e) % lambda, 1n);
      t.is(r.dp, r.d % (r.p - 1n));
      t.is(r.dq, r.d % (r.q - 1n));
      t.is((r.qi * r.q) % r.p, 1n);
      // the SPKI is the key's own public half
      t.deepEqual(createPublicKey({ key: k.spki, format: "der", type: "spki" }).export({ format: "jwk" }),
        createPublicKey(createPrivateKey({ key: k.pkcs8, format: "der", type: "pkcs8" })).export({ format: "jwk" }));
    }
    t.is(primes.size, 2 * count, "no prime drawn twice");
  });
}

test("the webcrypto pair of an RSA key signs, and openssl's verify of the public half accepts it", async (t) => {
  const kp = await generateKeyPair({ type: "rsa", bits: 2048 });
  t.is(kp.privateKey.algorithm.modulusLength, 2048);
  const data = Buffer.from("hello");
  const { subtle } = globalThis.crypto;
  const sig = await subtle.sign("RSASSA-PKCS1-v1_5", kp.privateKey, data);
  const spki = Buffer.from(await subtle.exportKey("spki", kp.publicKey));
  t.true(verify("sha256", data, { key: spki, format: "der", type: "spki" }, Buffer.from(sig)));
});

test("assembleRsa refuses primes of the wrong size, e | p - 1, and asks again for close primes", (t) => {
  const p = generatePrimeSync(1024, { bigint: true });
  let q = generatePrimeSync(1024, { bigint: true });
  while ((q - 1n) % 65537n === 0n || (p - 1n) % 65537n === 0n) q = generatePrimeSync(1024, { bigint: true });
  const key = assembleRsa(2048, p, q);
  t.truthy(key);
  const data = Buffer.from("x");
  t.true(verify("sha256", data, createPublicKey(key), sign("sha256", data, key)));
  t.throws(() => assembleRsa(2048, generatePrimeSync(1000, { bigint: true }), q), { message: /wrong size/ });
  // a prime just above p with p - 1 ≡ 0 (mod e) is hard to find; a non-prime one is enough to reach the check
  const bad = p - ((p - 1n) % 65537n);
  t.throws(() => assembleRsa(2048, bad, q), { message: /e \| p - 1/ });
  t.is(assembleRsa(2048, p, p + 2n), null, "|p - q| too small");
});

test("modInverse", (t) => {
  t.is(modInverse(3n, 11n), 4n);
  t.is(modInverse(65537n, 2n ** 127n - 1n) * 65537n % (2n ** 127n - 1n), 1n);
  t.throws(() => modInverse(6n, 9n));
});

test("generateRsaKey refuses sizes it cannot make", async (t) => {
  await t.throwsAsync(generateRsaKey(1024), { message: /not supported/ });
  await t.throwsAsync(generateRsaKey(2049), { message: /not supported/ });
});
