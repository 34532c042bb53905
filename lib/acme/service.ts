/**
 * RFC 8555 endpoints on verified requests: accounts, orders, authorizations, challenges, finalize,
 * certificate download and revocation. The HTTP side (nonces, JWS, headers) is in server.ts.
 */
import { randomBytes } from "node:crypto";
import type { JWK } from "jose";
import type { AcmeBackend, AcmeReads } from "./backend.js";
import type { x509 } from "../x509/peculiar.js";
import { checkCertifiable, checkContact, checkOrderCsr, isObj, parseRevocation, publicOnly } from "./checks.js";
import { validate, ValidationFailure, type ValidationContext } from "./challenges.js";
import { checkReplaces, renewalInfoOf, replacedCert } from "./ari.js";
import { spkiOf, thumbprint, verifyEab, verifyKeyChange } from "./jws.js";
import {
  Account,
  AcmeProblem,
  Authz,
  type Challenge,
  newAuthz,
  checkIdentifier,
  Identifier,
  MAX_IDENTIFIERS,
  Order,
  ORDER_LIFETIME_MS,
  orderNow,
  Policy,
  problem,
  renderAccount,
  renderAuthz,
  renderChallenge,
  renderOrder,
  Urls,
} from "./protocol.js";

export interface Reply {
  status: number;
  body?: unknown;
  location?: string;
  links?: string[];
  type?: string;
  /** seconds, for a 503 */
  retryAfter?: string;
}
export interface ServiceOptions {
  policy: Policy;
  /** The issuing CA's certificate, then its issuers: their name constraints bound what may be ordered. */
  issuerPath: x509.X509Certificate[];
  eab: boolean;
  validation: ValidationContext;
  log?: (line: string) => void;
}

const newId = () => randomBytes(12).toString("base64url");
/** Validations that connect at once; further ones wait (processing) for a free slot, up to MAX_WAITING. */
export const MAX_VALIDATIONS = 16;
export const MAX_WAITING = 1000;

export class AcmeService {
  /** Validations still running (awaited on shutdown so no write is cut in half). */
  readonly pending = new Set<Promise<void>>();
  private readonly inflight = new Set<string>();
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private stopping = false;
  constructor(
    readonly store: AcmeBackend,
    readonly o: ServiceOptions,
  ) {}

  /**
   * On shutdown: validations still waiting for a slot are dropped, not run (their challenges stay processing and
   * are validated again when a client asks after a restart), so stopping waits for those connecting at most.
   */
  stop(): void {
    this.stopping = true;
    this.running += this.waiting.length;
    for (const w of this.waiting.splice(0)) w();
  }

  async accountOf(id: string): Promise<Account> {
    const a = await this.store.get("accounts", id);
    if (!a) throw problem("accountDoesNotExist", "no such account", 400);
    if (a.status !== "valid") throw problem("unauthorized", `the account is ${a.status}`, 401);
    return a;
  }

  async newAccount(u: Urls, jwk: JWK, p: unknown): Promise<Reply> {
    if (!isObj(p)) throw problem("malformed", "newAccount needs a JSON object payload");
    const tp = await thumbprint(jwk);
    const found = await this.store.accountByKey(tp);
    if (found) {
      if (found.status !== "valid") throw problem("unauthorized", `the account is ${found.status}`, 401);
      return { status: 200, body: renderAccount(u, found), location: u.account(found.id) };
    }
    if (p.onlyReturnExisting === true) throw problem("accountDoesNotExist", "no account exists for this key");
    const contact = checkContact(p.contact);
    let eab: string | undefined;
    if (p.externalAccountBinding !== undefined) {
      eab = await verifyEab(p.externalAccountBinding, {
        url: u.newAccount,
        accountJwk: jwk,
        hmacKey: async (kid) => (await this.store.eab(kid))?.key,
      });
    } else if (this.o.eab)
      throw problem(
        "externalAccountRequired",
        "this server requires an external account binding: ask for a key with 'pki acme eab add NAME'",
        401,
      );
    return this.store.transact(async (tx) => {
      const again = await tx.accountByKey(tp);
      if (again) return { status: 200, body: renderAccount(u, again), location: u.account(again.id) };
      if (eab && (await tx.eab(eab))?.account)
        throw problem("unauthorized", `the external account key ${eab} is already bound to an account`, 403);
      const a: Account = {
        id: newId(),
        jwk: publicOnly(jwk),
        thumbprint: tp,
        status: "valid",
        contact,
        eab,
        created: new Date().toISOString(),
      };
      tx.put("accounts", a);
      if (eab) tx.bindEab(eab, a.id);
      return { status: 201, body: renderAccount(u, a), location: u.account(a.id) };
    });
  }

