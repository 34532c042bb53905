/**
 * The package's depot entry, `import { openDepot } from "pki-depot/depot"`: a depot on disk (the record store,
 * depot.db) for programs. Kept apart from the in-memory entry ("pki-depot", lib/index.ts), which knows no depot.
 */
export { openDepot, DepotError, InputError } from "./open.js";
export type {
  Depot, OpenDepotOptions, Crl, CrlOptions, DepotCert, IssueOptions, Issued, ListOptions, Renewed, RenewOptions,
  Revoked, RevokeOptions,
} from "./open.js";
export type { EntryRecord, Status, Revocation, PastCert } from "../records/schema.js";
export type { RevocationReason } from "../../lib/x509/reasons.js";
export type { PinOptions } from "../keys/index.js";
