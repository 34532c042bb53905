/**
 * certstrap's CRLs (out/CA.crl, written by `certstrap revoke`) on import: each revoked serial becomes a revoked
 * entry in the index, so the first `pki crl` keeps it revoked, and the cRLNumber carries on from certstrap's.
 * A revoked serial that names no imported certificate stays reserved and on the CRL (as `removed`).
 */
import { AsnConvert } from "@peculiar/asn1-schema";
import { CRLNumber, id_ce_cRLNumber } from "@peculiar/asn1-x509";
import { x509 } from "../../lib/x509/peculiar.js";
import { parsePemAll } from "../../lib/x509/pem.js";
import type { RevocationReason } from "../../lib/x509/crl.js";
import { InputError } from "../../lib/x509/validate.js";
import type { Index } from "../records/layout1-index.js";

export interface ImportedCrl {
  file: string;
  issuer: string;
  revoked: string[];
}

const REASON_CODES: Record<number, RevocationReason> = {
  0: "unspecified",
  1: "keyCompromise",
  2: "cACompromise",
  3: "affiliationChanged",
  4: "superseded",
  5: "cessationOfOperation",
  6: "certificateHold",
  9: "privilegeWithdrawn",
  10: "aACompromise",
};

/** Reads each CRL, checks it is signed by an imported CA, and records its revocations in `idx`. */
export async function readCrls(
  files: Array<{ file: string; text: string }>,
  cas: Array<{ name: string; cert: x509.X509Certificate }>,
  idx: Index,
  skipped: string[],
): Promise<ImportedCrl[]> {
  const out: ImportedCrl[] = [];
  for (const { file, text } of files) {
    let crl: x509.X509Crl;
    try {
      const der = text.includes("-----BEGIN")
        ? parsePemAll(text).find((b) => b.label === "X509 CRL")?.der
        : Buffer.from(text, "latin1");
      if (!der) throw new Error('no PEM "X509 CRL" block');
      crl = new x509.X509Crl(der);
    } catch (e) {
      throw new InputError(`${file}: not a valid CRL (${(e as Error).message})`);
    }
    let issuer: string | undefined;
    for (const ca of cas)
      if (ca.cert.subject === crl.issuer && (await crl.verify({ publicKey: ca.cert.publicKey }))) {
        issuer = ca.name;
        break;
      }
    if (!issuer) {
      skipped.push(`${file}: signed by no imported CA`);
      continue;
    }
    const revoked: string[] = [];
    for (const r of crl.entries) {
      const serial = r.serialNumber.toLowerCase();
      const reason = REASON_CODES[r.reason ?? 0] ?? "unspecified";
      const revocation = { date: new Date(r.revocationDate).toISOString(), reason };
      const e = Object.values(idx.entries).find(
        (x) => x.serial === serial && (x.issuer ?? "ca") === issuer && x.name !== "ca",
      );
      const gone = (idx.removed ?? []).find((r) => r.serial === serial && r.issuer === issuer);
      if (e) {
        Object.assign(e, { status: "revoked", revoked: revocation });
        revoked.push(e.name);
      } else if (gone) {
        gone.revoked = revocation; // a certificate import left out stays revoked
        revoked.push(`${gone.name} (left out)`);
      } else if (!idx.serials.includes(serial)) {
        idx.serials.push(serial);
        (idx.removed ??= []).push({
          name: file,
          serial,
          issuer,
          notBefore: revocation.date,
          notAfter: revocation.date,
          revoked: revocation,
        });
        revoked.push(`serial ${serial}`);
      }
    }
    const n = crl.extensions.find((x) => x.type === id_ce_cRLNumber);
    if (n) {
      const num = Number(AsnConvert.parse(n.value, CRLNumber).value);
      if (Number.isSafeInteger(num) && num > (idx.crlNumbers?.[issuer] ?? 0)) (idx.crlNumbers ??= {})[issuer] = num;
    }
    out.push({ file, issuer, revoked });
  }
  return out;
}