  async updateAccount(u: Urls, acct: Account, id: string, p: unknown): Promise<Reply> {
    if (id !== acct.id) throw problem("unauthorized", "an account may only read or change itself", 403);
    if (p === undefined) return { status: 200, body: renderAccount(u, acct), location: u.account(id) };
    if (!isObj(p)) throw problem("malformed", "the account update is not an object");
    const next = { ...acct };
    if (p.contact !== undefined) next.contact = checkContact(p.contact);
    if (p.status !== undefined) {
      if (p.status !== "deactivated") throw problem("malformed", "an account's status can only change to deactivated");
      next.status = "deactivated";
    }
    await this.store.transact(async (tx) => tx.put("accounts", next));
    return { status: 200, body: renderAccount(u, next), location: u.account(id) };
  }

  async accountOrders(u: Urls, acct: Account, id: string): Promise<Reply> {
    if (id !== acct.id) throw problem("unauthorized", "an account may only list its own orders", 403);
    const orders = await this.store.ordersOf(id);
    return { status: 200, body: { orders: orders.map((o) => u.order(o.id)) } };
  }

  async keyChange(u: Urls, acct: Account, p: unknown): Promise<Reply> {
    const newJwk = await verifyKeyChange(p, {
      url: u.keyChange,
      accountUrl: u.account(acct.id),
      oldJwk: acct.jwk as JWK,
    });
    const tp = await thumbprint(newJwk);
    return this.store.transact(async (tx) => {
      const other = await tx.accountByKey(tp);
      if (other) {
        const e = problem("conflict", "the new key already belongs to an account", 409);
        e.headers.location = u.account(other.id);
        throw e;
      }
      const next = { ...acct, jwk: publicOnly(newJwk), thumbprint: tp };
      tx.put("accounts", next);
      return { status: 200, body: renderAccount(u, next), location: u.account(acct.id) };
    });
  }

  async newOrder(u: Urls, acct: Account, p: unknown): Promise<Reply> {
    if (!isObj(p) || !Array.isArray(p.identifiers) || !p.identifiers.length)
      throw problem("malformed", "newOrder needs a non-empty identifiers list");
    if (p.identifiers.length > MAX_IDENTIFIERS)
      throw problem("rejectedIdentifier", `at most ${MAX_IDENTIFIERS} identifiers per order`);
    if (p.notBefore !== undefined || p.notAfter !== undefined)
      throw problem("malformed", "notBefore/notAfter are not supported: the server's --cert-lifetime applies");
    const ids: Identifier[] = [];
    for (const raw of p.identifiers) {
      const id = checkIdentifier(raw, this.o.policy);
      checkCertifiable(id, this.o.issuerPath);
      if (!ids.some((i) => i.type === id.type && i.value === id.value)) ids.push(id);
    }
    const replaced = p.replaces === undefined ? undefined : await replacedCert(this.store, p.replaces);
    const now = new Date();
    const expires = new Date(now.getTime() + ORDER_LIFETIME_MS).toISOString();
    const authzs = ids.map((id) => newAuthz(newId(), acct.id, id, expires));
    const order: Order = {
      id: newId(),
      account: acct.id,
      status: "pending",
      expires,
      identifiers: ids,
      authzs: authzs.map((z) => z.id),
      created: now.toISOString(),
      ...(replaced ? { replaces: p.replaces as string, replacesCert: replaced.name } : {}),
    };
    await this.store.transact(async (tx) => {
      if (replaced) await checkReplaces(tx, replaced, acct, ids, p.replaces as string);
      for (const z of authzs) tx.put("authz", z);
      tx.put("orders", order);
    });
    return { status: 201, body: renderOrder(u, order), location: u.order(order.id) };
  }

  /** GET renewalInfo/CERTID (RFC 9773 §4): the suggested window, with Retry-After. */
  async renewalInfo(certId: string): Promise<Reply> {
    const info = await renewalInfoOf(this.store, certId);
    return { status: 200, body: { suggestedWindow: info.window }, retryAfter: String(info.retryAfterSeconds) };
  }

