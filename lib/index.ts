/**
 * The package entry (`import { createCA, buildFixtures } from "pki-depot"`): CAs, certificates,
 * keystores, CRLs and fixture sets in memory, through the same code as the CLI.
 */
export { createCA, loadCA, CA, Certificate, parseKeyOption, parseWhen, KEY_NAMES, x509 } from "./api/api.js";
export type {
  CAOptions,
  LeafOptions,
  CertOptions,
  KeyOption,
  When,
  EncryptionOptions,
  KeySpec,
  Usage,
  Subject,
  RevocationReason,
} from "./api/api.js";
export { buildFixtures, parseFixtureSpec, planFixtures, SpecError, OUTPUTS, MANIFEST } from "./api/fixtures.js";
export type { FixtureSpec, CASpec, CertSpec, FixtureSet, FixtureEntry, BuildOptions, Output } from "./api/fixtures.js";
export { tarStream } from "./formats/tar.js";
export type { TarMember } from "./formats/tar.js";
export { InputError } from "./x509/validate.js";
