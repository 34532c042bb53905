/**
 * The programmatic API: CAs and certificates in memory, for test runners.
 *
 *   const ca = await createCA({ name: "ca" });
 *   const server = await ca.issue({ name: "server", ip: ["127.0.0.1"] });
 *   server.certPem; server.keyPem; server.toP12("pass");
 *
 * The classes live in core.ts (issuance through the same DER code as `pki sign`); this module adds what needs
 * @peculiar/x509 and the keystore writers (lib/formats/pkcs12.ts, jks.ts), and loadCA.
 */
import { x509 } from "../x509/peculiar.js";
import { importPkcs8 } from "../x509/keys.js";
import { checkName, InputError } from "../x509/validate.js";
import { parsePem, parsePemAll } from "../x509/pem.js";
import { decryptPkcs8 } from "../formats/pkcs8.js";
import { CA, useParsers } from "./core.js";
import { parsers } from "./parsers.js";

useParsers(parsers);

export * from "./core.js";
export { x509 };

/**
 * A CA from PEM text, e.g. the ca.crt/ca.key of a depot or the root.crt/root.key `pki fixtures`
 * writes. The key may be encrypted (needs `passphrase`) or not ("PRIVATE KEY").
 */
export async function loadCA(o: { certPem: string; keyPem: string; passphrase?: string; name?: string }): Promise<CA> {
  const name = checkName(o.name ?? "ca");
  let cert: x509.X509Certificate;
  try { cert = new x509.X509Certificate(parsePem(o.certPem, "CERTIFICATE", "the CA certificate")); }
  catch (e) { throw new InputError(`the CA certificate is not valid: ${(e as Error).message}`); }
  const encrypted = parsePemAll(o.keyPem).some((b) => b.label === "ENCRYPTED PRIVATE KEY");
  if (encrypted && !o.passphrase) throw new InputError("the CA key is encrypted: pass its passphrase");
  const der = encrypted
    ? await decryptPkcs8(o.keyPem, o.passphrase!, "the CA key")
    : parsePem(o.keyPem, "PRIVATE KEY", "the CA key");
  const keys = await importPkcs8(der);
  const spki = Buffer.from(await x509.cryptoProvider.get().subtle.exportKey("spki", keys.publicKey));
  if (!spki.equals(Buffer.from(cert.publicKey.rawData)))
    throw new InputError("the CA key does not belong to the CA certificate");
  if (!cert.getExtension(x509.BasicConstraintsExtension)?.ca)
    throw new InputError("the certificate is not a CA (no basicConstraints CA:TRUE)");
  return new CA(name, cert, keys, Buffer.from(der));
}
