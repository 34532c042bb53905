/**
 * The CRLs `pki acme serve --crl-listen` keeps fresh itself: it holds the CA key (it signs certificates), so it
 * re-signs a CA's CRL (revoke.ts's crl: one write, the next cRLNumber, every revocation recorded) once the latest
 * is past half its validity or there is none, checked every so often and whenever a fetch finds it stale, so what
 * it serves never passes its nextUpdate. Only the CAs that publish a URL; a CA whose key this passphrase does not
 * open is reported once and served as `pki crl` left it. `pki serve` holds no CA key and never re-signs.
 */
import { parseDurationMs } from "../../lib/x509/duration.js";
import { readCrl } from "../../lib/x509/crl-read.js";
import { InputError } from "../../lib/x509/validate.js";
import { DepotError } from "../fsutil.js";
import { crl } from "./revoke.js";
import type { Session } from "./session.js";

/** How often the CAs are looked over at most (a quarter of the validity, for short test validities less). */
const MAX_PERIOD_MS = 10 * 60_000;

/** True when `der` is missing, unreadable, or at least half-way from its thisUpdate to its nextUpdate. */
export function crlStale(der: Uint8Array | undefined, now = new Date()): boolean {
  if (!der) return true;
  try {
    const c = readCrl(der);
    if (!c.nextUpdate) return false;
    const half = c.thisUpdate.getTime() + (c.nextUpdate.getTime() - c.thisUpdate.getTime()) / 2;
    return now.getTime() >= half;
  } catch {
    return true;
  }
}

export class CrlRefresher {
  private readonly pending = new Map<string, Promise<Uint8Array | undefined>>();
  private readonly failed = new Set<string>();
  private timer?: NodeJS.Timeout;
  private sweeping?: Promise<void>;
  readonly periodMs: number;

  /** `nextUpdate`: the validity of each CRL it signs ("7d"); `log`: one line each (no newline). */
  constructor(
    private readonly s: Session, private readonly nextUpdate: string, private readonly log: (l: string) => void,
  ) {
    this.periodMs = Math.max(1000, Math.min(MAX_PERIOD_MS, parseDurationMs(nextUpdate) / 4));
  }

  /** The DER to serve for `ca`: `der` while fresh, else a CRL re-signed now (or `der` if that fails). */
  async fresh(ca: string, der: Uint8Array | undefined): Promise<Uint8Array | undefined> {
    if (!crlStale(der)) return der;
    return (await this.resign(ca)) ?? der;
  }

  /** Re-signs every stale CRL now, then every periodMs until stop(). */
  async start(): Promise<void> {
    await this.sweep();
    this.timer = setInterval(() => {
      this.sweeping ??= this.sweep().finally(() => { this.sweeping = undefined; });
    }, this.periodMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
    await Promise.all(this.pending.values());
  }

  private async sweep(): Promise<void> {
    let cas: Array<{ ca: string; der?: Uint8Array }>;
    try {
      cas = await this.s.store.read(async (tx) => {
        const out = [];
        for await (const e of tx.list())
          if (e.kind === "ca" && e.crlUrl) out.push({ ca: e.name, der: (await tx.crl(e.name))?.der });
        return out;
      });
    } catch {
      return; // the store is out of reach for now: the next round tries again
    }
    for (const { ca, der } of cas) if (crlStale(der)) await this.resign(ca);
  }

  /** One re-signing per CA at a time in this process; concurrent callers share it. */
  private resign(ca: string): Promise<Uint8Array | undefined> {
    let p = this.pending.get(ca);
    if (!p) {
      p = this.sign(ca).finally(() => this.pending.delete(ca));
      this.pending.set(ca, p);
    }
    return p;
  }

  private async sign(ca: string): Promise<Uint8Array | undefined> {
    try {
      const r = await crl(this.s, ca, { nextUpdate: this.nextUpdate });
      this.failed.delete(ca);
      this.log(`Re-signed the CRL of "${ca}": #${r.number}, next update ${r.nextUpdate.toISOString()}`);
      return r.der;
    } catch (e) {
      if (!this.failed.has(ca)) {
        const why = e instanceof DepotError || e instanceof InputError ? e.message : "its key could not be used";
        this.log(`pki: cannot re-sign the CRL of "${ca}" (${why}): it is served as 'pki crl' left it`);
      }
      this.failed.add(ca);
      return undefined;
    }
  }
}
