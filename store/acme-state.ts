/**
 * ACME state in the depot, beside the CA it serves:
 *
 *   acme/accounts/ID.json  acme/orders/ID.json  acme/authz/ID.json   one object per file (0600)
 *   acme/eab/KID.json      an external account binding key (HMAC secret, 0600) and the account bound to it
 *
 * Every change is made under the depot lock (and one at a time in this process), each file written
 * atomically; so the state survives a restart and `pki revoke`/`pki crl` can run beside the server.
 * Certificates issued from orders are ordinary index entries (external: no key in the depot) named
 * acme-SERIAL, carrying the account and order: `pki list` shows them, `pki revoke` and `pki crl` see them.
 * Nonces are not persisted: after a restart a client's old nonce gets badNonce, which every client retries.
 */
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { x509 } from "../lib/x509/peculiar.js";
import type { Sans } from "../lib/x509/cert.js";
import { describeKey, specOfSpki, type SigningKey } from "../lib/x509/keys.js";
import { checkName, InputError } from "../lib/x509/validate.js";
import type { RevocationReason } from "../lib/x509/crl.js";
import type { AcmeBackend, IssuedCert, IssueRequest, Kind, Stored, Tx } from "../lib/acme/backend.js";
import { MemoryNonces } from "../lib/acme/nonces.js";
import { problem, type Account, type Order } from "../lib/acme/protocol.js";
import { OIDS, sanValue } from "../lib/x509/build.js";
import { ACME_PROFILE, commonNameFor } from "./acme/names.js";
import { Depot, ROOT } from "./depot.js";
import { DepotError, readText, writeAtomic } from "./fsutil.js";

const ID_RE = /^[\w-]{1,64}$/;
const KINDS: Kind[] = ["accounts", "orders", "authz"];
export { ACME_PROFILE };

export interface IssuerMaterial {
  name: string;
  cert: x509.X509Certificate;
  keys: SigningKey;
  lifetimeMs: number;
}

export class AcmeState implements AcmeBackend {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly nonces = new MemoryNonces();
  constructor(
    readonly depot: Depot,
    readonly issuer?: IssuerMaterial,
  ) {}

  private dir(...p: string[]): string {
    return this.depot.path("acme", ...p);
  }

  /** Creates acme/ and its folders (0700). */
  prepare(): void {
    for (const k of [...KINDS, "eab"]) mkdirSync(this.dir(k), { recursive: true, mode: 0o700 });
  }

  async get<K extends Kind>(kind: K, id: string): Promise<Stored[K] | undefined> {
    return this.read(kind, id);
  }

  private read<K extends Kind>(kind: K, id: string): Stored[K] | undefined {
    if (!ID_RE.test(id)) return undefined;
    const p = this.dir(kind, `${id}.json`);
    if (!existsSync(p)) return undefined;
    return parse(readText(p, `acme/${kind}/${id}.json`), `acme/${kind}/${id}.json`) as Stored[K];
  }

  private all<K extends Kind>(kind: K): Stored[K][] {
    if (!existsSync(this.dir(kind))) return [];
    return readdirSync(this.dir(kind))
      .filter((f) => /^[\w-]{1,64}\.json$/.test(f))
      .map((f) => this.read(kind, f.slice(0, -5))!)
      .filter(Boolean);
  }

  async accountByKey(thumbprint: string): Promise<Account | undefined> {
    return this.all("accounts").find((a) => a.thumbprint === thumbprint);
  }

  async ordersOf(account: string): Promise<Order[]> {
    return this.all("orders")
      .filter((o) => o.account === account)
      .sort((a, b) => a.created.localeCompare(b.created));
  }

  async newNonce(client: string): Promise<string> {
    return this.nonces.next(client);
  }

  async useNonce(nonce: string): Promise<boolean> {
    return this.nonces.use(nonce);
  }

