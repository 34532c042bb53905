/**
 * `pki import` writes only what the depot's own loader (records/integrity.ts) accepts: every entry is judged by those rules,
 * in issuing order, before anything is written. The root CA failing them refuses the import (one line); any other
 * entry is left out and listed with the reason, as files of unknown kind are, and so is whatever it issued. A
 * left-out certificate stays on record under `removed` (its serial reserved, its revocation kept on the CRL).
 */
import { basename } from "node:path";
import { checkDomain, checkEmail, checkIp, checkUri, InputError, quote } from "../../lib/x509/validate.js";
import type { Sans } from "../../lib/x509/cert.js";
import type { Entry } from "../records/schema.js";
import type { Index } from "../records/layout1-index.js";
import { DepotError } from "../fsutil.js";
import { checkIndex, SERIAL_RE } from "../records/integrity.js";

const ROOT = "ca";
const RULES: Record<keyof Sans, (v: string) => string> = {
  ips: checkIp, domains: checkDomain, uris: checkUri, emails: checkEmail,
};

/** The SANs as the depot records them (each rule's canonical text); a value a rule refuses stays as it was. */
function canonical(s: Sans): Sans {
  const fix = (k: keyof Sans, list: string[]) =>
    list.map((v) => {
      try { return RULES[k](v); } catch { return v; }
    });
  const out: Sans = { ...s, ips: fix("ips", s.ips), domains: fix("domains", s.domains) };
  if (s.uris) out.uris = fix("uris", s.uris);
  if (s.emails) out.emails = fix("emails", s.emails);
  return out;
}

/** Why the loader would refuse `e` beside the entries kept so far (undefined: it would not), in the rules' words. */
function problem(kept: Record<string, Entry>, e: Entry): string | undefined {
  try {
    checkIndex({ entries: { ...kept, [e.name]: e }, serials: [] });
    return undefined;
  } catch (err) {
    if (!(err instanceof DepotError)) throw err;
    const m = /damaged: entries\["[^"]*"\]\.(\S+) (.+): run 'pki doctor'$/.exec(err.message);
    if (!m) return err.message;
    const [, field, why] = m;
    const path = field.split(/[.[\]]+/).filter(Boolean);
    const value = path.reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], e);
    const rule = path[0] === "sans" ? RULES[path[1] as keyof Sans] : undefined;
    if (rule) {
      try { rule(String(value)); } catch (r) { return (r as Error).message; }
    }
    return `its ${field} ${quote(value)} ${why}`;
  }
}

/**
 * Keeps in `idx.entries` only what the loader accepts, judged in `order` (the root first, issuers before what they
 * issued); says why each other entry is left out in `skipped`. `fileOf` names an entry's source file.
 */
export function keepLoadable(idx: Index, order: string[], fileOf: (name: string) => string, skipped: string[]): void {
  const kept: Record<string, Entry> = {};
  for (const name of order) {
    const e = idx.entries[name];
    if (!e) continue;
    e.sans = canonical(e.sans);
    const why =
      e.issuer !== undefined && !kept[e.issuer] ? `issued by "${e.issuer}", which is left out` : problem(kept, e);
    if (!why) {
      kept[name] = e;
      continue;
    }
    if (name === ROOT) throw new InputError(`${fileOf(name)}: ${why}: a depot pki cannot load, so nothing is imported`);
    delete idx.entries[name];
    skipped.push(`${fileOf(name)}: ${why}: left out`);
    if (!e.serial) continue;
    if (!SERIAL_RE.test(e.serial)) {
      idx.serials = idx.serials.filter((s) => s !== e.serial);
      continue;
    }
    (idx.removed ??= []).push({
      name: basename(fileOf(name)), serial: e.serial, issuer: e.issuer ?? ROOT, notBefore: e.notBefore!,
      notAfter: e.notAfter!,
    });
  }
}

/** The last gate: the whole index as the loader will read it; a refusal here is pki's own failure, said plainly. */
export function checkImportedIndex(idx: Index): void {
  try {
    checkIndex(idx);
  } catch (e) {
    throw new InputError(`the imported depot would not load (${(e as Error).message}): nothing is imported`);
  }
}
