/** PEM armour: RFC 7468 encoding and decoding. */
export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

export interface PemBlock { label: string; der: Buffer<ArrayBuffer> }

/** Every PEM block in `text`, in order. */
export function parsePemAll(text: string): PemBlock[] {
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  const out: PemBlock[] = [];
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (/^[\w-]+:/m.test(m[2]))
      throw new Error(`PEM block "${m[1]}" has headers (legacy encryption): not supported here`);
    out.push({ label: m[1], der: Buffer.from(m[2].replace(/\s+/g, ""), "base64") as Buffer<ArrayBuffer> });
  }
  return out;
}

/** The one PEM block with `label` in `text`; throws naming `what` if absent. */
export function parsePem(text: string, label: string, what = "input"): Buffer<ArrayBuffer> {
  const block = parsePemAll(text).find((b) => b.label === label);
  if (!block || block.der.length === 0) throw new Error(`${what}: no PEM "${label}" block found`);
  return block.der;
}
