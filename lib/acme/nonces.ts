/**
 * Nonces kept in one process's memory (a server on a layout-1 depot; the record store keeps them itself, shared by
 * every node). Each is good once. Past NONCES_PER_CLIENT an address's own oldest are forgotten, so a flood of
 * newNonce from one address evicts only its own; past MAX_NONCES (many addresses at once) the oldest of all go.
 * A client whose nonce was forgotten gets badNonce and retries, as RFC 8555 clients do.
 */
import { randomBytes } from "node:crypto";

/** Outstanding nonces per client address (an IPv6 /64 counts as one address), and in all. */
export const NONCES_PER_CLIENT = 2000;
export const MAX_NONCES = 50_000;

/** The address a nonce is charged to: IPv4 as is, IPv6 by its /64 (one host usually holds a whole /64). */
export function clientOf(address: string | undefined): string {
  const a = (address ?? "").replace(/^::ffff:(?=\d+\.)/i, "");
  if (!a.includes(":")) return a;
  const [head, tail] = a.toLowerCase().split("::");
  const h = head ? head.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - tail.split(":").length).fill("0")];
  return `${groups.slice(0, 4).join(":")}::/64`;
}

export class MemoryNonces {
  private readonly owner = new Map<string, string>();
  private readonly byClient = new Map<string, Set<string>>();
  next(client: string): string {
    const n = randomBytes(16).toString("base64url");
    let mine = this.byClient.get(client);
    if (!mine) this.byClient.set(client, (mine = new Set()));
    mine.add(n);
    this.owner.set(n, client);
    if (mine.size > NONCES_PER_CLIENT) this.use(mine.values().next().value!);
    if (this.owner.size > MAX_NONCES) this.use(this.owner.keys().next().value!);
    return n;
  }
  use(n: string): boolean {
    const client = this.owner.get(n);
    if (client === undefined) return false;
    this.owner.delete(n);
    const mine = this.byClient.get(client)!;
    mine.delete(n);
    if (!mine.size) this.byClient.delete(client);
    return true;
  }
}
