// Source depots for the import tests, made by openssl alone as the real tools write them.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PASS, tempDir } from "./_helpers.js";
import { sh } from "./_lifecycle.js";

export const HOST_PASS = "host secret";

/** Runs shell lines in `dir`, failing the test on the first error. */
export async function shell(t, dir, lines) {
  for (const cmd of lines) {
    const r = await sh(dir, cmd);
    if (r.code !== 0) t.fail(`${cmd}: ${r.stderr}`);
  }
}

/**
 * An etcd-ca depot as etcd-ca writes it: ca.crt (serial 1), ca.key and NAME.host.key as legacy-encrypted PKCS#1
 * (Proc-Type: 4,ENCRYPTED, DES-EDE3-CBC), NAME.host.csr/.crt (serials 2, 3), ca.crt.info with the last serial.
 */
export async function etcdCaDepot(t) {
  const src = join(tempDir(t, "etcd-ca-"), ".etcd-ca");
  mkdirSync(src);
  writeFileSync(join(src, "..", "ext.cnf"), "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1\n");
  const legacyKey = (name, pass) => [
    `openssl genrsa -out ../${name}.plain 2048`,
    `openssl rsa -in ../${name}.plain -traditional -des3 -passout pass:'${pass}' -out ${name}`,
  ];
  const host = (n, serial) => [
    ...legacyKey(`${n}.host.key`, HOST_PASS),
    `openssl req -new -key ${n}.host.key -passin pass:'${HOST_PASS}' -subj /O=etcd-ca/OU=${n}/CN=${n} -addext subjectAltName=IP:127.0.0.1 -out ${n}.host.csr`,
    ...(serial ? [`openssl x509 -req -in ${n}.host.csr -CA ca.crt -CAkey ca.key -passin pass:'${PASS}' -set_serial ${serial} -days 365 -extfile ../ext.cnf -out ${n}.host.crt`] : []),
  ];
  await shell(t, src, [
    ...legacyKey("ca.key", PASS),
    `openssl req -x509 -new -key ca.key -passin pass:'${PASS}' -subj /O=etcd-ca/OU=CA/CN=CA -set_serial 1 -days 3650 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -out ca.crt`,
    ...host("server1", 2),
    ...host("client1", 3),
    ...host("pending", 0),
    "printf 3 > ca.crt.info",
  ]);
  const head = readFileSync(join(src, "ca.key"), "utf8");
  t.regex(head, /^-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: DES-EDE3-CBC,/, "the fixture has legacy-encrypted PKCS#1 keys");
  return src;
}

/**
 * A certstrap out/: CertAuth.crt/.key (plain PKCS#1), web (serial 0x0a) and old (0x0b, revoked for keyCompromise
 * by CertAuth.crl, cRLNumber 0x1000).
 */
export async function certstrapOut(t) {
  const base = tempDir(t, "certstrap-");
  const src = join(base, "out");
  mkdirSync(src);
  writeFileSync(join(base, "leaf.cnf"), "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n" +
    "subjectAltName=DNS:web.internal\n");
  writeFileSync(join(base, "ca.cnf"), "[ca]\ndefault_ca=d\n[d]\ndatabase=../index.txt\ncrlnumber=../crlnumber\n" +
    "default_md=sha256\ndefault_crl_days=30\n");
  writeFileSync(join(base, "index.txt"), "");
  writeFileSync(join(base, "crlnumber"), "1000\n");
  const leaf = (n, serial) => [
    `openssl ecparam -name prime256v1 -genkey -noout -out ${n}.key`,
    `openssl req -new -key ${n}.key -subj /CN=${n} -out ${n}.csr`,
    `openssl x509 -req -in ${n}.csr -CA CertAuth.crt -CAkey CertAuth.key -set_serial ${serial} -days 90 ` +
      `-extfile ../leaf.cnf -out ${n}.crt`,
  ];
  await shell(t, src, [
    "openssl genrsa -traditional -out CertAuth.key 2048",
    "openssl req -x509 -new -key CertAuth.key -subj /CN=CertAuth -days 3650 -set_serial 1 " +
      "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -out CertAuth.crt",
    ...leaf("web", "0x0a"),
    ...leaf("old", "0x0b"),
    "openssl ca -config ../ca.cnf -revoke old.crt -keyfile CertAuth.key -cert CertAuth.crt -crl_reason keyCompromise",
    "openssl ca -config ../ca.cnf -gencrl -keyfile CertAuth.key -cert CertAuth.crt -out CertAuth.crl",
  ]);
  return src;
}
