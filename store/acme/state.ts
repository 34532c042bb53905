/**
 * ACME state on the record store (a depot.db directory or a PostgreSQL URL): accounts, orders, authorizations
 * (with their challenges), EAB keys and nonces are rows, so several `pki acme serve` on one PostgreSQL share them.
 * A change is one store.write: SERIALIZABLE on PostgreSQL, where a write that lost a race runs again, so the
 * service's function only stages its puts and they are written at the end of the attempt that commits.
 * Certificates from orders are depot entries acme-SERIAL (store/acme/issue.ts) that `pki list`, `revoke` and `crl`
 * see. The store out of reach (UnavailableError: PostgreSQL restarting) answers 503 with Retry-After.
 */
import type { AcmeBackend, AcmeReads, IssuedCert, IssueRequest, Kind, Stored, Tx } from "../../lib/acme/backend.js";
import { AcmeProblem, type Account, type Order } from "../../lib/acme/protocol.js";
import type { RevocationReason } from "../../lib/x509/crl.js";
import { toPem } from "../../lib/x509/pem.js";
import { UnavailableError, type ReadTx, type RecordStore, type WriteTx } from "../records/schema.js";
import { revoke } from "../depot/revoke.js";
import { certOf, ROOT, type Session } from "../depot/session.js";
import { TokenUnavailableError } from "../keys/index.js";
import { issueForOrder, type AcmeIssuer } from "./issue.js";
import { StoredNonces } from "./nonces.js";

/** Seconds a client is asked to wait while the store is out of reach. */
export const RETRY_AFTER_S = 3;

/** The store's "try again shortly" as the problem a server answers with: 503 and Retry-After. */
function unavailable(e: unknown): never {
  if (e instanceof TokenUnavailableError) // the CA key's token: tried again on the next request
    throw new AcmeProblem("serverInternal", "the CA's key is unavailable for a moment: retry shortly", 503, {
      "retry-after": String(RETRY_AFTER_S),
    });
  if (!(e instanceof UnavailableError)) throw e;
  throw new AcmeProblem("serverInternal", "the CA's database is unavailable for a moment: retry shortly", 503, {
    "retry-after": String(RETRY_AFTER_S),
  });
}
const guard = <T>(p: Promise<T>): Promise<T> => p.catch(unavailable);

/** The reads of AcmeReads on one record-store transaction. */
function readsOf(tx: ReadTx): AcmeReads {
  return {
    get: (kind, id) => tx.acmeGet(kind, id),
    accountByKey: (thumbprint: string) => tx.acmeAccountByThumbprint(thumbprint),
    async ordersOf(account: string): Promise<Order[]> {
      return (await tx.acmeOrdersOf(account)).sort((a, b) => a.created.localeCompare(b.created));
    },
    async eab(kid: string) {
      const e = await tx.eab(kid);
      return e && { key: Buffer.from(e.hmac, "base64url"), account: e.account };
    },
    issuedFor: async (order) => (await tx.entryByAcmeOrder(order))?.name,
  };
}

export class RecordAcme implements AcmeBackend {
  private readonly nonces: StoredNonces;
  constructor(
    readonly session: Session,
    readonly issuer?: AcmeIssuer,
  ) {
    this.nonces = new StoredNonces(session.store);
  }

  private get store(): RecordStore {
    return this.session.store;
  }

  private read<T>(fn: (r: AcmeReads) => Promise<T>): Promise<T> {
    return guard(this.store.read((tx) => fn(readsOf(tx))));
  }
  /** A read of one row: one statement where the store can (most of an ACME request's reads). */
  private readOne<T>(fn: (r: AcmeReads) => Promise<T>): Promise<T> {
    return guard(this.store.readOne((tx) => fn(readsOf(tx))));
  }

  get<K extends Kind>(kind: K, id: string): Promise<Stored[K] | undefined> {
    return this.readOne((r) => r.get(kind, id));
  }
  accountByKey(thumbprint: string): Promise<Account | undefined> {
    return this.readOne((r) => r.accountByKey(thumbprint));
  }
  ordersOf(account: string): Promise<Order[]> {
    return this.readOne((r) => r.ordersOf(account));
  }
  eab(kid: string): Promise<{ key: Uint8Array; account?: string } | undefined> {
    return this.readOne((r) => r.eab(kid));
  }
  issuedFor(order: string): Promise<string | undefined> {
    return this.read((r) => r.issuedFor(order));
  }

  transact<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return guard(
      this.store.write(async (wtx) => {
        // Staged per attempt: an attempt the database rolls back leaves nothing behind here either.
        const puts = new Map<string, () => Promise<void>>();
        const tx: Tx = {
          ...readsOf(wtx),
          put: (kind, obj) => void puts.set(`${kind}/${obj.id}`, () => wtx.acmePut(kind, obj)),
          bindEab: (kid, account) => void puts.set(`eab/${kid}`, () => bindEab(wtx, kid, account)),
          issue: (r) => this.issueIn(wtx, r),
        };
        const out = await fn(tx);
        for (const put of puts.values()) await put();
        return out;
      }),
    );
  }

  private issueIn(tx: WriteTx, r: IssueRequest): Promise<IssuedCert> {
    if (!this.issuer) throw new AcmeProblem("serverInternal", "this server has no issuing CA unlocked", 500);
    return issueForOrder(this.session, tx, this.issuer, r);
  }

  /** The certificate, then the CAs above it but the root (RFC 8555 §9.1); a leaf under the root gets the root. */
  chainPem(name: string): Promise<string> {
    return guard(
      this.store.read(async (tx) => {
        const certs = [await certOf(tx, name)];
        const cas = [];
        for (let e = await tx.entry(name); e && e.name !== ROOT && cas.length < 16; ) {
          const up = e.issuer ?? ROOT;
          cas.push({ name: up, cert: await certOf(tx, up) });
          e = await tx.entry(up);
        }
        const chain = cas.length === 1 ? cas : cas.filter((c) => c.name !== ROOT);
        return [...certs, ...chain.map((c) => c.cert)]
          .map((c) => toPem("CERTIFICATE", new Uint8Array(c.rawData)))
          .join("");
      }),
    );
  }

  bySerial(serial: string) {
    return guard(
      this.store.read(async (tx) => {
        const e = await tx.entryBySerial(serial);
        if (!e?.acme) return undefined;
        const certDer = new Uint8Array((await certOf(tx, e.name)).rawData);
        return { name: e.name, account: e.acme.account, order: e.acme.order, revoked: e.status === "revoked", certDer };
      }),
    );
  }

  async revoke(name: string, serial: string, reason: string): Promise<void> {
    await guard(revoke(this.session, name, { serial, reason: reason as RevocationReason }));
  }

  newNonce(client: string): Promise<string> {
    return guard(this.nonces.next(client));
  }
  useNonce(nonce: string): Promise<boolean> {
    return guard(this.nonces.use(nonce));
  }
}

async function bindEab(tx: WriteTx, kid: string, account: string): Promise<void> {
  const e = await tx.eab(kid);
  if (e) await tx.putEab({ ...e, account, bound: new Date().toISOString() });
}
