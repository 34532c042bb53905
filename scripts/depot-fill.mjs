// Big depots, made fast, for scripts/bench's scale rows: `pki init` (depot.db), then COUNT real certificates the
// depot's CA signs, written straight into the record store in batches of one transaction. Every row is what
// depot.issue() records (entry, serial, sealed key, CSR, certificate carrying its serial), but the leaves share one
// key pair: key generation and one durable commit per certificate are what the bench measures afterwards through the
// real API, not what filling it should cost.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const dist = (p) => import(join(ROOT, "dist", p));
const { SqliteStore } = await dist("store/records/sqlite.js");
const { Session, certOf } = await dist("store/depot/session.js");
const { issue } = await dist("store/depot/issue.js");
const { deriveKey } = await dist("lib/formats/kdf.js");
const { CertInfo } = await dist("lib/x509/certinfo.js");
const { prepareCertificateDer, randomSerial } = await dist("lib/x509/issuance.js");

/**
 * `pki init` in DIR (a new directory; the depot at DIR/.pki) with the passphrase in DIR/pass, as depot.db;
 * `env` goes to pki (e.g. PKI_TEST_ONLY_KDF_ITERATIONS). Returns the depot directory.
 */
export async function initDbDepot(dir, passphrase, env = {}) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "pass"), passphrase + "\n");
  const depot = join(dir, ".pki");
  execFileSync(process.execPath, [join(ROOT, "dist", "bin", "pki.js"), "init", "--passphrase-file", "pass"], {
    cwd: dir, env: { ...process.env, ...env, PKI_DEPOT: depot },
    stdio: ["ignore", "ignore", "pipe"],
  });
  return depot;
}

/** A session on DEPOT (depot.db) as openDepot makes one: the record store and the KDF key derived once. */
export async function openSession(depot, passphrase) {
  const store = await SqliteStore.open(depot);
  const d = await store.read((tx) => tx.depot());
  const salt = Buffer.from(d.kdf.salt, "base64");
  const key = Buffer.from(await deriveKey(passphrase, salt, d.kdf.iterations));
  return new Session(depot, store, { salt, iterations: d.kdf.iterations, key }, passphrase);
}

/**
 * Adds COUNT leaves named PREFIX000000... to DEPOT, the first REVOKED of them revoked (superseded), BATCH to a
 * transaction; `progress(done)` after each batch. Returns the names.
 */
export async function fillDepot(depot, passphrase, { count, revoked = 0, prefix = "fill-", batch = 2000, progress }) {
  const s = await openSession(depot, passphrase);
  try {
    const template = await issue(s, `${prefix}template`, { domains: [`${prefix}template.example`] });
    const { key, csr, certDer, caCert, caKeys } = await s.store.read(async (tx) => {
      const caCert = await certOf(tx, "ca");
      return {
        key: await tx.blob({ name: template.name, kind: "key" }),
        csr: await tx.blob({ name: template.name, kind: "csr" }),
        certDer: await tx.blob({ name: template.name, kind: "cert" }),
        caCert, caKeys: await s.caKeys(tx, "ca", caCert),
      };
    });
    const pub = new Uint8Array(new CertInfo(certDer).publicKey.rawData);
    const names = [];
    const now = Date.now();
    for (let done = 0; done < count; ) {
      const n = Math.min(batch, count - done);
      await s.store.write(async (tx) => {
        for (let i = done; i < done + n; i++) {
          const name = `${prefix}${String(i).padStart(6, "0")}`;
          const sans = { ips: [], domains: [`${name}.example`] };
          const serial = randomSerial();
          await tx.reserveSerial(serial);
          const notAfter = new Date(now + (30 + (i % 60)) * 86_400_000);
          const der = prepareCertificateDer({
            issuerCert: caCert, subject: { commonName: name }, publicKey: pub, sans,
            profile: { kind: "leaf", usage: "peer" }, notAfter, serial,
          })(caKeys);
          const cert = new CertInfo(der);
          await tx.putEntry({
            name, kind: "leaf", issuer: "ca", subject: `CN=${name}`, keyType: template.keyType, sans,
            status: "signed", created: new Date(now).toISOString(), usage: "peer", serial: cert.serialNumber,
            notBefore: cert.notBefore.toISOString(), notAfter: cert.notAfter.toISOString(),
          });
          await tx.putBlob({ name, kind: "key" }, key);
          await tx.putBlob({ name, kind: "csr" }, csr);
          await tx.putBlob({ name, kind: "cert" }, der);
          if (i < revoked)
            await tx.revoke(name, cert.serialNumber, { date: new Date(now).toISOString(), reason: "superseded" });
          names.push(name);
        }
      });
      done += n;
      progress?.(done);
    }
    return names;
  } finally {
    await s.close();
  }
}
