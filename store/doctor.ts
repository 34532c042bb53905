/**
 * `pki doctor`: checks that the depot's files, modes, index and signatures agree and, with
 * `fix`, repairs what a crash or a careless chmod can leave.
 *
 * index.json is the commit point of every change (key and CSR, then cert, then the index):
 * a file the index does not account for was left by an interrupted command and is rolled
 * back — an orphan key/CSR is removed, an unrecorded certificate is removed, a renewal whose
 * index update never happened is undone from history/. Nothing the index records is deleted.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import { Depot, Index, ROOT } from "./depot.js";
import { DepotError, TEMP_RE, writeAtomic } from "./fsutil.js";
import { acquireLock, breakStaleLock, describeHolder, inspectLock, LOCK_FILE } from "./lock.js";
import { checkName } from "../lib/x509/validate.js";
import { checkFiles, type ProblemFn } from "./doctor-files.js";
import { depotPresence, noDepotMessage } from "./view.js";
import { describeKey, specOfSpki, subtle } from "../lib/x509/keys.js";
import { WrongPassphraseError } from "../lib/formats/pkcs8.js";
import { AsnConvert } from "@peculiar/asn1-schema";
import { CRLNumber, id_ce_cRLNumber } from "@peculiar/asn1-x509";
import { x509 } from "../lib/x509/peculiar.js";

export interface Problem { file: string; problem: string; fix?: string; fixed: boolean }
export interface DoctorReport {
  dir: string;
  ok: boolean;
  problems: Problem[];
  entries: number;
  certificates: number;
  keysChecked: number;
  keysSkipped: number;
}
export interface DoctorOptions { fix?: boolean; passphrase?: string }

const same = (a: ArrayBuffer, b: ArrayBuffer) => Buffer.from(a).equals(Buffer.from(b));

export async function doctor(dir: string, o: DoctorOptions = {}): Promise<DoctorReport> {
  const report: DoctorReport = {
    dir,
    ok: true,
    problems: [],
    entries: 0,
    certificates: 0,
    keysChecked: 0,
    keysSkipped: 0,
  };
  /** Records a problem; with --fix, runs its repair (if it has one). */
  const problem = (file: string, text: string, fix?: string, repair?: () => void) => {
    const fixed = Boolean(o.fix && repair);
    if (fixed) repair!();
    report.problems.push({ file, problem: text, fix, fixed });
  };
  const done = () => ({ ...report, ok: report.problems.every((p) => p.fixed) });

  // Outside a depot there is nothing to check or fix: the line every command gives, not a "problem".
  const presence = depotPresence(dir);
  if (presence.kind !== "depot") throw new DepotError(noDepotMessage(dir, presence));
  let depot: Depot;
  try { depot = Depot.open(dir, { lax: true }); } catch (e) {
    problem("depot.json", (e as Error).message);
    return done();
  }
  const rel = (p: string) => relative(dir, p);
  const guard = inspectLock(dir, `${LOCK_FILE}.break`);
  if (guard.state === "stale")
    problem(`${LOCK_FILE}.break`, `stale guard left by ${describeHolder(guard.info)}, which is gone`, "remove it", () =>
      breakStaleLock(dir, `${LOCK_FILE}.break`),
    );
  const lock = inspectLock(dir);
  if (lock.state === "stale")
    problem(LOCK_FILE, `stale lock left by ${describeHolder(lock.info)}, which is gone`, "remove it", () =>
      breakStaleLock(dir),
    );
  // Hold the lock (fixing, or to see no half-done command); a read-only look at a read-only depot goes without.
  let release = () => {};
  if (o.fix || lock.state !== "stale") {
    try { release = await acquireLock(dir); } catch (e) { if (o.fix || e instanceof DepotError) throw e; }
  }
  try {
    await check(depot, o, problem, rel, report);
  } finally { release(); }
  return done();
}


