import type { Argv } from "yargs";
import {
  KEY_OPTIONS,
  KEY_PASSPHRASE_OPTION,
  PASSPHRASE_OPTIONS,
  SUBJECT_OPTIONS,
  UsageError,
} from "./common.js";
import { ISSUER_OPTION, SAN_OPTIONS, USAGE_OPTIONS, VALIDITY_OPTIONS } from "./options.js";
import { EXPORT_OPTIONS } from "./export.js";

export const command = "issue <name> [hosts..]";
export const describe =
  "key, CSR and certificate for NAME in one step (new-cert + sign; one passphrase for the CA key and the new key)";

export function builder(y: Argv) {
  return y
    .options({
      ...PASSPHRASE_OPTIONS,
      ...KEY_PASSPHRASE_OPTION,
      ...KEY_OPTIONS,
      ...SUBJECT_OPTIONS,
      ...USAGE_OPTIONS,
      ...ISSUER_OPTION,
      ...SAN_OPTIONS,
      ...VALIDITY_OPTIONS,
      ...EXPORT_OPTIONS,
    })
    .positional("name", { type: "string", describe: "certificate name (A-Z a-z 0-9 . _ -)" })
    .positional("hosts", {
      type: "string",
      array: true,
      describe: "SANs, mkcert-style: IP addresses, DNS names, URIs (scheme://...) and emails (a@b)",
    })
    .options({
      expires: {
        type: "string",
        default: "1 year",
        describe: "validity: '1 year', '90d', '36h', '15m' or a date (never past the issuer's own)",
      },
      export: {
        type: "boolean",
        describe: "write the tar 'pki export' writes to stdout (with --insecure, --p12, --bundle, ...)",
      },
    })
    .example("$0 issue web1 example.com 10.0.0.5", "web1 for example.com and 10.0.0.5, signed by the root")
    .example(
      "$0 issue --export --insecure web1 localhost 127.0.0.1 | tar xvf -",
      "and web1.crt + web1.key.insecure here",
    );
}

/** Sorts positional hosts into SAN kinds; none of the forms can be mistaken for another. */
export function hostsToSans(hosts: string[]): { ip: string[]; domain: string[]; uri: string[]; email: string[] } {
  const out = { ip: [] as string[], domain: [] as string[], uri: [] as string[], email: [] as string[] };
  for (const h of hosts.map(String)) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(h)) out.uri.push(h);
    else if (h.includes("@")) out.email.push(h);
    else if (/^[\d.]+$/.test(h) || h.includes(":")) out.ip.push(h);
    else out.domain.push(h);
  }
  return out;
}

type Args = Awaited<ReturnType<typeof builder>["argv"]> & { depot?: string };

export async function handler(a: Args) {
  const { subjectFrom, keySpecFrom, sansFrom, leafProfileFrom, expiryFrom, notBeforeFrom } =
    await import("./args.js");
  const { checkName } = await import("../lib/x509/validate.js");
  const name = checkName(a.name);
  if (a.export) (await import("./export.js")).checkExportArgs(a, `pki issue --export ${name} ...`);
  else {
    const stray = Object.keys(EXPORT_OPTIONS).find((k) => a[k] !== undefined);
    if (stray) throw new UsageError(`--${stray} needs --export`);
  }
  if ((a.hosts ?? []).some((h) => String(h).split(",").some((p) => !p.trim())))
    throw new UsageError("empty HOST: give it a value (an unset shell variable?), or leave it out");
  const h = hostsToSans(a.hosts ?? []);
  const merge = (flag: unknown, extra: string[]) =>
    flag === undefined && !extra.length ? undefined : [...[flag ?? []].flat(), ...extra];
  const sans = sansFrom({
    ip: merge(a.ip, h.ip),
    domain: merge(a.domain, h.domain),
    uri: merge(a.uri, h.uri),
    email: merge(a.email, h.email),
    san: a.san,
  });
  const subject = subjectFrom(a, { commonName: name });
  const key = keySpecFrom(a);
  const profile = (await leafProfileFrom(a)) ?? { kind: "leaf" as const, usage: "peer" as const };
  const notAfter = expiryFrom(a.expires);
  const notBefore = notBeforeFrom(a.notBefore);
  const issuer = a.issuer === undefined ? undefined : checkName(a.issuer);
  const parsed = { name, subject, sans, key, profile, notAfter, notBefore, issuer };
  const { recordsTarget } = await import("./records.js");
  return (await import("./records-issue.js")).issue(a, await recordsTarget(a.depot), parsed);
}
