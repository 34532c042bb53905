// A minimal DER reader/writer for tests that make hostile files: parse, change, re-encode with correct lengths.

const len = (n) => {
  if (n < 0x80) return Buffer.from([n]);
  const b = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) b.unshift(v & 0xff);
  return Buffer.from([0x80 | b.length, ...b]);
};
export const tlv = (tag, ...parts) => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
};
export const seq = (...p) => tlv(0x30, ...p);
export const octets = (b) => tlv(0x04, b);
export const NULL = Buffer.from("0500", "hex");
export function int(n) {
  let h = BigInt(n).toString(16);
  if (h.length % 2) h = "0" + h;
  let b = Buffer.from(h, "hex");
  if (b[0] & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}
export const OIDS = {
  pbes2: Buffer.from("06092a864886f70d01050d", "hex"),
  pbkdf2: Buffer.from("06092a864886f70d01050c", "hex"),
  hmacWithSHA256: Buffer.from("06082a864886f70d0209", "hex"),
  aes256cbc: Buffer.from("060960864801650304012a", "hex"),
};

/** An EncryptedPrivateKeyInfo (PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC) asking for `iterations`; junk ciphertext. */
export function hostilePkcs8(iterations) {
  const kdf = seq(OIDS.pbkdf2, seq(octets(Buffer.alloc(16, 1)), int(iterations), seq(OIDS.hmacWithSHA256, NULL)));
  const alg = seq(OIDS.pbes2, seq(kdf, seq(OIDS.aes256cbc, octets(Buffer.alloc(16, 2)))));
  return seq(alg, octets(Buffer.alloc(48, 3)));
}

export const pem = (label, der) =>
  `-----BEGIN ${label}-----\n${der.toString("base64").match(/.{1,64}/g).join("\n")}\n-----END ${label}-----\n`;

/** One element: { tag, body, kids? } (kids for constructed ones and for an OCTET STRING that holds one SEQUENCE). */
export function parse(buf, off = 0) {
  const tag = buf[off];
  let n = buf[off + 1], p = off + 2;
  if (n & 0x80) {
    const k = n & 0x7f;
    if (k === 0 || k > 4) throw new Error("bad length");
    n = 0;
    for (let i = 0; i < k; i++) n = n * 256 + buf[p + i];
    p += k;
  }
  if (p + n > buf.length) throw new Error("truncated");
  const body = buf.subarray(p, p + n);
  const node = { tag, body, end: p + n };
  const list = () => {
    const kids = [];
    for (let q = 0; q < body.length;) {
      const c = parse(body, q);
      kids.push(c);
      q = c.end;
    }
    return kids;
  };
  if (tag & 0x20) node.kids = list();
  else if (tag === 0x04 && body[0] === 0x30) {
    try {
      const kids = list();
      if (kids.length === 1) node.kids = kids;
    } catch { /* opaque bytes */ }
  }
  return node;
}

export const encode = (node) => (node.kids ? tlv(node.tag, ...node.kids.map(encode)) : tlv(node.tag, node.body));

/** Every element of the tree, depth first. */
export function* walk(node) {
  yield node;
  for (const k of node.kids ?? []) yield* walk(k);
}

/** Where `buf` is not DER (X.690 10.1 lengths, 11.6 SET OF order, 8.3.2 INTEGER), descending into nested DER. */
export function derProblems(buf, at = "") {
  const out = [];
  const check = (node, raw, path) => {
    const k = raw[1] & 0x80 ? raw[1] & 0x7f : 0;
    const n = node.body.length;
    if (k && (n < 0x80 || n < 256 ** (k - 1))) out.push(`${path}: length ${n} in the long form`);
    const [b0, b1] = node.body;
    if (node.tag === 0x02 && n > 1 && ((b0 === 0 && b1 < 0x80) || (b0 === 0xff && b1 >= 0x80)))
      out.push(`${path}: INTEGER not minimal`);
    const encs = (node.kids ?? []).map(encode);
    if (node.tag === 0x31)
      for (let i = 1; i < encs.length; i++)
        if (Buffer.compare(encs[i - 1], encs[i]) > 0) out.push(`${path}: SET OF element ${i} sorts before ${i - 1}`);
    let off = raw.length - node.body.length;
    (node.kids ?? []).forEach((c, i) => {
      const len = encode(c).length;
      check(c, raw.subarray(off, off + len), `${path}/${i}`);
      off += len;
    });
  };
  const tree = parse(buf);
  if (tree.end !== buf.length) out.push(`${at}: trailing bytes`);
  else if (!encode(tree).equals(buf)) out.push(`${at}: does not re-encode to the same bytes`);
  else check(tree, buf, at);
  return out;
}
