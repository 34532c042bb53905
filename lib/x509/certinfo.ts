/**
 * The fields of a certificate that issuing under it and exporting it need (its DER, serial, validity, key,
 * extensions), read with the bounds-checked DER reader of der.ts. `pki issue`, `sign`, `export` and the API's
 * classes use this instead of @peculiar/x509, whose ASN.1 stack takes ~50 ms to load: a third of a command.
 * Signature checks and anything else shown to a user stay with @peculiar/x509.
 */
import { children, DerError, oidText, readTlv, value, whole, type Tlv } from "./der.js";
import { toPem } from "./pem.js";

export const OID_NAME_CONSTRAINTS = "2.5.29.30";
const OID_BASIC_CONSTRAINTS = "2.5.29.19";

export class CertInfo {
  readonly rawData: ArrayBuffer;
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly subjectDer: Buffer;
  readonly publicKey: { rawData: ArrayBuffer };
  /** extension OID -> criticality and the DER inside extnValue */
  readonly extensions = new Map<string, { critical: boolean; value: Buffer }>();

  /** Throws DerError unless `der` is one well-formed X.509 v3 certificate with nothing after it. */
  constructor(der: Uint8Array) {
    const copy = Uint8Array.from(der);
    this.rawData = copy.buffer;
    const cert = readTlv(copy);
    if (cert.tag !== 0x30 || cert.end !== copy.length) throw new DerError("not a certificate");
    const top = children(copy, cert);
    if (top.length !== 3 || top[0].tag !== 0x30) throw new DerError("not a certificate");
    let f = children(copy, top[0]);
    if (f[0]?.tag === 0xa0) f = f.slice(1);
    if (f.length < 6 || f[0].tag !== 0x02 || f[3].tag !== 0x30 || f[4].tag !== 0x30 || f[5].tag !== 0x30)
      throw new DerError("not a certificate");
    const serial = value(copy, f[0]);
    // The sign octet of a positive INTEGER is not part of the serial (as @peculiar/x509 writes it).
    this.serialNumber = (serial.length > 1 && serial[0] === 0 ? serial.subarray(1) : serial).toString("hex");
    const validity = children(copy, f[3]);
    if (validity.length !== 2) throw new DerError("bad validity");
    [this.notBefore, this.notAfter] = validity.map((t) => timeOf(copy, t));
    this.subjectDer = whole(copy, f[4]);
    const spki = whole(copy, f[5]);
    this.publicKey = { rawData: Uint8Array.from(spki).buffer };
    const exts = f.slice(6).find((t) => t.tag === 0xa3);
    if (exts) {
      const list = children(copy, exts);
      if (list.length !== 1 || list[0].tag !== 0x30) throw new DerError("bad extensions");
      for (const e of children(copy, list[0])) {
        const c = children(copy, e);
        if (c.length < 2 || c[0].tag !== 0x06 || c[c.length - 1].tag !== 0x04) throw new DerError("bad extension");
        const critical = c.length === 3 && c[1].tag === 0x01 && copy[c[1].valueStart] !== 0;
        const oid = oidText(value(copy, c[0]));
        if (this.extensions.has(oid)) throw new DerError(`extension ${oid} appears twice`);
        this.extensions.set(oid, { critical, value: value(copy, c[c.length - 1]) });
      }
    }
  }

  /** basicConstraints: whether it is a CA, and its pathLenConstraint. */
  get basicConstraints(): { ca: boolean; pathLength?: number } | undefined {
    const ext = this.extensions.get(OID_BASIC_CONSTRAINTS);
    if (!ext) return undefined;
    const v = ext.value;
    const fields = children(v, readTlv(v));
    let ca = false, pathLength: number | undefined;
    for (const t of fields) {
      if (t.tag === 0x01) ca = v[t.valueStart] !== 0;
      else if (t.tag === 0x02) {
        const n = value(v, t);
        if (n.length > 4 || n[0] & 0x80) throw new DerError("bad pathLenConstraint");
        pathLength = n.reduce((acc, b) => acc * 256 + b, 0);
      }
    }
    return { ca, pathLength };
  }

  /** PEM without the final newline, as @peculiar/x509's toString("pem") writes it. */
  toString(_format: "pem" = "pem"): string {
    return toPem("CERTIFICATE", new Uint8Array(this.rawData)).trimEnd();
  }
}

/** UTCTime (YYMMDDHHMMSSZ, 1950-2049) or GeneralizedTime (YYYYMMDDHHMMSSZ), the two forms RFC 5280 allows. */
export function timeOf(buf: Uint8Array, t: Tlv): Date {
  const s = value(buf, t).toString("latin1");
  const m = t.tag === 0x17 ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
    : t.tag === 0x18 ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s) : null;
  if (!m) throw new DerError("bad time");
  let year = Number(m[1]);
  if (t.tag === 0x17) year += year < 50 ? 2000 : 1900;
  const d = new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  if (Number.isNaN(d.getTime())) throw new DerError("bad time");
  return d;
}
