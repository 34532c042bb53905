import type { Argv } from "yargs";
import { PASSPHRASE_OPTIONS, UsageError } from "./common.js";
import { CSR_OPTION, ISSUER_OPTION, SAN_OPTIONS, USAGE_OPTIONS, VALIDITY_OPTIONS } from "./options.js";

export const command = "sign <name>";
export const describe =
  "sign NAME's CSR with its issuing CA (needs that CA's passphrase); --csr FILE signs a request made elsewhere";

export function builder(y: Argv) {
  return y
    .options({
      ...PASSPHRASE_OPTIONS,
      ...USAGE_OPTIONS,
      ...ISSUER_OPTION,
      ...VALIDITY_OPTIONS,
      ...CSR_OPTION,
      ...SAN_OPTIONS,
    })
    .positional("name", { type: "string", describe: "the certificate's name in the depot" })
    .options({
      expires: {
        type: "string",
        default: "1 year",
        describe: "validity: '1 year', '90d', '36h', '15m' or a date (never past the issuer's own)",
      },
      intermediate: { type: "boolean", describe: "issue NAME as an intermediate CA (basicConstraints CA:TRUE)" },
      "path-length": { type: "number", describe: "with --intermediate: pathLenConstraint (default 0)" },
    })
    .example("$0 sign --passphrase-file ca.pass server1", "issue server1's certificate, valid 1 year")
    .example("$0 sign --issuer issuing --server web1", "a server-only certificate from the intermediate 'issuing'")
    .example("$0 sign --csr web.csr --server web", "sign a request made by 'openssl req' (the key stays where it is)");
}

type Args = Awaited<ReturnType<typeof builder>["argv"]> & { depot?: string };

export async function handler(a: Args) {
  const { expiryFrom, leafProfileFrom, notBeforeFrom, pathLengthFrom } = await import("./args.js");
  const { checkName } = await import("../lib/x509/validate.js");
  const notAfter = expiryFrom(a.expires);
  const notBefore = notBeforeFrom(a.notBefore);
  const leaf = await leafProfileFrom(a);
  if (a.intermediate && leaf) throw new UsageError("--intermediate conflicts with --server/--client/--peer/--eku");
  const pathLength = pathLengthFrom(a.pathLength);
  const name = checkName(a.name);
  const t = await (await import("./records.js")).recordsTarget(a.depot);
  return signOn(a, t, { name, notAfter, notBefore, leaf, pathLength });
}

type Profile = import("../lib/x509/cert.js").Profile;

/** NAME's filed request, or a request made elsewhere (cli/records-issue.ts). */
async function signOn(
  a: Args,
  t: import("../store/depot/locate.js").DepotTarget,
  p: { name: string; notAfter: (from: Date) => Date; notBefore?: Date; leaf?: Profile; pathLength?: number },
) {
  const { externalRequestFrom, hasSanArgs, readCsrInput, requireSan } = await import("./args.js");
  const { checkName } = await import("../lib/x509/validate.js");
  const ops = await import("./records-issue.js");
  const issuer = a.issuer === undefined ? undefined : checkName(a.issuer);
  const parsed = { ...p, issuer, intermediate: a.intermediate };
  const pre = a.csr === undefined ? await filedExternal(t, p.name) : undefined;
  if (a.csr === undefined && !pre) {
    if (hasSanArgs(a))
      throw new UsageError("--ip/--domain/--uri/--email with sign need --csr: NAME's request already names its SANs");
    return ops.sign(a, t, parsed);
  }
  if (a.intermediate || a.pathLength !== undefined)
    throw new (a.csr === undefined ? Error : UsageError)(
      "--intermediate with an external key is not supported: the depot only holds CAs whose keys it holds",
    );
  await ops.signExternal(a, t, parsed, async (data, what, filed) => {
    const req = await externalRequestFrom(data, a, what);
    if (filed && !hasSanArgs(a)) req.sans = filed; // the SANs chosen when it was filed
    else requireSan(req.sans, a, `the request for "${p.name}"`);
    return req;
  }, readCsrInput);
}

/** Whether NAME is a request new-cert --csr filed (an external-key entry). */
async function filedExternal(t: import("../store/depot/locate.js").DepotTarget, name: string): Promise<boolean> {
  const { withStore } = await import("./records.js");
  const { filedRequest } = await import("../store/depot/request.js");
  return withStore(t, async (store) => Boolean((await filedRequest(store, name)).entry.external), { write: false });
}
