import type { Argv } from "yargs";
import { getPassphrase, KEY_OPTIONS, KEY_PASSPHRASE_OPTION, PASSPHRASE_OPTIONS, SUBJECT_OPTIONS } from "./common.js";
import { VALIDITY_OPTIONS } from "./options.js";

export const command = "init";
export const describe = "create a new root CA in the depot, or an intermediate CA under it (--intermediate NAME)";

export function builder(y: Argv) {
  return y
    .options({ ...PASSPHRASE_OPTIONS, ...KEY_OPTIONS, ...SUBJECT_OPTIONS, ...VALIDITY_OPTIONS })
    .options({
      expires: {
        type: "string",
        describe: "validity: '10 years', '90d', '36h', '15m' or a date (root: 10 years; intermediate: 5 years)",
      },
      "path-length": {
        type: "number",
        describe: "basicConstraints pathLenConstraint (root: none, i.e. unlimited; intermediate: 0)",
      },
      intermediate: { type: "string", describe: "create an intermediate CA named NAME in an existing depot" },
      "ca-key": {
        type: "string",
        describe: "keep the CA key in a PKCS#11 token: an RFC 7512 URI, pkcs11:token=...;object=...?module-path=...",
      },
      "existing-key": {
        type: "boolean",
        describe: "with --ca-key: use the key already in the token (found by id= and/or object=), not a new one",
      },
      "crl-url": {
        type: "string",
        describe: "http:// URL where this CA's CRL is published: put in every certificate it signs from now on",
      },
      parent: { type: "string", default: "ca", describe: "with --intermediate: the CA that signs it" },
      "parent-passphrase-file": {
        type: "string",
        describe: "with --intermediate: the parent key's passphrase, when the new key's differs (default: the same)",
      },
      "key-passphrase-file": {
        ...KEY_PASSPHRASE_OPTION["key-passphrase-file"],
        describe: "with --intermediate: a passphrase of the new key's own, from FILE; default: the parent key's",
      },
      "permit-domain": {
        type: "string",
        array: true,
        describe: "name constraint: certificates may name only this domain and its subdomains (repeatable)",
      },
      "exclude-domain": {
        type: "string",
        array: true,
        describe: "name constraint: certificates may never name this domain or its subdomains (repeatable)",
      },
      "permit-ip": {
        type: "string",
        array: true,
        describe: "name constraint: IP SANs only in this CIDR range, e.g. 127.0.0.0/8 (repeatable)",
      },
      "exclude-ip": {
        type: "string",
        array: true,
        describe: "name constraint: no IP SAN in this CIDR range (repeatable)",
      },
    })
    .example("$0 init --common-name 'Example CA' --passphrase-file ca.pass", "new ECDSA P-256 root valid 10 years")
    .example(
      "$0 init --intermediate issuing --passphrase-file ca.pass",
      "an intermediate CA 'issuing' (pathlen 0) signed by the root",
    )
    .example(
      "$0 init --ca-key 'pkcs11:token=pki-ca;object=root-ca?module-path=/usr/lib/softhsm/libsofthsm2.so'",
      "a root whose key is made in a PKCS#11 token and never leaves it (PIN: PKI_PKCS11_PIN_FILE, or asked)",
    )
    .example(
      "$0 init --permit-domain example.test --permit-ip 127.0.0.0/8",
      "a root that can only certify *.example.test and 127.x.x.x",
    );
}

type Args = Awaited<ReturnType<typeof builder>["argv"]> & { depot?: string };

export async function handler(a: Args) {
  const { subjectFrom, keySpecFrom, expiryFrom, notBeforeFrom, pathLengthFrom } = await import("./args.js");
  const key = keySpecFrom(a);
  const caKey = await caKeyFrom(a);
  const pathLength = pathLengthFrom(a.pathLength);
  const notBefore = notBeforeFrom(a.notBefore);
  const { constraintsFrom } = await import("../lib/x509/constraints.js");
  const constraints = constraintsFrom(a);
  const crlUrl = await crlUrlFrom(a.crlUrl);
  if (a.intermediate !== undefined)
    return intermediate(a, { key, pathLength, notBefore, constraints, caKey, crlUrl });
  const subject = subjectFrom(a, { commonName: "pki Root CA", organization: "pki" });
  const notAfter = expiryFrom(a.expires ?? "10 years")(notBefore ?? new Date());
  const { locateDepot } = await import("../store/depot/locate.js");
  const target = locateDepot(a.depot);
  const init = await import("../store/depot/init.js");
  init.checkRoomForDepot(target); // before the prompt
  const what = caKey ? "the keys issued under the CA (its own is in the token)" : "the CA key";
  const passphrase = (await getPassphrase(a, what, { confirm: true }))!;
  const o = { subject, key, notAfter, notBefore, passphrase, pathLength, constraints, caKey, crlUrl };
  const made = await init.initDepot(target, o);
  const until = made.notAfter.toISOString();
  process.stderr.write(`Created CA "${made.subject}" in ${made.label} (valid until ${until})\n`);
  if (made.keyUri) process.stderr.write(`Its key is in the token: ${made.keyUri}\n`);
}

async function intermediate(
  a: Args,
  o: {
    key: import("../lib/x509/keys.js").KeySpec;
    pathLength?: number;
    notBefore?: Date;
    constraints?: import("../lib/x509/constraints.js").NameConstraints;
    caKey?: Awaited<ReturnType<typeof caKeyFrom>>;
    crlUrl?: string;
  },
) {
  const { subjectFrom, expiryFrom } = await import("./args.js");
  const { checkName } = await import("../lib/x509/validate.js");
  const name = checkName(a.intermediate);
  const parent = checkName(a.parent);
  const subject = subjectFrom(a, { commonName: name });
  const notAfter = expiryFrom(a.expires ?? "5 years");
  const t = await (await import("./records.js")).recordsTarget(a.depot);
  const parsed = { ...o, name, parent, subject, notAfter };
  const made = await (await import("./records-issue.js")).intermediate(a, t, parsed);
  process.stderr.write(
    `Created intermediate CA "${name}" (${made.subject}, path length ${o.pathLength ?? 0}) signed by "${parent}", ` +
      `valid until ${made.notAfter.toISOString()}\n`,
  );
}

/** --crl-url URL, refused (a usage error) unless it is an http:// URL a certificate can carry. */
async function crlUrlFrom(url: string | undefined): Promise<string | undefined> {
  if (url === undefined) return undefined;
  const problem = (await import("../lib/x509/crl-dp.js")).crlUrlProblem(url);
  if (problem) throw new (await import("./common.js")).UsageError(`--crl-url ${problem}`);
  return url;
}

/** --ca-key URI (and --existing-key): the CA key's token, with the PIN asked on a terminal when needed. */
async function caKeyFrom(a: Args) {
  const { UsageError } = await import("./common.js");
  if (a.caKey === undefined) {
    if (a.existingKey) throw new UsageError("--existing-key names a key in a token: give the token with --ca-key");
    return undefined;
  }
  const { isPkcs11Uri, parsePkcs11Uri } = await import("../lib/pkcs11/uri.js");
  if (!isPkcs11Uri(a.caKey)) throw new UsageError("--ca-key takes a PKCS#11 URI (pkcs11:token=...;object=...)");
  parsePkcs11Uri(a.caKey); // a malformed URI is refused before any prompt
  const prompt = process.stdin.isTTY ? (await import("./prompt.js")).promptHidden : undefined;
  return { uri: a.caKey, existing: a.existingKey === true, pin: { prompt } };
}
