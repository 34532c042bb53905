/**
 * RSA key pairs from two primes drawn by OpenSSL, assembled here.
 *
 * Why not node's generateKeyPair('rsa'): for 2048 bits and more with e = 65537, OpenSSL 3 generates keys by
 * SP 800-56B / FIPS 186-4 B.3.6 (primes with auxiliary primes p1, p2 | p±1), which costs ~115 ms of CPU a 2048-bit
 * key on this machine, where two random probable primes cost ~50 ms. Random probable primes are FIPS 186-4 B.3.3,
 * the method of BoringSSL, Go, Java and OpenSSL before 3.0 (auxiliary primes add no strength against modern
 * factoring). No maintained package generates RSA keys faster than OpenSSL, so the assembly is written here; it holds
 * no primality test or random source of its own:
 * - each prime is OpenSSL's BN_generate_prime_ex2 (crypto.generatePrime, on the libuv pool): CSPRNG candidates with
 *   the top two bits set, a sieve and the same Miller-Rabin rounds as OpenSSL 3's own keygen (64 for 1024 bits);
 * - B.3.3's conditions are checked: gcd(e, p-1) = gcd(e, q-1) = 1, |p - q| > 2^(nlen/2 - 100), d > 2^(nlen/2),
 *   and n has exactly nlen bits;
 * - d = e^-1 mod lcm(p-1, q-1) and the CRT values are computed here; OpenSSL encodes the key (from a JWK), and a
 *   signature made with it must verify under its public key before it is returned (a pairwise consistency test).
 */
import { createPrivateKey, createPublicKey, generatePrime, KeyObject, sign, verify } from "node:crypto";

const E = 65537n;

function prime(bits: number): Promise<bigint> {
  return new Promise((resolve, reject) =>
    generatePrime(bits, { bigint: true }, (err, p) => (err ? reject(err) : resolve(p as bigint))));
}

/** A prime of `bits` bits with gcd(e, p - 1) = 1 (e is prime: p - 1 not a multiple of it). */
async function rsaPrime(bits: number): Promise<bigint> {
  for (;;) {
    const p = await prime(bits);
    if ((p - 1n) % E !== 0n) return p;
  }
}

/** a^-1 mod m (extended Euclid); throws if they are not coprime. */
export function modInverse(a: bigint, m: bigint): bigint {
  let [r0, r1] = [((a % m) + m) % m, m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  if (r0 !== 1n) throw new Error("not invertible");
  return ((s0 % m) + m) % m;
}

const gcd = (a: bigint, b: bigint): bigint => {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
};

const bitLength = (v: bigint) => v.toString(2).length;

function b64u(v: bigint): string {
  const hex = v.toString(16);
  return Buffer.from(hex.length % 2 ? `0${hex}` : hex, "hex").toString("base64url");
}

/**
 * B.3.3's checks on a key's parts, then the key as OpenSSL's KeyObject, proven by a pairwise test.
 * Returns null when the parts fail a check that a fresh draw can pass (|p - q| or d too small).
 */
export function assembleRsa(nlen: number, p: bigint, q: bigint): KeyObject | null {
  const half = nlen / 2;
  const n = p * q;
  if (bitLength(p) !== half || bitLength(q) !== half || bitLength(n) !== nlen)
    throw new Error("RSA primes of the wrong size");
  if ((p - 1n) % E === 0n || (q - 1n) % E === 0n) throw new Error("RSA prime with e | p - 1");
  const diff = p > q ? p - q : q - p;
  if (diff <= 1n << BigInt(half - 100)) return null;
  const lambda = ((p - 1n) / gcd(p - 1n, q - 1n)) * (q - 1n);
  const d = modInverse(E, lambda);
  if (d <= 1n << BigInt(half)) return null;
  const key = createPrivateKey({
    key: {
      kty: "RSA", n: b64u(n), e: b64u(E), d: b64u(d), p: b64u(p), q: b64u(q),
      dp: b64u(d % (p - 1n)), dq: b64u(d % (q - 1n)), qi: b64u(modInverse(q, p)),
    },
    format: "jwk",
  });
  const probe = Buffer.from("pki RSA pairwise consistency test");
  if (!verify("sha256", probe, createPublicKey(key), sign("sha256", probe, key)))
    throw new Error("RSA key failed its pairwise consistency test");
  return key;
}

/** A fresh RSA private key of `nlen` bits (2048, 3072 or 4096), e = 65537; its two primes are drawn in parallel. */
export async function generateRsaKey(nlen: number): Promise<KeyObject> {
  if (nlen % 2 || nlen < 2048) throw new Error(`RSA key size ${nlen} not supported`);
  let [p, q] = await Promise.all([rsaPrime(nlen / 2), rsaPrime(nlen / 2)]);
  for (;;) {
    const key = assembleRsa(nlen, p, q);
    if (key) return key;
    q = await rsaPrime(nlen / 2); // |p - q| or d too small: a chance of ~2^-100, B.3.3 draws q again
  }
}
