/**
 * What the ACME server needs from persistence (implemented by store/acme/state.ts on the record store): no disk
 * access here. Every read is async, since the state may live in a database shared by several nodes; reads that a
 * change depends on are made through the transaction's Tx.
 */
import type { Account, Authz, Identifier, Order } from "./protocol.js";

export type Kind = "accounts" | "orders" | "authz";
export interface Stored {
  accounts: Account;
  orders: Order;
  authz: Authz;
}

/** A certificate issued from a finalized order: what the depot recorded. */
export interface IssueRequest {
  csrDer: Uint8Array<ArrayBuffer>;
  identifiers: Identifier[];
  account: string;
  order: string;
  /** The depot entry whose certificate this one replaces (the order's RFC 9773 replacesCert). */
  replaces?: string;
}
export interface IssuedCert {
  name: string;
  serial: string;
}

/** The reads a change may depend on: outside a transaction, or inside one (then they see its own snapshot). */
export interface AcmeReads {
  get<K extends Kind>(kind: K, id: string): Promise<Stored[K] | undefined>;
  /** The account whose key has this RFC 7638 thumbprint. */
  accountByKey(thumbprint: string): Promise<Account | undefined>;
  /** The orders of an account, oldest first. */
  ordersOf(account: string): Promise<Order[]>;
  /** The HMAC key of an external account binding key id, with the account already bound to it (if any). */
  eab(kid: string): Promise<{ key: Uint8Array; account?: string } | undefined>;
  /** The depot entry already issued for an order, if any. */
  issuedFor(order: string): Promise<string | undefined>;
}

/**
 * One transaction: its changes land together when `transact`'s function returns. The function may run more than
 * once (a database retrying a transaction that lost a race), so it must not hand anything out itself: what it
 * returns is the answer.
 */
export interface Tx extends AcmeReads {
  put<K extends Kind>(kind: K, obj: Stored[K]): void;
  bindEab(kid: string, account: string): void;
  /** Signs the CSR with the issuing CA and records the certificate in the depot. */
  issue(r: IssueRequest): Promise<IssuedCert>;
}

export interface AcmeBackend extends AcmeReads {
  /** Runs `fn` alone (in this process, and against every other writer of the depot). */
  transact<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** The certificate of a depot entry, then its intermediates (PEM). */
  chainPem(name: string): Promise<string>;
  /** The depot entry issued by ACME with this serial (hex, lowercase), and the order it was issued for. */
  bySerial(
    serial: string,
  ): Promise<{ name: string; account?: string; order?: string; revoked: boolean; certDer: Uint8Array } | undefined>;
  revoke(name: string, serial: string, reason: string): Promise<void>;
  /** A fresh nonce for a client (an address, or an IPv6 /64), good once, on any server sharing this state. */
  newNonce(client: string): Promise<string>;
  /** True once for a nonce newNonce made; false when unknown, used or expired. */
  useNonce(nonce: string): Promise<boolean>;
}