  transact<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    const run = this.queue.then(() =>
      this.depot.withLock(async () => {
        const puts = new Map<string, [Kind, { id: string }]>();
        const binds: Array<[string, string]> = [];
        const tx: Tx = {
          get: (kind, id) => this.get(kind, id),
          accountByKey: (tp) => this.accountByKey(tp),
          ordersOf: (account) => this.ordersOf(account),
          eab: (kid) => this.eab(kid),
          issuedFor: (order) => this.issuedFor(order),
          put: (kind, obj) => void puts.set(`${kind}/${obj.id}`, [kind, obj]),
          bindEab: (kid, account) => void binds.push([kid, account]),
          issue: (r) => this.issueLocked(r),
        };
        const out = await fn(tx);
        if (puts.size) this.prepare();
        for (const [kind, obj] of puts.values())
          writeAtomic(this.dir(kind, `${obj.id}.json`), JSON.stringify(obj) + "\n", 0o600);
        for (const [kid, account] of binds) this.bindEab(kid, account);
        return out;
      }),
    );
    this.queue = run.catch(() => undefined);
    return run;
  }

  async eab(kid: string): Promise<{ key: Uint8Array; account?: string } | undefined> {
    if (!ID_RE.test(kid) || !existsSync(this.dir("eab", `${kid}.json`))) return undefined;
    const e = parse(readText(this.dir("eab", `${kid}.json`)), `acme/eab/${kid}.json`) as {
      hmac: string;
      account?: string;
    };
    return { key: Buffer.from(e.hmac, "base64url"), account: e.account };
  }

  private bindEab(kid: string, account: string): void {
    const p = this.dir("eab", `${kid}.json`);
    const e = parse(readText(p), `acme/eab/${kid}.json`) as Record<string, unknown>;
    writeAtomic(p, JSON.stringify({ ...e, account, bound: new Date().toISOString() }) + "\n", 0o600);
  }

  /** `pki acme eab add NAME`: a new key id (NAME) and a 256-bit HMAC key, printed once, kept 0600. */
  async addEab(name: string): Promise<{ kid: string; hmac: string }> {
    checkName(name);
    if (!ID_RE.test(name)) throw new InputError(`invalid EAB name "${name}": use letters, digits, _ and -`);
    return this.depot.withLock(async () => {
      this.prepare();
      const p = this.dir("eab", `${name}.json`);
      if (existsSync(p)) throw new InputError(`an EAB key "${name}" already exists`);
      const hmac = randomBytes(32).toString("base64url");
      writeAtomic(p, JSON.stringify({ kid: name, hmac, created: new Date().toISOString() }) + "\n", 0o600);
      return { kid: name, hmac };
    });
  }

  async chainPem(name: string): Promise<string> {
    // Intermediates only, as RFC 8555 §9.1 expects; a leaf signed by the root itself gets the root, since
    // certbot (and other clients that split fullchain.pem into cert and chain) refuse a one-certificate chain.
    const all = this.depot.issuerChain(name);
    const chain = all.length === 1 ? all : all.filter((c) => c.name !== ROOT);
    return [this.depot.readCert(name), ...chain.map((c) => c.cert)].map((c) => c.toString("pem") + "\n").join("");
  }

  async issuedFor(order: string): Promise<string | undefined> {
    return Object.values(this.depot.readIndex().entries).find((e) => e.acme?.order === order)?.name;
  }

  async bySerial(
    serial: string,
  ): Promise<{ name: string; account?: string; order?: string; revoked: boolean; certDer: Uint8Array } | undefined> {
    const e = Object.values(this.depot.readIndex().entries).find((x) => x.serial?.toLowerCase() === serial && x.acme);
    if (!e) return undefined;
    return {
      name: e.name,
      account: e.acme?.account,
      order: e.acme?.order,
      revoked: e.status === "revoked",
      certDer: new Uint8Array(this.depot.readCert(e.name).rawData),
    };
  }

  async revoke(name: string, serial: string, reason: string): Promise<void> {
    await this.depot.revoke(name, { reason: reason as RevocationReason, serial });
  }

  /** Signs an order's (already checked) CSR with the lock held (Depot.issue: serial, clamping, name constraints). */
  private async issueLocked(r: IssueRequest): Promise<IssuedCert> {
    const is = this.issuer;
    if (!is) throw problem("serverInternal", "this server has no issuing CA unlocked", 500);
    const csr = new x509.Pkcs10CertificateRequest(new Uint8Array(r.csrDer));
    const idx = this.depot.readIndex();
    const sans: Sans = {
      domains: r.identifiers.filter((i) => i.type === "dns").map((i) => i.value),
      ips: r.identifiers.filter((i) => i.type === "ip").map((i) => i.value),
    };
    const cn = commonNameFor(csr.subjectName.getField("CN")[0], r.identifiers);
    const subject = new x509.Name(cn ? [{ CN: [cn] }] : []);
    let cert: x509.X509Certificate;
    try {
      cert = await this.depot.issue(idx, {
        subject,
        // RFC 5280 4.2.1.6: with an empty subject the names are in a critical subjectAltName.
        extensions: cn ? undefined : [{ oid: OIDS.subjectAltName, critical: true, value: sanValue(sans) }],
        publicKey: csr.publicKey,
        sans,
        issuer: is.name,
        issuerCert: is.cert,
        issuerKeys: is.keys,
        profile: ACME_PROFILE,
        notAfter: (from) => new Date(from.getTime() + is.lifetimeMs),
      });
    } catch (e) {
      if (e instanceof InputError) throw problem("rejectedIdentifier", e.message, 403);
      throw e;
    } finally {
      this.depot.warnings.length = 0;
    }
    const serial = cert.serialNumber.toLowerCase();
    const name = idx.entries[`acme-${serial.slice(0, 16)}`] ? `acme-${serial}` : `acme-${serial.slice(0, 16)}`;
    // As for every external-key entry: the request beside the certificate, then the index entry that makes them
    // visible.
    writeAtomic(this.depot.csrPath(name), csr.toString("pem") + "\n", 0o644);
    writeAtomic(this.depot.certPath(name), cert.toString("pem") + "\n", 0o644);
    idx.entries[name] = {
      name,
      kind: "leaf",
      issuer: is.name === ROOT ? undefined : is.name,
      subject: cert.subject,
      keyType: describeKey(specOfSpki(csr.publicKey.rawData)),
      sans,
      status: "signed",
      created: new Date().toISOString(),
      serial,
      notBefore: cert.notBefore.toISOString(),
      notAfter: cert.notAfter.toISOString(),
      usage: "peer",
      external: true,
      acme: { account: r.account, order: r.order },
    };
    this.depot.writeIndex(idx);
    return { name, serial };
  }
}

function parse(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new DepotError(`${what} is damaged (not JSON)`);
  }
}
