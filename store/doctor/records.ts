/**
 * `pki doctor` on the record store: what SQLite's constraints and validate.ts cannot know is checked entry by
 * entry, in one read transaction (one snapshot, while other processes keep writing), holding one entry at a time:
 * each certificate parses, carries the serial and dates its record names and is signed by the CA the record names;
 * every serial (current, past, removed) is recorded once and reserved; every key is an EncryptedPrivateKeyInfo
 * (and, given the passphrase, opens and is the certificate's key); each CA's latest CRL is signed by it; each ACME
 * account is found by its key; each ACME certificate's entry replaces what its order says. There is nothing to
 * roll back: a command's changes are one transaction, all or nothing.
 */
import { X509Certificate } from "node:crypto";
import { chmodSync, lstatSync } from "node:fs";
import { join } from "node:path";
import { decryptPkcs8Key, pbes2Info, WrongPassphraseError } from "../../lib/formats/pkcs8.js";
import { CertInfo } from "../../lib/x509/certinfo.js";
import { readCrl } from "../../lib/x509/crl-read.js";
import { keyObjectsOf } from "../../lib/x509/keys.js";
import { toPem } from "../../lib/x509/pem.js";
import { DepotError } from "../fsutil.js";
import { DamageError } from "../records/integrity.js";
import { tokenKeyUri } from "../keys/ref.js";
import { ownershipProblems } from "../ownership.js";
import type { EntryRecord, ReadTx, RecordStore } from "../records/schema.js";
import { ROOT } from "../depot/session.js";

export interface Problem { file: string; problem: string; fix?: string; fixed: boolean }
export interface DoctorReport {
  dir: string; ok: boolean; problems: Problem[]; entries: number; certificates: number; keysChecked: number;
  keysSkipped: number;
}

/** Checks the store `label` names; `passphrase` also opens each key and compares it with its certificate. */
export async function doctorRecords(
  store: RecordStore, label: string, o: { passphrase?: string } = {},
): Promise<DoctorReport> {
  const r: DoctorReport = {
    dir: label, ok: true, problems: [], entries: 0, certificates: 0, keysChecked: 0, keysSkipped: 0,
  };
  const file = store.backend === "sqlite" ? "depot.db" : label;
  const problem = (what: string) => r.problems.push({ file, problem: what, fixed: false });
  await store.read(async (tx) => {
    const seen = new Map<string, string>(); // serial → whose
    const cas = new Map<string, X509Certificate | null>();
    const caCert = async (name: string) => {
      if (!cas.has(name)) {
        const der = await tx.blob({ name, kind: "cert" });
        cas.set(name, der ? parsed(der)?.x ?? null : null);
      }
      return cas.get(name) ?? undefined;
    };
    const serial = async (s: string, whose: string) => {
      const other = seen.get(s);
      if (other) problem(`serial ${s} of ${whose} is also ${other}'s`);
      else seen.set(s, whose);
      if (!(await tx.hasSerial(s))) problem(`serial ${s} of ${whose} is not reserved`);
    };
    for await (const e of tx.list()) {
      r.entries++;
      await checkEntry(tx, e, { problem, caCert, serial, r, passphrase: o.passphrase });
      if (e.acme) await checkReplaces(tx, e, problem);
    }
    for await (const rm of tx.removed()) await serial(rm.serial, `removed "${rm.name}"`);
    await checkAcmeKeys(tx, problem);
    for (const [name, cert] of cas) {
      const crl = cert && (await tx.crl(name));
      if (cert && crl?.der && !crlSignedBy(crl.der, cert))
        problem(`the latest CRL of ${whose(name)} is not signed by it`);
    }
  });
  r.ok = r.problems.length === 0;
  return r;
}

const whose = (name: string) => (name === ROOT ? "the root CA" : `"${name}"`);

function parsed(der: Uint8Array): { info: CertInfo; x: X509Certificate } | undefined {
  try {
    return { info: new CertInfo(der), x: new X509Certificate(der) };
  } catch {
    return undefined;
  }
}

function crlSignedBy(der: Uint8Array, ca: X509Certificate): boolean {
  try {
    const crl = readCrl(der);
    return crl.issuerDer.equals(new CertInfo(ca.raw).subjectDer) && crl.signedBy(ca.publicKey);
  } catch {
    return false;
  }
}

/** Each ACME account is what a look-up by its key finds: the row's thumbprint column agrees with its body. */
async function checkAcmeKeys(tx: ReadTx, problem: (what: string) => void): Promise<void> {
  try {
    for await (const a of tx.acmeList("accounts"))
      if ((await tx.acmeAccountByThumbprint(a.thumbprint))?.id !== a.id)
        problem(`ACME account "${a.id}" is not found by its key: its thumbprint column differs from its body`);
  } catch (e) {
    damaged(e, problem);
  }
}

/** A damaged record a check ran into (validate.ts refused it), as one problem: what is wrong with which field. */
function damaged(e: unknown, problem: (what: string) => void): void {
  if (!(e instanceof DepotError)) throw e;
  problem(e instanceof DamageError ? e.detail : e.message);
}

