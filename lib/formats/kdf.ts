/**
 * PBKDF2 with a process-wide cache keyed by (passphrase digest, salt, iterations, prf): the depot's keys share
 * one salt, so one derivation serves every key a command opens or seals. The cache hangs off globalThis because
 * two copies of this module live in the CLI bundle (dist/bin/pki.js starts the KDF before the command's chunks
 * load; pkcs8.ts in those chunks finds the result). node:crypto is taken when first needed: `pki list` never is.
 */
interface KdfCache { derived: Map<string, Promise<Buffer>>; runs: number; salt?: Buffer }
const KEY = Symbol.for("pki.kdf-cache");

/** OWASP's 2023 figure for PBKDF2-HMAC-SHA256. */
export const DEFAULT_ITERATIONS = 600_000;
/** The largest count pki writes or reads (a hostile key file must not pin the CPU for hours). */
export const MAX_ITERATIONS = 10_000_000;

/** A count read from a file that pki will not derive a key with. */
export class IterationLimitError extends Error {}

/**
 * `n` when it lies in 1..MAX_ITERATIONS; otherwise refuses, before anything is derived, the count `what` (a file,
 * untrusted like any other input) asks for. `kind` names the KDF ("PBKDF2", "MAC", ...). ASN.1 readers hand large
 * INTEGERs over as decimal text or bigint.
 */
export function checkIterations(raw: number | bigint | string, what: string, kind = "PBKDF2"): number {
  const n = typeof raw === "string" && /^-?\d{1,400}$/.test(raw) ? BigInt(raw) : raw;
  if (typeof n !== "string" && n >= 1 && n <= MAX_ITERATIONS && Number.isSafeInteger(Number(n))) return Number(n);
  const limit = MAX_ITERATIONS.toLocaleString("en-US");
  const why = typeof n !== "string" && n < 1 ? "below 1" : `above pki's limit of ${limit}`;
  throw new IterationLimitError(`${what}: its ${kind} iteration count ${String(n).slice(0, 24)} is ${why}: refused`);
}

function cache(): KdfCache {
  const g = globalThis as unknown as Record<symbol, KdfCache | undefined>;
  return (g[KEY] ??= { derived: new Map(), runs: 0 });
}

/**
 * One random salt for the keys `pki fixtures` writes in this process, the same wherever it is asked for: pki.js may
 * start their KDF with it before the command has loaded.
 */
export function processSalt(): Buffer {
  const c = cache();
  return (c.salt ??= (process.getBuiltinModule("node:crypto") as typeof import("node:crypto")).randomBytes(16));
}

/** How many times PBKDF2 actually ran in this process (for tests and benchmarks). */
export function kdfRunCount(): number {
  return cache().runs;
}

export function deriveKey(
  passphrase: string,
  salt: Uint8Array,
  iterations: number,
  digest = "sha256",
  keyLen = 32,
): Promise<Buffer> {
  const { createHash, pbkdf2 } = process.getBuiltinModule("node:crypto") as typeof import("node:crypto");
  try {
    checkIterations(iterations, "the key");
  } catch (e) {
    return Promise.reject(e); // callers that only prime the cache (`.catch(() => {})`) must not see a throw
  }
  const c = cache();
  const id =
    createHash("sha256").update(passphrase).update("\0").update(salt).digest("hex") +
    `:${iterations}:${digest}:${keyLen}`;
  let p = c.derived.get(id);
  if (!p) {
    c.runs++;
    p = new Promise((resolve, reject) =>
      pbkdf2(passphrase, salt, iterations, keyLen, digest, (e, key) => (e ? reject(e) : resolve(key))),
    );
    c.derived.set(id, p);
    p.catch(() => c.derived.delete(id));
  }
  return p;
}
