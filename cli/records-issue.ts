/**
 * issue, new-cert, sign and init --intermediate on the record store (cli/records.ts): the flags are parsed by
 * each command; here the passphrase prompts (checked against the key they open before anything is
 * written, #28), the operation in store/depot/, and the same lines printed.
 */
import type { Profile, Sans, Subject } from "../lib/x509/issuance.js";
import type { KeySpec } from "../lib/x509/keys.js";
import type { NameConstraints } from "../lib/x509/constraints.js";
import type { DepotTarget } from "../store/depot/locate.js";
import type { ForeignCsr } from "../store/depot/request.js";
import type { Session } from "../store/depot/session.js";
import type { RecordStore } from "../store/records/schema.js";
import { getPassphrase, last, printWarnings, type PassArgs } from "./common.js";
import { withStore } from "./records.js";

type Args = PassArgs & Record<string, unknown> & { keyPassphraseFile?: string };
const caKey = (ca: string) => (ca === "ca" ? "the CA key" : `the key of the CA "${ca}"`);
const HINT = "a new key takes the passphrase of the CA that signs it; one of its own: --key-passphrase-file";

/** A session for the passphrase of CA `ca`'s key (a prompt asks again when it does not open it). */
async function caSession(a: Args, store: RecordStore, label: string, ca: string, what = caKey(ca), hint?: string) {
  const { checkKeyPassphrase, sessionOn } = await import("../store/depot/session.js");
  const verify = (p: string) => checkKeyPassphrase(store, ca, p, hint);
  const passphrase = (await getPassphrase(a, what, { verify }))!;
  // The depot row is read while the KDF derives; the key opened to check the passphrase is the one the CA signs with.
  const s = await sessionOn(label, store, passphrase);
  try {
    s.adopt(await verify(passphrase)); // a passphrase from a file or the environment is checked here (a prompt's was)
  } catch (e) {
    await s.close();
    throw e;
  }
  return Object.assign(s, { passphraseGiven: passphrase });
}

async function ownPassphrase(a: Args, name: string): Promise<string | undefined> {
  if (a.keyPassphraseFile === undefined) return undefined;
  return (await getPassphrase({ passphraseFile: last(a.keyPassphraseFile) }, `the key of "${name}"`))!;
}

/**
 * The session from `session()` while `prep` (the checks, a new key and its CSR) runs beside the passphrase's
 * reading and the KDF; when the session is refused, `drop` zeroes what prep made.
 */
async function beside<P, S>(prep: Promise<P>, session: () => Promise<S>, drop: (p: P) => void): Promise<S> {
  prep.catch(() => undefined); // a failure is reported where prep is awaited, not as an unhandled rejection
  try {
    return await session();
  } catch (e) {
    prep.then(drop, () => undefined);
    throw e;
  }
}

async function closing<T>(s: Session, fn: (s: Session) => Promise<T>): Promise<T> {
  try { return await fn(s); } finally { await s.close(); }
}

export interface IssueParsed {
  name: string; subject: Subject; sans: Sans; key: KeySpec; profile: Profile;
  notAfter: (from: Date) => Date; notBefore?: Date; issuer?: string;
}

/** `pki issue`; with --export the tar follows, the key opened with the passphrase that sealed it. */
export async function issue(a: Args & { export?: boolean }, t: DepotTarget, p: IssueParsed): Promise<void> {
  const { sanText } = await import("./args.js");
  const { checkFree, issueNew, issuerPath, prepareNew, validityOf } = await import("../store/depot/issue.js");
  await withStore(t, async (store, label) => {
    const issuer = p.issuer ?? "ca";
    await store.read(async (tx) => {
      await checkFree(tx, p.name);
      await issuerPath(tx, issuer); // an unknown, unsigned or non-CA issuer is said before the prompt
    });
    const who =
      issuer !== "ca" ? `the key of the CA "${issuer}" and of "${p.name}"` : `the CA key and the key of "${p.name}"`;
    const c = {
      subject: p.subject, sans: p.sans, keyType: p.key, issuer, profile: p.profile, pastOk: true,
      ...validityOf(p.notAfter, p.notBefore),
    };
    const prepared = prepareNew(store, p.name, c);
    const s = await beside(prepared, () => caSession(a, store, label, issuer, who), (x) => x.made?.pkcs8.fill(0));
    await closing(s, async () => {
      const keyPassphrase = await ownPassphrase(a, p.name);
      // the tar's passwords are asked for now: none to hand refuses the command before anything is issued
      const exporting = a.export ? await import("./export.js") : undefined;
      const passwords = await exporting?.exportPasswords(a, p.name);
      const { cert, warnings } = await issueNew(s, p.name, { ...c, keyPassphrase }, prepared);
      printWarnings(warnings);
      process.stderr.write(
        `Issued "${p.name}" (SANs: ${sanText(p.sans) || "none"}) by "${issuer}": serial ${cert.serialNumber}, ` +
          `valid until ${cert.notAfter.toISOString()}\n`,
      );
      if (!exporting) return;
      const src = (await import("./records.js")).exportSource(store);
      await exporting.writeExport(a, src, p.name, keyPassphrase ?? s.passphraseGiven, passwords);
    });
  });
}