/**
 * An ACME certificate's entry records the entry its order replaced (what `pki list` shows without reading orders):
 * it must say what the order says. An order no longer kept leaves the entry's record as the only word.
 */
async function checkReplaces(tx: ReadTx, e: EntryRecord, problem: (what: string) => void): Promise<void> {
  try {
    const o = await tx.acmeGet("orders", e.acme!.order);
    if (o && o.replacesCert !== e.acme!.replaces)
      problem(`${whose(e.name)} records that it replaces ${e.acme!.replaces ? `"${e.acme!.replaces}"` : "nothing"}, ` +
        `its ACME order "${o.id}" ${o.replacesCert ? `"${o.replacesCert}"` : "nothing"}`);
  } catch (err) {
    damaged(err, problem);
  }
}

interface Ctx {
  problem: (what: string) => void;
  caCert: (name: string) => Promise<X509Certificate | undefined>;
  serial: (s: string, whose: string) => Promise<void>;
  r: DoctorReport;
  passphrase?: string;
}

async function checkEntry(tx: ReadTx, e: EntryRecord, c: Ctx): Promise<void> {
  const w = whose(e.name);
  let cert: ReturnType<typeof parsed>;
  if (e.status !== "unsigned") {
    const der = await tx.blob({ name: e.name, kind: "cert" });
    cert = der && parsed(der);
    if (!der) c.problem(`${w} is ${e.status} but has no certificate`);
    else if (!cert) c.problem(`the certificate of ${w} does not parse`);
    else {
      c.r.certificates++;
      if (cert.info.serialNumber !== e.serial)
        c.problem(`the certificate of ${w} has serial ${cert.info.serialNumber}, the record ${e.serial}`);
      if (cert.info.notAfter.toISOString() !== e.notAfter)
        c.problem(`the certificate of ${w} expires ${cert.info.notAfter.toISOString()}, the record says ${e.notAfter}`);
      const issuer = await c.caCert(e.issuer ?? ROOT);
      if (!issuer) c.problem(`${w} names the issuer "${e.issuer ?? ROOT}", which has no certificate`);
      else if (!cert.x.checkIssued(issuer) || !cert.x.verify(issuer.publicKey))
        c.problem(`the certificate of ${w} is not signed by ${whose(e.issuer ?? ROOT)}`);
    }
    if (e.serial) await c.serial(e.serial, w);
  }
  for (const h of await tx.history(e.name)) {
    await c.serial(h.serial, `${w} (past)`);
    const der = await tx.blob({ name: e.name, kind: "cert", serial: h.serial });
    const past = der && parsed(der);
    if (der && past?.info.serialNumber !== h.serial) c.problem(`the past certificate ${h.serial} of ${w} is damaged`);
  }
  const key = await tx.blob({ name: e.name, kind: "key" });
  if (!key) {
    if (!e.external) c.problem(`${w} has no key (and is not marked as held elsewhere)`);
    return;
  }
  // A CA key in a PKCS#11 token: the record names it (the token itself is not opened here: no PIN is asked)
  let held: string | undefined;
  try {
    held = tokenKeyUri(key, w);
  } catch (err) {
    return void c.problem((err as Error).message);
  }
  if (held) {
    if (e.kind !== "ca") c.problem(`${w} is not a CA, but its key record names a PKCS#11 token`);
    return;
  }
  let info: ReturnType<typeof pbes2Info>;
  try {
    info = pbes2Info(key);
  } catch {
    info = undefined;
  }
  if (!info) return void c.problem(`the key of ${w} is not an EncryptedPrivateKeyInfo (PBES2)`);
  if (c.passphrase === undefined) return;
  try {
    const { der, key: k } = await decryptPkcs8Key(toPem("ENCRYPTED PRIVATE KEY", key), c.passphrase, `key of ${w}`);
    der.fill(0);
    c.r.keysChecked++;
    if (cert && !keyObjectsOf(k).spki.equals(Buffer.from(cert.info.publicKey.rawData)))
      c.problem(`the key of ${w} is not its certificate's key`);
  } catch (err) {
    if (err instanceof WrongPassphraseError) c.r.keysSkipped++;
    else c.problem(`the key of ${w} does not open (${(err as Error).message})`);
  }
}

/**
 * `pki doctor --fix` on a depot directory, before the store is opened (which refuses them): the modes that let
 * group or others write, narrowed (the directory to 0700 at most, its files, which hold sealed keys, to 0600 at
 * most). Never widens a mode, never changes an owner.
 */
export function narrowModes(dir: string): Problem[] {
  const out: Problem[] = [];
  for (const p of ownershipProblems(dir)) {
    if (p.kind !== "mode") continue;
    const path = p.file === "." ? dir : join(dir, p.file);
    const st = lstatSync(path);
    const mode = st.mode & 0o777 & (st.isDirectory() ? 0o700 : 0o600);
    chmodSync(path, mode);
    out.push({ file: p.file, problem: p.problem, fix: `chmod ${mode.toString(8).padStart(4, "0")}`, fixed: true });
  }
  return out;
}
