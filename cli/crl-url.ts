/** `pki crl --set-url URL|none [--issuer CA]`: the CA's CRL URL for what it signs from now on (record store). */
import { UsageError } from "./common.js";

export async function setUrl(depot: string | undefined, ca: string, v: unknown): Promise<void> {
  const url = String(Array.isArray(v) ? v[v.length - 1] : v);
  const { crlUrlProblem } = await import("../lib/x509/crl-dp.js");
  const problem = url === "none" ? undefined : crlUrlProblem(url);
  if (problem) throw new UsageError(`--set-url ${problem}`);
  const { recordsTarget, withStore } = await import("./records.js");
  const t = await recordsTarget(depot);
  const { setCrlUrl } = await import("../store/depot/crl-url.js");
  const r = await withStore(t, (store) => setCrlUrl(store, ca, url === "none" ? undefined : url));
  const now = url === "none" ? "no CRL URL" : `the CRL URL ${url}`;
  process.stderr.write(`Certificates ${r.who} signs from now on carry ${now} (was: ${r.was ?? "none"})\n`);
}
