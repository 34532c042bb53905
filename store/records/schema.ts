/**
 * What a depot holds, and the one interface every backend implements (the embedded SQLite one in sqlite.ts, the
 * PostgreSQL one in postgres.ts): records, not files or SQL. Every method is async and runs inside an explicit
 * transaction, `store.read(async (tx) => ...)` or `store.write(async (tx) => ...)`: a write commits all of its
 * changes or none. Every value a backend hands back has passed validate.ts, whatever wrote it.
 */
import type { Sans } from "../../lib/x509/cert.js";
import type { RevocationReason } from "../../lib/x509/crl.js";
import type { Account, Authz, Order } from "../../lib/acme/protocol.js";
import { DepotError } from "../fsutil.js";

/** The root CA's entry name. */
export const ROOT = "ca";

/** A serial already recorded as issued: the caller draws another (the database refused it, not a check in code). */
export class SerialTakenError extends DepotError {
  constructor(readonly serial: string) { super(`serial ${serial} is already recorded in the depot`); }
}
/** A name taken by another entry, maybe in another case. */
export class NameTakenError extends DepotError {
  constructor(readonly name: string, readonly taken: string) {
    const as = taken === name ? "" : ` (as "${taken}": names may not differ only in case)`;
    super(`"${name}" already exists in the depot${as}`);
  }
}

/**
 * The store is out of reach for now (a database restarting, unreachable, or too busy): nothing was written, and
 * the same request may succeed shortly (a server answers 503 with Retry-After).
 */
export class UnavailableError extends DepotError {}

/** The depot's own record: KDF parameters every key in it is sealed with, and when it was made. */
export interface DepotRecord {
  kdf: { salt: string; iterations: number };
  created: string;
  serialFloor?: string; // hex (import): serials at or below were issued elsewhere
}

export type Status = "unsigned" | "signed" | "revoked";
export interface Revocation { date: string; reason: RevocationReason }
/** A certificate an entry had before (`pki renew`); its serial stays reserved, its revocation on the CRL. */
export interface PastCert { serial: string; issuer: string; notBefore: string; notAfter: string; revoked?: Revocation }
/** A certificate of an entry `pki rm` removed: kept so that its revocation stays on its issuer's CRL. */
export interface RemovedCert extends PastCert { name: string }

/** A name in the depot: the root ("ca"), an intermediate (kind "ca") or a leaf, and its current certificate. */
export interface EntryRecord {
  name: string;
  kind: "leaf" | "ca";
  issuer?: string; // absent: the root (for the root itself: none)
  subject: string;
  keyType: string;
  sans: Sans;
  status: Status;
  created: string;
  serial?: string;
  notBefore?: string;
  notAfter?: string;
  usage?: string;
  eku?: string[]; // explicit extKeyUsage OIDs (leaf)
  pathLength?: number; // basicConstraints pathLenConstraint (ca)
  revoked?: Revocation;
  alias?: string; // the name the source tool gave it (import: certstrap's CA file name)
  external?: boolean; // the key is held elsewhere (signed from a foreign CSR): no key blob
  /**
   * Issued by `pki acme serve`: the ACME account and order, and the entry whose certificate the order replaced (RFC
   * 9773 `replaces`, the order's replacesCert) recorded with it, so `pki list` reads no order to show it.
   */
  acme?: { account: string; order: string; replaces?: string };
  crlUrl?: string; // ca: the http:// URL of its CRL, put in every certificate it signs (CRL distribution point)
}
/** An entry with its past certificates, oldest first (layout 1's index.json entry). */
export interface Entry extends EntryRecord { history?: PastCert[] }

/**
 * The binary material of an entry. `serial` absent: the current one; present: the one that went with that
 * (past) certificate (renew --rekey, rm). cert, csr and crl are DER; key is an encrypted PKCS#8
 * (EncryptedPrivateKeyInfo) DER, never a plain key.
 */
export type BlobKind = "cert" | "key" | "csr";
export interface BlobRef { name: string; kind: BlobKind; serial?: string }

/** The latest CRL of an issuer and its number (the next `pki crl` uses number + 1). */
export interface CrlRecord { issuer: string; number: number; der?: Uint8Array }

export type AcmeKind = "accounts" | "orders" | "authz";
/** Challenges are carried by their authorization (one authz owns its challenges), as in RFC 8555. */
export interface AcmeRecords { accounts: Account; orders: Order; authz: Authz }
/** The ACME rows found by an indexed column: accounts by their key's thumbprint, orders by their account. */
export const ACME_FILED = { accounts: "thumbprint", orders: "account" } as const;
export type AcmeFiled = keyof typeof ACME_FILED;
export interface EabRecord { kid: string; hmac: string; created: string; account?: string; bound?: string }

/** Which entries `list` yields; each filter is answered by an index, not a scan. */
export interface ListFilter {
  status?: Status;
  /** notAfter strictly before this instant (signed or revoked entries). */
  expiringBefore?: Date;
  /** Issued by this CA ("ca": the root). */
  issuer?: string;
}

/** A revoked certificate an issuer's CRL lists: a current entry's, a past one's or a removed one's. */
export interface RevokedSerial { serial: string; revoked: Revocation; notAfter: string }

