/**
 * A fixture spec's own KDF: what `pki fixtures` needs to start deriving its keys' AES key before the rest of pki
 * loads. Small on purpose: dist/bin/pki.js holds it (cli/quick.ts starts the KDF of a JSON spec from there).
 */
import { DEFAULT_ITERATIONS, MAX_ITERATIONS } from "../formats/kdf.js";

/**
 * The spec's own passphrase and KDF iterations when its keys will be encrypted with them, read from the parsed but not
 * yet validated spec, so that the KDF can start before anything else (undefined when unsure: the build runs it).
 */
export function specKdf(raw: unknown): { passphrase: string; iterations: number } | undefined {
  const s = raw as Partial<Record<string, any>> | null;
  if (typeof s !== "object" || s === null || typeof s.passphrase !== "string" || !s.passphrase) return undefined;
  const iterations = s.kdfIterations ?? DEFAULT_ITERATIONS;
  if (!kdfIterationsOk(iterations)) return undefined;
  const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
  const pem = (e: any, dflt: unknown) => list(e?.outputs ?? dflt).includes("pem");
  return list(s.cas).some((e) => pem(e, ["pem"])) || list(s.certs).some((e) => pem(e, s.defaults?.outputs ?? ["pem"]))
    ? { passphrase: s.passphrase, iterations }
    : undefined;
}

/** kdfIterations within what a spec may ask for. */
export const kdfIterationsOk = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= 1000 &&
  (n as number) <= MAX_ITERATIONS;