/** `pki new-cert`: a key and CSR; the depot's passphrase (it must open the issuer's key) or the key's own. */
export interface NewCertParsed {
  name: string; subject: Subject; sans: Sans; key: KeySpec; profile?: Profile; issuer?: string;
}

export async function newCert(a: Args, t: DepotTarget, p: NewCertParsed): Promise<void> {
  const { checkFree } = await import("../store/depot/issue.js");
  const { newRequest, prepareRequest } = await import("../store/depot/request.js");
  await withStore(t, async (store, label) => {
    const ca = p.issuer ?? "ca";
    await store.read(async (tx) => {
      await checkFree(tx, p.name);
      const ie = p.issuer === undefined ? undefined : await tx.entry(p.issuer);
      if (p.issuer && !ie) throw new Error(`unknown name "${p.issuer}": see 'pki list'`);
      if (ie && ie.kind !== "ca")
        throw new Error(`"${p.issuer}" is not a CA: issue from the root or an intermediate (pki init --intermediate)`);
    });
    const own = await ownPassphrase(a, p.name);
    const { sessionOn } = await import("../store/depot/session.js");
    const o = { ...p, keyType: p.key, keyPassphrase: own };
    const prepared = prepareRequest(store, p.name, o);
    const s = await beside(prepared, () => own !== undefined
      ? sessionOn(label, store, own)
      : caSession(a, store, label, ca, `${caKey(ca)} (it seals the key of "${p.name}" too)`, HINT),
    (x) => x.keys.pkcs8.fill(0));
    await closing(s, () => newRequest(s, p.name, o, prepared));
  });
}

/** `pki new-cert --csr`: files a request made elsewhere; no passphrase. */
export async function fileRequest(
  t: DepotTarget, name: string, req: ForeignCsr, o: { profile?: Profile; issuer?: string },
): Promise<void> {
  const { fileRequest: file } = await import("../store/depot/request.js");
  await withStore(t, (store) => file(store, name, req, o));
}

export interface SignParsed {
  name: string; notAfter: (from: Date) => Date; notBefore?: Date; leaf?: Profile; intermediate?: boolean;
  pathLength?: number; issuer?: string;
}

/** `pki sign NAME` of a request new-cert made (a key the depot holds). */
export async function sign(a: Args, t: DepotTarget, p: SignParsed): Promise<void> {
  const { filedRequest } = await import("../store/depot/request.js");
  const { prepareSign, signRequest } = await import("../store/depot/sign.js");
  await withStore(t, async (store, label) => {
    const { entry } = await filedRequest(store, p.name);
    if (entry.status !== "unsigned") throw new Error(`"${p.name}" is already signed`);
    const profile: Profile | undefined =
      p.intermediate || (entry.kind === "ca" && p.pathLength !== undefined)
        ? { kind: "ca", pathLength: p.pathLength ?? entry.pathLength ?? 0 }
        : p.leaf;
    const issuer = p.issuer ?? entry.issuer ?? "ca";
    const prepared = prepareSign(store, p.name);
    const s = await beside(prepared, () => caSession(a, store, label, issuer), () => undefined);
    const { cert, warnings } = await closing(s, () =>
      signRequest(s, p.name, { issuer, profile, notAfter: p.notAfter, notBefore: p.notBefore }, prepared));
    printWarnings(warnings);
    process.stderr.write(
      `Signed "${p.name}" by "${issuer}": serial ${cert.serialNumber}, valid until ${cert.notAfter.toISOString()}\n`,
    );
  });
}

/**
 * `pki sign --csr FILE NAME` (a new external-key entry) or `pki sign NAME` of a request new-cert --csr filed:
 * `request` turns the bytes (the file's, or the filed request's) into a checked request.
 */