export interface ReadTx {
  depot(): Promise<DepotRecord>;
  entry(name: string): Promise<EntryRecord | undefined>;
  /** The entry whose name equals `name` ignoring case ("Web" and "web" are one file on macOS). */
  entryFolded(name: string): Promise<EntryRecord | undefined>;
  entryBySerial(serial: string): Promise<EntryRecord | undefined>;
  entryByAcmeOrder(order: string): Promise<EntryRecord | undefined>;
  /**
   * Entries in pages of `pageSize` (the store holds one page at a time): ordered by name, or with
   * `expiringBefore` by notAfter then name.
   */
  list(filter?: ListFilter, o?: { pageSize?: number }): AsyncIterable<EntryRecord>;
  count(filter?: ListFilter): Promise<number>;
  /** NAME's past certificates, oldest first. */
  history(name: string): Promise<PastCert[]>;
  removed(): AsyncIterable<RemovedCert>;
  /** Every revoked certificate `issuer` signed: current entries', past ones', removed ones'. */
  revokedBy(issuer: string): AsyncIterable<RevokedSerial>;
  hasSerial(serial: string): Promise<boolean>;
  serialCount(): Promise<number>;
  /** Every serial recorded as issued, in order (a copy of the depot carries them all). */
  serials(): AsyncIterable<string>;
  blob(ref: BlobRef): Promise<Uint8Array | undefined>;
  crl(issuer: string): Promise<CrlRecord | undefined>;
  acmeGet<K extends AcmeKind>(kind: K, id: string): Promise<AcmeRecords[K] | undefined>;
  acmeList<K extends AcmeKind>(kind: K): AsyncIterable<AcmeRecords[K]>;
  /**
   * The account whose key has this RFC 7638 thumbprint, and an account's orders (by id): looked up by index, each
   * row found checked as acmeGet's are and its body agreeing with the index (else the depot is damaged).
   */
  acmeAccountByThumbprint(thumbprint: string): Promise<Account | undefined>;
  acmeOrdersOf(account: string): Promise<Order[]>;
  eab(kid: string): Promise<EabRecord | undefined>;
  eabs(): AsyncIterable<EabRecord>;
}

export interface WriteTx extends ReadTx {
  /** Records `serial` as issued; one already recorded is refused (SerialTakenError), by the database itself. */
  reserveSerial(serial: string): Promise<void>;
  setSerialFloor(serial: string): Promise<void>;
  /** Inserts or replaces the entry NAME; a different name differing only in case is refused (NameTakenError). */
  putEntry(e: EntryRecord): Promise<void>;
  /**
   * Inserts the entry NAME when no entry holds its name in any case, else writes nothing and answers false; one
   * statement where the backend can (no look-up first: in a serializable transaction a look-up that finds nothing
   * locks the index page other writers insert into).
   */
  addEntry(e: EntryRecord): Promise<boolean>;
  /** Deletes the entry, its history and its current blobs (its past blobs stay, keyed by serial). */
  deleteEntry(name: string): Promise<void>;
  addHistory(name: string, past: PastCert): Promise<void>;
  addRemoved(r: RemovedCert): Promise<void>;
  /** Marks the certificate `serial` of NAME (current or past) revoked; false when NAME never had that serial. */
  revoke(name: string, serial: string, r: Revocation): Promise<boolean>;
  putBlob(ref: BlobRef, data: Uint8Array): Promise<void>;
  /** Re-keys NAME's current blob of `kind` to `serial` (it goes with a certificate that became past). */
  retireBlob(name: string, kind: BlobKind, serial: string): Promise<void>;
  deleteBlob(ref: BlobRef): Promise<void>;
  /** The issuer's CRL number incremented and recorded (1 for its first CRL). */
  nextCrlNumber(issuer: string): Promise<number>;
  /** Records the CRL just made as the issuer's latest (its number came from nextCrlNumber). */
  putCrl(issuer: string, der: Uint8Array): Promise<void>;
  /** Records an issuer's CRL number and latest CRL as they are elsewhere (upgrade, import, copy). */
  setCrl(c: CrlRecord): Promise<void>;
  acmePut<K extends AcmeKind>(kind: K, obj: AcmeRecords[K]): Promise<void>;
  putEab(e: EabRecord): Promise<void>;
  /** Records a nonce the server will hand out, usable once until `expires`. */
  putNonce(nonce: string, expires: Date): Promise<void>;
  /**
   * Forgets expired nonces, then the soonest to expire beyond `max`; returns how many are left. Kept out of
   * putNonce: a scan of the table in every request's transaction would make concurrent writers conflict.
   */
  pruneNonces(max: number, now?: Date): Promise<number>;
  /** Consumes a nonce: true once (by any process on the store), false when unknown, used or expired. */
  takeNonce(nonce: string, now?: Date): Promise<boolean>;
}

export interface RecordStore {
  readonly backend: "sqlite" | "postgres";
  /** Where the records live (a database file, a URL without its password). */
  readonly location: string;
  read<T>(fn: (tx: ReadTx) => Promise<T>): Promise<T>;
  /** Runs `fn` alone (in this process and against every other writer); commits when it returns, else rolls back. */
  write<T>(fn: (tx: WriteTx) => Promise<T>): Promise<T>;
  /**
   * A read whose `fn` makes one statement (one row looked up): where the backend can, that statement runs alone,
   * without a transaction block around it (on PostgreSQL one round trip, not three). A second statement throws.
   */
  readOne<T>(fn: (tx: ReadTx) => Promise<T>): Promise<T>;
  /** WriteTx.takeNonce as a transaction of its own (on PostgreSQL one statement). */
  takeNonce(nonce: string): Promise<boolean>;
  /** `tx.list` with each page read in its own short transaction: streams a depot of any size. */
  list(filter?: ListFilter, o?: { pageSize?: number }): AsyncIterable<EntryRecord>;
  /** A consistent copy of the whole store at `file` (made while others write), mode 0600. */
  backup(file: string): Promise<void>;
  close(): Promise<void>;
}
