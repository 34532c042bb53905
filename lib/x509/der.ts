/**
 * A small DER writer and reader (X.690), hand-written on purpose.
 *
 * Why not a package: every maintained JavaScript library that encodes certificates (@peculiar/x509,
 * pkijs, node-forge's successors) goes through asn1js or an equivalent object model, which costs
 * ~3 ms and several allocations per certificate; a profile of `pki fixtures` put two thirds of its
 * time there. Issuance needs only a dozen primitive types in a fixed order, so the bytes are built
 * directly here. The reader below is bounds-checked; it walks what the hot paths read back (pki's own
 * certificates and requests from the depot: certinfo.ts, csrinfo.ts, which refuse, or hand to
 * @peculiar/x509, anything outside the plain forms pki writes). Other untrusted input stays with @peculiar/x509.
 */

export class DerError extends Error {}

/** A TLV with `tag` around the concatenation of `parts`: one allocation, the parts copied once (the issuance hot path). */
export function tlv(tag: number, ...parts: Uint8Array[]): Buffer {
  let len = 0;
  for (const p of parts) len += p.length;
  let head = 2; // tag and short-form length; the long form adds one byte per byte of the length (X.690 8.1.3.5)
  if (len >= 0x80) for (let v = len; v > 0; v = Math.floor(v / 256)) head++;
  const out = Buffer.allocUnsafe(head + len);
  out[0] = tag;
  if (head === 2) out[1] = len;
  else {
    out[1] = 0x80 | (head - 2);
    for (let i = head - 1, v = len; i >= 2; i--, v = Math.floor(v / 256)) out[i] = v & 0xff;
  }
  let off = head;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export const seq = (...parts: Uint8Array[]) => tlv(0x30, ...parts);
export const set = (...parts: Uint8Array[]) => tlv(0x31, ...parts);
/** SET OF: DER sorts the encoded elements (X.690 11.6). */
export const setOf = (...parts: Uint8Array[]) => tlv(0x31, ...[...parts].sort(Buffer.compare));
export const NULL = Buffer.from([0x05, 0x00]);
export const bool = (v: boolean) => Buffer.from([0x01, 0x01, v ? 0xff : 0x00]);
export const octets = (b: Uint8Array) => tlv(0x04, b);
export const bitString = (b: Uint8Array, unused = 0) => tlv(0x03, Buffer.from([unused]), b);
export const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, "utf8"));
export const printable = (s: string) => tlv(0x13, Buffer.from(s, "latin1"));
export const ia5 = (s: string) => tlv(0x16, Buffer.from(s, "latin1"));
/** [n] IMPLICIT primitive / constructed, and [n] EXPLICIT (always constructed). */
export const ctxPrim = (n: number, b: Uint8Array) => tlv(0x80 | n, b);
export const ctxCons = (n: number, ...parts: Uint8Array[]) => tlv(0xa0 | n, ...parts);

/** INTEGER from a non-negative number, bigint or hex string (minimal two's complement). */
export function int(v: number | bigint | string): Buffer {
  let hex = typeof v === "string" ? v.replace(/^0x/i, "") : BigInt(v).toString(16);
  if (!/^[0-9a-f]+$/i.test(hex)) throw new DerError(`not a non-negative integer: ${String(v).slice(0, 40)}`);
  if (hex.length % 2) hex = "0" + hex;
  let b = Buffer.from(hex, "hex");
  let i = 0;
  while (i < b.length - 1 && b[i] === 0 && b[i + 1] < 0x80) i++;
  b = b.subarray(i);
  if (b[0] >= 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}

const oidCache = new Map<string, Buffer>();
/** OBJECT IDENTIFIER from dotted text (cached: a few dozen OIDs are encoded over and over). */
export function oid(dotted: string): Buffer {
  let out = oidCache.get(dotted);
  if (out) return out;
  const arcs = dotted.split(".").map((a) => {
    if (!/^(0|[1-9]\d*)$/.test(a)) throw new DerError(`invalid OID ${dotted.slice(0, 60)}`);
    return BigInt(a);
  });
  if (arcs.length < 2 || arcs[0] > 2n || (arcs[0] < 2n && arcs[1] > 39n))
    throw new DerError(`invalid OID ${dotted.slice(0, 60)}`);
  const bytes: number[] = [];
  [arcs[0] * 40n + arcs[1], ...arcs.slice(2)].forEach((arc) => {
    const b7: number[] = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) b7.unshift(Number(v & 0x7fn) | 0x80);
    bytes.push(...b7);
  });
  out = tlv(0x06, Buffer.from(bytes));
  oidCache.set(dotted, out);
  return out;
}