async function check(
  depot: Depot,
  o: DoctorOptions,
  problem: ProblemFn,
  rel: (p: string) => string,
  report: DoctorReport,
): Promise<void> {
  // 1. Every file (doctor-files.ts).
  checkFiles(depot, problem, rel);

  // 2. The index; without a readable one nothing is rolled back.
  const indexFile = depot.path("index.json");
  let idx: Index;
  try {
    idx = depot.readIndex();
  } catch (e) {
    problem(
      "index.json",
      (e as Error).message.replace(/^index\.json |: run 'pki doctor'$/g, ""),
      "restore it from a backup",
    );
    return;
  }
  let dirty = false;
  const rm =
    (...ps: string[]) =>
    () => {
      for (const p of ps) rmSync(p, { force: true });
    };

  // Without index.json nothing is rolled back: that would delete every key of a depot whose index was lost.
  const hasIndex = existsSync(indexFile);
  const certsDir = depot.path("certs");
  const listed = existsSync(certsDir) ? readdirSync(certsDir).sort() : [];
  if (!idx.entries[ROOT]) {
    const [crt, key] = [depot.certPath(ROOT), depot.keyPath(ROOT)];
    if (hasIndex || listed.length)
      problem(
        "index.json",
        hasIndex
          ? "has no entry for the root CA"
          : `is missing, and ${listed.length} files in certs/ are not accounted for`,
        "restore index.json from a backup",
      );
    else if (!existsSync(crt))
      problem(existsSync(key) ? "ca.key" : "ca.crt", "no CA yet (an interrupted 'pki init'?)", "run 'pki init'");
    else {
      // ca.crt is written after ca.key: both are complete. An init interrupted before its index is rolled forward.
      const cert = depot.readCert(ROOT);
      const rootKeyType = describeKey(specOfSpki(cert.publicKey.rawData));
      if (cert.issuer !== cert.subject || !(await cert.verify({ publicKey: cert.publicKey, signatureOnly: true })))
        problem("ca.crt", "is not a self-signed CA certificate");
      else
        problem(
          "index.json",
          "is missing: the CA of an interrupted 'pki init'",
          "record the CA in a new index.json",
          () => {
            idx.entries[ROOT] = {
              name: ROOT,
              kind: "ca",
              subject: cert.subject,
              keyType: rootKeyType,
              sans: { ips: [], domains: [] },
              status: "signed",
              created: new Date().toISOString(),
              serial: cert.serialNumber.toLowerCase(),
              notBefore: cert.notBefore.toISOString(),
              notAfter: cert.notAfter.toISOString(),
            };
            idx.serials.push(cert.serialNumber.toLowerCase());
            dirty = true;
          },
        );
    }
  }

  // 3. Files in certs/ and history/ that the index does not account for.
  for (const n of listed) {
    const m = /^(.+)\.(key|csr|crt)$/.exec(n);
    if (!hasIndex || !m || TEMP_RE.test(n) || idx.entries[m[1]]) continue;
    // acme serve names what it issues acme-SERIAL and keeps no key: its finalize writes the CSR and certificate,
    // then the index.
    const byAcme = /^acme-[0-9a-f]{16,40}$/.test(m[1]) && m[2] !== "key" && !listed.includes(`${m[1]}.key`);
    const by = byAcme ? "ACME finalize: 'pki acme serve' stopped before recording it" : "'pki new-cert'";
    problem(`certs/${n}`, `not in index.json (left by an interrupted ${by})`, "remove it", rm(join(certsDir, n)));
  }
  const histDir = depot.path("history");
  const pending = new Map<string, { name: string; files: string[] }>();
  for (const n of existsSync(histDir) ? readdirSync(histDir).sort() : []) {
    const m = /^(.+)\.([0-9a-f]+)\.(key|csr|crt)$/.exec(n);
    if (m && idx.entries[m[1]]?.serial === m[2]) {
      const k = `${m[1]}.${m[2]}`;
      if (!pending.has(k)) pending.set(k, { name: m[1], files: [] });
      pending.get(k)!.files.push(n);
    }
  }
  const undone = new Set<string>(); // entries whose interrupted renewal is reported and not yet rolled back
  for (const [k, { name, files }] of pending) {
    if (!o.fix) undone.add(name);
    problem(
      `history/${k}.crt`,
      `left by an interrupted 'pki renew ${name}' (index.json still records serial ${k.slice(name.length + 1)})`,
      "undo the renewal: restore the files it replaced",
      () => {
        for (const f of files) {
          const ext = f.slice(f.lastIndexOf(".") + 1);
          const to = ext === "crt" ? depot.certPath(name) : ext === "key" ? depot.keyPath(name) : depot.csrPath(name);
          writeAtomic(to, readFileSync(join(histDir, f)), ext === "key" ? 0o600 : 0o644);
        }
        rm(...files.map((f) => join(histDir, f)))();
      },
    );
  }

  // 4. Each entry: key encrypted, CSR self-signed, certificate matching key and verifying against its issuer.
  const certs = new Map<string, x509.X509Certificate>();
  const certOf = (name: string) => {
    if (!certs.has(name)) certs.set(name, depot.readCert(name));
    return certs.get(name)!;
  };
  const serialOwner = new Map<string, string>();
  for (const [name, e] of Object.entries(idx.entries)) {
    report.entries++;
    if (undone.has(name)) continue;
    try {
      checkName(name);
    } catch (err) {
      problem("index.json", (err as Error).message);
      continue;
    }
    const keyFile = rel(depot.keyPath(name)),
      certFile = rel(depot.certPath(name)),
      csrFile = rel(depot.csrPath(name));
    const fail = (file: string, f: () => unknown) => {
      try {
        f();
        return true;
      } catch (err) {
        problem(file, (err as Error).message);
        return false;
      }
    };
    if (!e.external) fail(keyFile, () => depot.readKeyPem(name));
    let csr: x509.Pkcs10CertificateRequest | undefined;
    if (name !== ROOT && existsSync(depot.csrPath(name))) {
      fail(csrFile, () => {
        csr = depot.readCsr(name);
      });
      if (csr && !(await csr.verify())) problem(csrFile, "its self-signature does not verify");
    } else if (name !== ROOT && e.status === "unsigned")
      problem(csrFile, `missing: "${name}" cannot be signed`, `'pki new-cert ${name}' again after removing its entry`);

    /** With a passphrase: decrypt NAME's key and compare its public key with the certificate's (or the CSR's). */
    const compareKey = async (spki: ArrayBuffer, against: string) => {
      if (o.passphrase === undefined || e.external) return;
      try {
        const { der, keys } = await depot.unlockKey(name, o.passphrase);
        der.fill(0);
        report.keysChecked++;
        if (!same(await subtle.exportKey("spki", keys.publicKey), spki)) problem(keyFile, `does not match ${against}`);
      } catch (err) {
        // A DepotError was reported above.
        if (err instanceof WrongPassphraseError) report.keysSkipped++;
        else if (!(err instanceof DepotError)) problem(keyFile, (err as Error).message);
      }
    };
    if (e.status === "unsigned") {
      if (csr) await compareKey(csr.publicKey.rawData, csrFile);
      if (existsSync(depot.certPath(name)))
        problem(
          certFile,
          `a certificate index.json does not record (left by an interrupted 'pki sign ${name}')`,
          `remove it; run 'pki sign ${name}' again`,
          rm(depot.certPath(name)),
        );
      continue;
    }
    let cert: x509.X509Certificate | undefined;
    if (
      !fail(certFile, () => {
        cert = certOf(name);
      }) ||
      !cert
    )
      continue;
    report.certificates++;
    const serial = cert.serialNumber.toLowerCase();
    if (serial !== e.serial?.toLowerCase())
      problem(certFile, `serial ${serial}, but index.json records ${e.serial ?? "none"}`);
    if (serialOwner.has(serial)) problem(certFile, `serial ${serial} is also that of "${serialOwner.get(serial)}"`);
    serialOwner.set(serial, name);
    if (!idx.serials.includes(e.serial ?? serial))
      problem(
        "index.json",
        `serial ${e.serial ?? serial} of "${name}" is missing from the list of issued serials`,
        "add it",
        () => {
          idx.serials.push(e.serial ?? serial);
          dirty = true;
        },
      );
    if (csr && !same(csr.publicKey.rawData, cert.publicKey.rawData))
      problem(certFile, `does not match its key: its public key differs from that of ${csrFile}`);
    const issuer = name === ROOT ? ROOT : (e.issuer ?? ROOT);
    let issuerCert: x509.X509Certificate | undefined;
    if (
      fail(rel(depot.certPath(issuer)), () => {
        issuerCert = certOf(issuer);
      }) &&
      issuerCert
    ) {
      const ok =
        cert.issuer === issuerCert.subject &&
        (await cert.verify({ publicKey: issuerCert.publicKey, signatureOnly: true }).catch(() => false));
      if (!ok)
        problem(
          certFile,
          `does not verify against its issuer ${issuer === ROOT ? "the root CA" : `"${issuer}"`} (${rel(depot.certPath(issuer))})`,
        );
    }
    await compareKey(cert.publicKey.rawData, certFile);
  }

  // 5. CRLs: each verifies against its CA; a cRLNumber ahead of the index means 'pki crl' was interrupted before
  //    its index update: the index catches up, so that the next CRL's number is higher still (RFC 5280 §5.2.3).
  for (const [name, e] of Object.entries(idx.entries)) {
    const file = depot.crlPath(name);
    if (e.kind !== "ca" || !existsSync(file)) continue;
    try {
      const crl = new x509.X509Crl(readFileSync(file, "utf8"));
      const ext = crl.extensions.find((x) => x.type === id_ce_cRLNumber);
      const n = ext ? AsnConvert.parse(ext.value, CRLNumber).value : 0;
      const ca = certOf(name);
      if (crl.issuer !== ca.subject || !(await crl.verify({ publicKey: ca.publicKey })))
        problem(rel(file), `does not verify against ${rel(depot.certPath(name))}`);
      const known = idx.crlNumbers?.[name] ?? 0;
      if (n > known)
        problem(
          rel(file),
          `cRLNumber ${n}, but index.json records ${known} (an interrupted 'pki crl')`,
          `record ${n}`,
          () => {
            (idx.crlNumbers ??= {})[name] = n;
            dirty = true;
          },
        );
    } catch (err) {
      problem(rel(file), `not a valid CRL (${(err as Error).message})`);
    }
  }
  if (dirty) depot.writeIndex(idx);
}