export async function signExternal(
  a: Args & { csr?: string }, t: DepotTarget, p: SignParsed,
  request: (data: Uint8Array, what: string, filed?: Sans) => Promise<ForeignCsr>,
  readCsr: (file: string) => Promise<Uint8Array>,
): Promise<void> {
  const { filedRequest } = await import("../store/depot/request.js");
  const { signForeign } = await import("../store/depot/sign.js");
  const { sanText } = await import("./args.js");
  const { sanCount } = await import("../lib/x509/issuance.js");
  await withStore(t, async (store, label) => {
    const pre = await filedRequest(store, p.name).catch((e) => {
      if (a.csr !== undefined && /^unknown name/.test((e as Error).message)) return undefined;
      throw e;
    });
    if (pre && a.csr !== undefined)
      throw new Error(`"${p.name}" already exists in the depot: pick a new name (or 'pki renew ${p.name} --csr FILE')`);
    if (pre && pre.entry.status !== "unsigned") throw new Error(`"${p.name}" is already signed`);
    if (pre && !pre.csr) throw new Error(`"${p.name}" has no request in the depot: run 'pki doctor'`);
    const data = a.csr === undefined ? pre!.csr! : await readCsr(a.csr);
    const what = a.csr === undefined ? `the request of "${p.name}"` : a.csr === "-" ? "the CSR on stdin" : a.csr;
    const req = await request(data, what, pre?.entry.sans);
    const issuer = p.issuer ?? pre?.entry.issuer ?? "ca";
    const s = await caSession(a, store, label, issuer);
    const { cert, entry, warnings } = await closing(s, () =>
      signForeign(s, p.name, req, { issuer, profile: p.leaf, notAfter: p.notAfter, notBefore: p.notBefore }));
    if (!sanCount(req.sans) && entry.usage !== "client")
      warnings.push("the certificate has no SANs: TLS clients will not accept it for a server name");
    printWarnings(warnings);
    process.stderr.write(
      `Signed "${p.name}" (external key, ${entry.keyType}; SANs: ${sanText(req.sans) || "none"}) by "${issuer}": ` +
        `serial ${cert.serialNumber}, valid until ${cert.notAfter.toISOString()}\n`,
    );
  });
}

export interface IntermediateParsed {
  name: string; parent: string; subject: Subject; key: KeySpec; pathLength?: number; notBefore?: Date;
  notAfter: (from: Date) => Date; constraints?: NameConstraints;
  /** the new CA's key in a PKCS#11 token (--ca-key, --existing-key) */
  caKey?: { uri: string; existing?: boolean; pin?: import("../store/keys/pin.js").PinOptions };
  crlUrl?: string;
}

/**
 * `pki init --intermediate NAME`: the parent's key opens with --parent-passphrase-file, else with the depot's
 * passphrase, which then seals the new key too (checked: it opens the parent's); a passphrase of the new key's
 * own is --key-passphrase-file, or the --passphrase sources beside --parent-passphrase-file.
 */
export async function intermediate(
  a: Args & { parentPassphraseFile?: string }, t: DepotTarget, p: IntermediateParsed,
): Promise<{ serial: string; notAfter: Date; subject: string }> {
  const { checkFree } = await import("../store/depot/issue.js");
  const { newIntermediate } = await import("../store/depot/intermediate.js");
  const { checkKeyPassphrase, sessionOn } = await import("../store/depot/session.js");
  return withStore(t, async (store, label) => {
    await store.read(async (tx) => {
      await checkFree(tx, p.name);
      if (!(await tx.entry(p.parent))) throw new Error(`unknown name "${p.parent}": see 'pki list'`);
    });
    const own = await ownPassphrase(a, p.name);
    const parentKey = caKey(p.parent).replace("the key of the CA", "the key of");
    const file = (f: string) => getPassphrase({ passphraseFile: f }, parentKey).then((x) => x!);
    let parentPass: string, keyPass: string | undefined;
    if (a.parentPassphraseFile !== undefined) {
      parentPass = await file(a.parentPassphraseFile);
      await checkKeyPassphrase(store, p.parent, parentPass);
      keyPass = own ?? (await getPassphrase(a, `the key of the intermediate "${p.name}"`, { confirm: true }))!;
    } else {
      parentPass = (await getPassphrase(a, `${parentKey} (it seals the key of the intermediate "${p.name}" too)`, {
        verify: (x) => checkKeyPassphrase(store, p.parent, x),
      }))!;
      keyPass = own;
    }
    const s = await sessionOn(label, store, parentPass);
    if (process.stdin.isTTY) s.pin = { prompt: (await import("./prompt.js")).promptHidden }; // a parent in a token
    const r = await closing(s, () => newIntermediate(s, p.name, { ...p, keyPassphrase: keyPass }));
    printWarnings(r.warnings);
    return { serial: r.cert.serialNumber, notAfter: r.cert.notAfter, subject: r.entry.subject };
  });
}