/** RFC 5280 4.1.2.5: UTCTime for 1950-2049, GeneralizedTime otherwise; whole seconds, always Z. */
export function time(d: Date): Buffer {
  if (Number.isNaN(d.getTime())) throw new DerError("invalid date");
  const y = d.getUTCFullYear();
  if (y < 0 || y > 9999) throw new DerError(`year ${y} cannot be encoded`);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const rest =
    p(d.getUTCMonth() + 1) + p(d.getUTCDate()) + p(d.getUTCHours()) + p(d.getUTCMinutes()) + p(d.getUTCSeconds()) + "Z";
  if (y >= 1950 && y < 2050) return tlv(0x17, Buffer.from(p(y % 100) + rest, "latin1"));
  return tlv(0x18, Buffer.from(p(y, 4) + rest, "latin1"));
}

// ---- reader ---------------------------------------------------------------

/** One TLV inside `buf`: tag, where its value starts and where the whole element ends. */
export interface Tlv { tag: number; start: number; valueStart: number; end: number }

/** Reads the TLV at `off`, checking that it fits before `limit`. Single-byte tags only (all pki needs). */
export function readTlv(buf: Uint8Array, off = 0, limit = buf.length): Tlv {
  if (off + 2 > limit) throw new DerError("truncated DER");
  const tag = buf[off];
  if ((tag & 0x1f) === 0x1f) throw new DerError("multi-byte tags are not supported");
  let len = buf[off + 1];
  let p = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > limit) throw new DerError("bad DER length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i];
    p += n;
  }
  if (p + len > limit) throw new DerError("truncated DER");
  return { tag, start: off, valueStart: p, end: p + len };
}

/** The elements directly inside a constructed TLV. */
export function children(buf: Uint8Array, t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = t.valueStart; p < t.end;) {
    const c = readTlv(buf, p, t.end);
    out.push(c);
    p = c.end;
  }
  return out;
}

export const value = (buf: Uint8Array, t: Tlv) =>
  Buffer.from(buf.buffer, buf.byteOffset + t.valueStart, t.end - t.valueStart);
export const whole = (buf: Uint8Array, t: Tlv) => Buffer.from(buf.buffer, buf.byteOffset + t.start, t.end - t.start);

/** Dotted text of an OBJECT IDENTIFIER's value bytes. */
export function oidText(v: Uint8Array): string {
  const arcs: bigint[] = [];
  let acc = 0n;
  for (const b of v) {
    acc = (acc << 7n) | BigInt(b & 0x7f);
    if (!(b & 0x80)) { arcs.push(acc); acc = 0n; }
  }
  if (!arcs.length) throw new DerError("empty OID");
  const first = arcs[0] < 80n ? arcs[0] / 40n : 2n;
  return [first, arcs[0] - first * 40n, ...arcs.slice(1)].join(".");
}

/** Non-negative INTEGER value as a JS number (throws past 2^53). */
export function intValue(v: Uint8Array): number {
  if (v.length === 0 || v[0] & 0x80) throw new DerError("not a non-negative INTEGER");
  let n = 0;
  for (const b of v) n = n * 256 + b;
  if (!Number.isSafeInteger(n)) throw new DerError("INTEGER too large");
  return n;
}