  /** The order with its status brought up to date from its authorizations. */
  async order(acct: Account, id: string, r: AcmeReads = this.store): Promise<Order> {
    const o = await r.get("orders", id);
    if (!o) throw problem("malformed", "no such order", 404);
    if (o.account !== acct.id) throw problem("unauthorized", "the order belongs to another account", 403);
    const authzs = await Promise.all(o.authzs.map((z) => r.get("authz", z)));
    return orderNow(o, authzs.filter((z): z is Authz => !!z));
  }

  async getOrder(u: Urls, acct: Account, id: string): Promise<Reply> {
    return { status: 200, body: renderOrder(u, await this.order(acct, id)), location: u.order(id) };
  }

  async authz(acct: Account, id: string, r: AcmeReads = this.store): Promise<Authz> {
    const z = await r.get("authz", id);
    if (!z) throw problem("malformed", "no such authorization", 404);
    if (z.account !== acct.id) throw problem("unauthorized", "the authorization belongs to another account", 403);
    return z;
  }

  async getAuthz(u: Urls, acct: Account, id: string, p: unknown): Promise<Reply> {
    let z = await this.authz(acct, id);
    if (p !== undefined) {
      if (!isObj(p) || p.status !== "deactivated")
        throw problem("malformed", "an authorization can only be deactivated");
      z = { ...z, status: "deactivated" };
      const done = z;
      await this.store.transact(async (tx) => tx.put("authz", done));
    } else this.revive(acct, z);
    return { status: 200, body: renderAuthz(u, z) };
  }

  /**
   * Validations another node began and never finished (killed, or cut from the database meanwhile) leave challenges
   * processing: once such one is older than twice the deadline, whichever node a client polls validates it again.
   */
  private revive(acct: Account, z: Authz): void {
    if (z.status !== "pending" || this.stopping || this.waiting.length >= MAX_WAITING) return;
    const late = Date.now() - 2 * this.o.validation.deadlineMs;
    for (const c of z.challenges)
      if (c.status === "processing" && (c.started ? Date.parse(c.started) : 0) < late) this.launch(acct, z, c);
  }

  async challenge(u: Urls, acct: Account, authzId: string, type: string, p: unknown): Promise<Reply> {
    const z0 = await this.authz(acct, authzId);
    const c0 = z0.challenges.find((c) => c.type === type);
    if (!c0) throw problem("malformed", "no such challenge", 404);
    const links = [`<${u.authz(z0.id)}>;rel="up"`];
    const key = `${authzId}/${type}`;
    // A challenge left processing by a crash (no validation running here) is validated again when asked.
    const stale = c0.status === "processing" && !this.inflight.has(key);
    if (p === undefined) this.revive(acct, z0);
    if (p === undefined || (c0.status !== "pending" && !stale) || z0.status !== "pending")
      return { status: 200, body: renderChallenge(u, z0, c0), links };
    if (!isObj(p)) throw problem("malformed", "a challenge response is an empty JSON object");
    if (this.waiting.length >= MAX_WAITING)
      throw problem("rateLimited", "too many validations are waiting: retry this challenge later", 503);
    const z = await this.store.transact(async (tx) => {
      const cur = await this.authz(acct, authzId, tx);
      const next = {
        ...cur,
        challenges: cur.challenges.map((c) =>
          c.type === type && (c.status === "pending" || c.status === "processing")
            ? { ...c, status: "processing" as const, started: new Date().toISOString() }
            : c,
        ),
      };
      tx.put("authz", next);
      return next;
    });
    const c = z.challenges.find((x) => x.type === type)!;
    if (c.status === "processing" && z.status === "pending") this.launch(acct, z, c);
    return { status: 200, body: renderChallenge(u, z, c), links };
  }

  /** Validates the challenge in the background, unless this node already is. */
  private launch(acct: Account, z: Authz, c: Challenge): void {
    const key = `${z.id}/${c.type}`;
    if (this.inflight.has(key)) return;
    this.inflight.add(key);
    // A failure to record the outcome (say, the depot lock held too long) is logged; the challenge stays processing.
    const job: Promise<void> = this.runValidation(acct, z.id, c.type, c.token)
      .catch((e) =>
        this.o.log?.(
          `${new Date().toISOString()} validation of ${z.identifier.value} not recorded: ${(e as Error).message}`,
        ),
      )
      .finally(() => {
        this.pending.delete(job);
        this.inflight.delete(key);
      });
    this.pending.add(job);
  }

