/**
 * A Name's RFC 4514 text exactly as @peculiar/x509's Name.toString() writes it: index.json records that text
 * and sign compares a request's subject with it, so the paths that do without @peculiar/x509 (issue, new-cert,
 * sign) must write the same. Values of other string types give undefined: the caller asks @peculiar/x509.
 */
import { children, oidText, readTlv, value } from "./der.js";

const TYPE_NAMES: Record<string, string> = {
  "2.5.4.3": "CN", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.6": "C",
  "0.9.2342.19200300.100.1.25": "DC", "1.2.840.113549.1.9.1": "E", "2.5.4.42": "G", "2.5.4.43": "I",
  "2.5.4.4": "SN", "2.5.4.12": "T",
};

/** RFC 4514 escaping exactly as @peculiar/x509 does it (its last rule replaces the first match only). */
function escape(v: string): string {
  return v
    .replace(/([,+"\\<>;])/g, "\\$1")
    .replace(/^([ #])/, "\\$1")
    .replace(/([ ]$)/, "\\$1")
    .replace(/([\r\n\t])/, (c) => `\\${Buffer.from(c).toString("hex").toUpperCase()}`);
}

/** A Name's text as @peculiar/x509 writes it, for UTF8String, PrintableString and IA5String values; else undefined. */
export function nameText(der: Uint8Array): string | undefined {
  const rdns: string[] = [];
  for (const rdn of children(der, readTlv(der))) {
    if (rdn.tag !== 0x31) return undefined;
    const atvs: string[] = [];
    for (const atv of children(der, rdn)) {
      const [type, val, ...rest] = children(der, atv);
      if (atv.tag !== 0x30 || type?.tag !== 0x06 || !val || rest.length) return undefined;
      const oid = oidText(value(der, type));
      const bytes = value(der, val);
      const text =
        val.tag === 0x0c ? bytes.toString("utf8") : val.tag === 0x13 || val.tag === 0x16 ? bytes.toString("latin1") : undefined;
      if (text === undefined) return undefined;
      atvs.push(`${TYPE_NAMES[oid] ?? oid}=${escape(text)}`);
    }
    rdns.push(atvs.join("+"));
  }
  return rdns.join(", ");
}
