/** The human form of `pki inspect`: one titled block per item, "Label: value" lines (step's style). */
import { certFields, colons, fingerprint, keyText, render, type CertInfo, type Hash } from "../x509/inspect.js";
import type { Inspected } from "./inspect.js";

export function inspectText(i: Inspected, hash: Hash = "sha256", depot: string[] = []): string {
  const fp = `Fingerprint (${hash.toUpperCase()})`;
  const cert = (c: CertInfo & { alias?: string }, title: string, extra: Array<[string, unknown]> = []) =>
    render(title, [
      ...(c.alias !== undefined ? [["Alias", c.alias] as [string, unknown]] : []),
      ...certFields(c, hash),
      ...extra,
    ]);
  const depotLine = (n: number): Array<[string, unknown]> => (depot[n] ? [["Depot", depot[n]]] : []);
  switch (i.kind) {
    case "certificate":
      return cert(i.certificate, "Certificate", depotLine(0));
    case "chain":
      return i.certificates
        .map((c, n) =>
          cert(c, `Certificate ${n + 1} of ${i.certificates.length}${n === 0 ? " (leaf)" : ""}`, depotLine(n)),
        )
        .join("\n");
    case "csr":
      return render("Certificate Request", [
        ["Subject", i.csr.subject],
        ["Public Key", keyText(i.csr.publicKey)],
        [`Public Key ${fp}`, colons(i.csr.publicKey.spkiFingerprint)],
        ["Signature Algorithm", i.csr.signatureAlgorithm],
        ["Signature", i.csr.signatureValid ? "verifies (self-signed by its key)" : "DOES NOT VERIFY"],
        ["Subject Alternative Name", i.csr.subjectAltNames],
        ["Requests", i.csr.requestsCa ? "a CA certificate (basicConstraints CA:TRUE)" : undefined],
      ]);
    case "crl":
      return (
        render("Certificate Revocation List", [
          ["Issuer", i.crl.issuer],
          ["Last Update", i.crl.thisUpdate],
          ["Next Update", i.crl.nextUpdate],
          ["CRL Number", i.crl.crlNumber],
          ["Signature Algorithm", i.crl.signatureAlgorithm],
          ["Revoked", i.crl.revoked.length ? undefined : "none"],
          ...depotLine(0),
        ]) +
        i.crl.revoked
          .map((r) => `    Serial Number: ${colons(r.serial)}  revoked ${r.date}${r.reason ? ` (${r.reason})` : ""}\n`)
          .join("")
      );
    case "key":
      return render(
        i.key.key?.type === undefined ? "Private Key" : i.key.format.includes("public") ? "Public Key" : "Private Key",
        [
          ["Format", i.key.format],
          ["Encrypted", i.key.encrypted ? (i.key.encryption ?? "yes") : "no"],
          ["Key", i.key.key ? keyText(i.key.key) : undefined],
          [`Public Key ${fp}`, i.key.key ? colons(i.key.key.spkiFingerprint) : undefined],
          ["Note", i.key.note],
          ...depotLine(0),
        ],
      );
    case "pkcs12":
    case "keystore": {
      const s = i.store;
      const head = render(s.format === "PKCS#12" ? "PKCS#12" : `Java keystore (${s.format})`, [
        [
          "Integrity",
          `${s.integrity}${s.verified === undefined ? " (not checked: give the password)" : s.verified ? " (verified)" : " (DOES NOT VERIFY: wrong password?)"}`,
        ],
        ["Encryption", s.encryption.length ? s.encryption.join("; ") : "none"],
        ["Certificates", String(s.certificates.length)],
        ["Keys", String(s.keys.length)],
        ["Not read", s.unreadable],
      ]);
      const keys = s.keys.map((k, n) =>
        render(
          `Private Key ${n + 1}`,
          [
            ["Alias", k.alias],
            ["Protection", k.encryption],
            ["Key", k.key ? keyText(k.key) : "(give the password)"],
            [`Public Key ${fp}`, k.key ? colons(k.key.spkiFingerprint) : undefined],
            ["Matches", k.matches],
          ],
          "  ",
        ),
      );
      return [
        head,
        ...keys,
        ...s.certificates.map((c, n) =>
          cert(c, `Certificate ${n + 1} of ${s.certificates.length}`, depotLine(n)).replace(/^/gm, "  "),
        ),
      ].join("\n");
    }
  }
}

/**
 * `--fingerprint`: one line per certificate, key or CRL: the hex digest (of the DER, or of a key's
 * SubjectPublicKeyInfo).
 */
export function fingerprintLines(i: Inspected, hash: Hash = "sha256"): string[] {
  switch (i.kind) {
    case "certificate":
      return [i.certificate.fingerprint];
    case "chain":
      return i.certificates.map((c) => c.fingerprint);
    case "csr":
      return [i.csr.publicKey.spkiFingerprint];
    case "crl":
      return [fingerprint(i.der, hash)];
    case "key":
      return i.key.key ? [i.key.key.spkiFingerprint] : [];
    default:
      return [...i.store.certificates.map((c) => c.fingerprint)];
  }
}