  private async runValidation(
    acct: Account,
    authzId: string,
    type: Authz["challenges"][number]["type"],
    token: string,
  ): Promise<void> {
    const z = (await this.store.get("authz", authzId))!;
    let error: AcmeProblem | undefined;
    if (this.running < MAX_VALIDATIONS) this.running++;
    else await new Promise<void>((r) => this.waiting.push(r));
    if (this.stopping) {
      this.running--;
      return;
    }
    try {
      await validate(type, z.identifier, token, acct.thumbprint, this.o.validation);
    } catch (e) {
      error =
        e instanceof AcmeProblem ? e : problem("serverInternal", `validation failed: ${(e as Error).message}`, 500);
    } finally {
      // The slot passes straight to the next waiting validation, so `running` counts connections in flight.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
    const why = error instanceof ValidationFailure ? error.reason : error?.detail;
    const outcome = why ? `invalid (${why})` : "valid";
    const what = `${z.wildcard ? "*." : ""}${z.identifier.value}`;
    this.o.log?.(`${new Date().toISOString()} validation ${type} ${what}: ${outcome}`);
    await this.store.transact(async (tx) => {
      const cur = await tx.get("authz", authzId);
      if (cur?.status !== "pending") return;
      const challenges = cur.challenges.map((c) =>
        c.type !== type
          ? c
          : {
              ...c,
              status: error ? ("invalid" as const) : ("valid" as const),
              ...(error ? { error: error.doc() } : { validated: new Date().toISOString() }),
            },
      );
      tx.put("authz", { ...cur, status: error ? "invalid" : "valid", challenges });
    });
  }

  async finalize(u: Urls, acct: Account, id: string, p: unknown): Promise<Reply> {
    const o = await this.order(acct, id);
    if (o.status !== "ready") throw problem("orderNotReady", `the order is ${o.status}, not ready`, 403);
    if (!isObj(p) || typeof p.csr !== "string" || !/^[A-Za-z0-9_-]+$/.test(p.csr))
      throw problem("malformed", "finalize needs a base64url csr");
    const csrDer = Buffer.from(p.csr, "base64url");
    // The policy may have narrowed since the order was made (a restart with another --allow).
    for (const i of o.identifiers) checkIdentifier(i, this.o.policy);
    await checkOrderCsr(csrDer, o.identifiers, acct.jwk as JWK);
    // A certificate the depot recorded while the order was left ready (a crash between the two on a depot of old):
    // that certificate is the answer. Looked up before the transaction, since only a finalize records an order's
    // certificate, with the order, in one transaction (whose write of the order excludes a second), and a look-up
    // that finds nothing in a serializable transaction conflicts with every finalize inserting beside it.
    const recorded = await this.store.issuedFor(o.id);
    const done = await this.store.transact(async (tx) => {
      const cur = await this.order(acct, id, tx);
      if (cur.status !== "ready") throw problem("orderNotReady", `the order is ${cur.status}, not ready`, 403);
      const r = { csrDer, identifiers: cur.identifiers, account: acct.id, order: cur.id, replaces: cur.replacesCert };
      const name = recorded ?? (await tx.issue(r)).name;
      const next: Order = { ...cur, status: "valid", cert: name };
      tx.put("orders", next);
      return next;
    });
    return { status: 200, body: renderOrder(u, done), location: u.order(id) };
  }

  async certificate(acct: Account, orderId: string): Promise<Reply> {
    const o = await this.order(acct, orderId);
    if (o.status !== "valid" || !o.cert) throw problem("malformed", "the order has no certificate", 404);
    return { status: 200, body: await this.store.chainPem(o.cert), type: "application/pem-certificate-chain" };
  }

  /** revokeCert, signed by the issuing account (kid) or by the certificate's own key (jwk). */
  async revoke(signer: { account?: Account; jwk?: JWK }, p: unknown): Promise<Reply> {
    const { cert, reason } = parseRevocation(p);
    const found = await this.store.bySerial(cert.serialNumber.toLowerCase());
    if (!found || !Buffer.from(found.certDer).equals(Buffer.from(cert.rawData)))
      throw problem("malformed", "this server did not issue that certificate", 404);
    const byKey = signer.jwk && Buffer.from(cert.publicKey.rawData).equals(spkiOf(signer.jwk));
    const byAccount = signer.account && signer.account.id === found.account;
    if (!byKey && !byAccount)
      throw problem("unauthorized", "only the issuing account or the certificate's key may revoke it", 403);
    if (found.revoked) throw problem("alreadyRevoked", "the certificate is already revoked");
    await this.store.revoke(found.name, cert.serialNumber.toLowerCase(), reason);
    return { status: 200 };
  }
}
