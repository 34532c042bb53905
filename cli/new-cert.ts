import type { Argv } from "yargs";
import {
  KEY_OPTIONS,
  KEY_PASSPHRASE_OPTION,
  PASSPHRASE_OPTIONS,
  SUBJECT_OPTIONS,
  UsageError,
} from "./common.js";
import { CSR_OPTION, ISSUER_OPTION, SAN_OPTIONS, USAGE_OPTIONS } from "./options.js";

export const command = "new-cert <name>";
export const describe =
  "create a key and a CSR for NAME, held in the depot (or, with --csr, file a request made elsewhere)";

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
      ...CSR_OPTION,
    })
    .positional("name", { type: "string", describe: "certificate name (A-Z a-z 0-9 . _ -)" })
    .options({
      ca: { type: "boolean", describe: "a key and CSR for an intermediate CA (then: pki sign --intermediate NAME)" },
      "path-length": { type: "number", describe: "with --ca: basicConstraints pathLenConstraint (default 0)" },
    })
    .example("$0 new-cert --ip 127.0.0.1 --domain localhost server1", "key + CSR for a server on 127.0.0.1")
    .example("$0 new-cert --uri spiffe://example.org/ns/web web", "a workload identity (URI SAN)")
    .example(
      "$0 new-cert --client --issuer issuing alice",
      "a client-only certificate to be signed by the intermediate 'issuing'",
    )
    .example("$0 new-cert --csr web.csr web", "file a request made elsewhere; 'pki sign web' later");
}

type Args = Awaited<ReturnType<typeof builder>["argv"]> & { depot?: string };

export async function handler(a: Args) {
  const { subjectFrom, keySpecFrom, sansFrom, sanText, leafProfileFrom, pathLengthFrom, hasSanArgs } =
    await import("./args.js");
  const { checkName } = await import("../lib/x509/validate.js");
  const name = checkName(a.name);
  const leaf = await leafProfileFrom(a);
  if (a.ca && leaf) throw new UsageError("--ca conflicts with --server/--client/--peer/--eku");
  const issuer = a.issuer === undefined ? undefined : checkName(a.issuer);
  if (a.csr !== undefined) return fileRequest(a, name, leaf, issuer);
  const subject = subjectFrom(a, { commonName: name });
  const key = keySpecFrom(a);
  const profile = a.ca ? { kind: "ca" as const, pathLength: pathLengthFrom(a.pathLength) ?? 0 } : leaf;
  const sans = sansFrom(a, { empty: a.ca && !hasSanArgs(a) });
  const t = await (await import("./records.js")).recordsTarget(a.depot);
  await (await import("./records-issue.js")).newCert(a, t, { name, subject, sans, key, profile, issuer });
  process.stderr.write(
    `Created key and CSR for "${name}" (SANs: ${sanText(sans) || "none"}); next: pki sign ${a.ca ? "--intermediate " : ""}${name}\n`,
  );
}

/**
 * --csr: the request is verified and validated now, filed as an unsigned external-key entry, signed by 'pki sign NAME'.
 */
async function fileRequest(
  a: Args,
  name: string,
  profile: import("../lib/x509/cert.js").Profile | undefined,
  issuer?: string,
) {
  const keyFlags = [
    "ca",
    "pathLength",
    "keyType",
    "curve",
    "keyBits",
    "commonName",
    "organization",
    "organizationalUnit",
    "country",
    "keyPassphraseFile",
  ];
  const bad = keyFlags.filter((k) => a[k] !== undefined && !(k === "keyType" && a[k] === "ecdsa"));
  if (bad.length)
    throw new UsageError(
      `--csr conflicts with --${bad[0].replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: the request sets the key and subject`,
    );
  const { externalRequestFrom, readCsrInput, requireSan, sanText } = await import("./args.js");
  const file = String(a.csr);
  const req = await externalRequestFrom(await readCsrInput(file), a, file === "-" ? "the CSR on stdin" : file);
  requireSan(req.sans, a, `the request for "${name}"`);
  const t = await (await import("./records.js")).recordsTarget(a.depot);
  await (await import("./records-issue.js")).fileRequest(t, name, req, { profile, issuer });
  process.stderr.write(
    `Filed the request for "${name}" (external key, ${req.keyType}; SANs: ${sanText(req.sans) || "none"}); next: pki sign ${name}\n`,
  );
}
