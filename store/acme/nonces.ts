/**
 * Nonces in the record store, so that any node sharing it accepts a nonce once and no node twice (the store takes
 * it with one DELETE). A node records nonces a batch at a time, before handing any of them out, so a response
 * costs a write only once per BATCH; a request's nonce is taken in its own short write. Nonces expire after
 * LIFETIME_MS; every PRUNE_MS a node forgets the expired ones, and beyond MAX_STORED the soonest to expire, so the
 * table stays bounded whatever a flood of newNonce requests does (a client whose nonce went gets badNonce and
 * retries, as RFC 8555 clients do).
 */
import { randomBytes } from "node:crypto";
import type { RecordStore } from "../records/schema.js";

export const LIFETIME_MS = 15 * 60_000;
export const BATCH = 16;
export const PRUNE_MS = 60_000;
export const MAX_STORED = 100_000;
const NONCE_RE = /^[A-Za-z0-9_-]{22}$/;

export class StoredNonces {
  private pool: Array<{ nonce: string; expires: number }> = [];
  private refill?: Promise<void>;
  private lastPrune = 0;

  constructor(private readonly store: RecordStore) {}

  async next(_client: string): Promise<string> {
    for (;;) {
      const now = Date.now();
      // One left with less than half its life would be refused soon after a client got it.
      while (this.pool.length && this.pool[0].expires - now < LIFETIME_MS / 2) this.pool.shift();
      const got = this.pool.shift();
      if (got) return got.nonce;
      this.refill ??= this.record().finally(() => (this.refill = undefined));
      await this.refill;
    }
  }

  /** True once, on any node, for a nonce some node recorded and that has not expired. */
  async use(nonce: string): Promise<boolean> {
    if (typeof nonce !== "string" || !NONCE_RE.test(nonce)) return false;
    return this.store.takeNonce(nonce);
  }

  private async record(): Promise<void> {
    const expires = Date.now() + LIFETIME_MS;
    const batch = Array.from({ length: BATCH }, () => ({ nonce: randomBytes(16).toString("base64url"), expires }));
    await this.store.write(async (tx) => {
      for (const b of batch) await tx.putNonce(b.nonce, new Date(b.expires));
    });
    this.pool.push(...batch);
    if (Date.now() - this.lastPrune >= PRUNE_MS) {
      this.lastPrune = Date.now();
      // Off the request's path; a failure leaves them for the next prune.
      void Promise.resolve()
        .then(() => this.store.write((tx) => tx.pruneNonces(MAX_STORED)))
        .catch(() => undefined);
    }
  }
}
