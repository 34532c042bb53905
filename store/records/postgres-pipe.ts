/**
 * One transaction's statements on one pooled client, as few as the guarantees allow (pg sends one query at a time,
 * and under load each answer waits for a turn of this process's event loop: a SERIALIZABLE transaction kept open
 * longer overlaps, and conflicts with, more of the others):
 * - BEGIN goes out with the first statement, not at all when `fn` makes none;
 * - a write whose answer nobody needs (an upsert of a blob or of an ACME object, a batch of nonces) is held and
 *   sent with the others held, as one statement of data-modifying WITH queries, before the next statement or
 *   COMMIT; two held writes of one row are never in one statement (its parts see one snapshot, not each other);
 * - one statement run on its own (no BEGIN given) is a transaction by itself: no BEGIN, no COMMIT.
 * Statements asked for at once (reads under Promise.all) go to pg one after another: pg 8 warns on stderr of a
 * query given while another waits, and pg 9 refuses it.
 */
import type { PgClient, PgResult } from "./postgres-conn.js";

/** A held write: one INSERT with its parameters $1..$n, and the row it writes (table and key). */
export interface HeldWrite {
  sql: string;
  params: unknown[];
  row: string;
}

export class PgPipe {
  private begun: boolean;
  private statements = 0;
  private held: HeldWrite[] = [];
  /** The last statement asked for, settled or not: the next waits for it. */
  private tail: Promise<unknown> = Promise.resolve();

  /**
   * `beginSql`: the transaction's BEGIN; null when the caller has begun it (commit() then sends what is held, and
   * the caller ends it); undefined for one statement that is a transaction of its own.
   */
  constructor(private readonly client: PgClient, private readonly beginSql: string | null | undefined) {
    this.begun = beginSql === null;
  }

  /** A statement, after BEGIN and what is held. */
  query(sql: string, params: unknown[]): Promise<PgResult> {
    return this.inTurn(async () => {
      await this.send();
      await this.open();
      return this.client.query(sql, params);
    });
  }

  /** Holds a write until the next statement or the commit (its failure is theirs). */
  async hold(w: HeldWrite): Promise<void> {
    if (this.beginSql === undefined) throw new Error("records: a held write outside a transaction");
    if (this.held.some((h) => h.row === w.row)) await this.flush();
    this.held.push(w);
  }

  /** Sends what is held, as one statement. */
  flush(): Promise<void> {
    return this.inTurn(() => this.send());
  }

  private async send(): Promise<void> {
    if (!this.held.length) return;
    const held = this.held;
    this.held = [];
    await this.open();
    if (held.length === 1) {
      await this.client.query(held[0].sql, held[0].params);
      return;
    }
    const params: unknown[] = [];
    const parts = held.map((h, i) => {
      const at = params.length;
      params.push(...h.params);
      return `w${i} AS (${h.sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + at}`)})`;
    });
    await this.client.query(`WITH ${parts.join(", ")} SELECT 1`, params);
  }

  /** Ends a transaction its function finished: what is held, then COMMIT. */
  commit(): Promise<void> {
    return this.inTurn(async () => {
      try {
        await this.send();
      } catch (e) {
        await this.abort();
        throw e;
      }
      if (!this.begun || this.beginSql === null) return;
      const r = await this.client.query("COMMIT");
      // PostgreSQL ends a transaction that had failed with a ROLLBACK, whatever COMMIT asked
      if (r.command === "ROLLBACK") throw new Error("records: PostgreSQL rolled the transaction back at COMMIT");
    });
  }

  /** Ends a transaction its function failed in: what is held is dropped. */
  rollback(): Promise<void> {
    return this.inTurn(() => this.abort());
  }

  private async abort(): Promise<void> {
    this.held = [];
    if (this.begun && this.beginSql !== null) await this.client.query("ROLLBACK").catch(() => undefined);
  }

  /** Runs `f` once every statement asked for before it has settled. */
  private inTurn<T>(f: () => Promise<T>): Promise<T> {
    const turn = this.tail.then(f, f);
    this.tail = turn.catch(() => undefined);
    return turn;
  }

  private async open(): Promise<void> {
    if (this.beginSql === undefined) {
      if (this.statements++) throw new Error("records: a second statement where one was promised");
      return;
    }
    if (this.begun || this.beginSql === null) return;
    this.begun = true; // set first: a BEGIN that fails still wants its ROLLBACK
    await this.client.query(this.beginSql);
  }
}
