/** What the ACME server needs from persistence (implemented by store/acme-state.ts): no disk access here. */
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
}
export interface IssuedCert {
  name: string;
  serial: string;
}

/** Changes made in one transaction: written when it commits, under the depot lock. */
export interface Tx {
  put<K extends Kind>(kind: K, obj: Stored[K]): void;
  /** Signs the CSR with the issuing CA and records the certificate in the depot index. */
  issue(r: IssueRequest): Promise<IssuedCert>;
}

export interface AcmeBackend {
  get<K extends Kind>(kind: K, id: string): Stored[K] | undefined;
  all<K extends Kind>(kind: K): Stored[K][];
  /** Runs `fn` alone (in this process and under the depot lock); its puts land atomically per object. */
  transact<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** The HMAC key of an external account binding key id, with the account already bound to it (if any). */
  eab(kid: string): { key: Uint8Array; account?: string } | undefined;
  bindEab(kid: string, account: string): void;
  /** The certificate of a depot entry, then its intermediates (PEM). */
  chainPem(name: string): string;
  /** The depot entry issued with this serial (hex, lowercase). */
  /** The depot entry already issued for an order, if any. */
  issuedFor(order: string): string | undefined;
  bySerial(serial: string): { name: string; account?: string; revoked: boolean; certDer: Uint8Array } | undefined;
  revoke(name: string, serial: string, reason: string): Promise<void>;
}
