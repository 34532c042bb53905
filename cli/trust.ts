import type { Argv } from "yargs";
import { PASSPHRASE_OPTIONS, UsageError } from "./common.js";

export const command = "trust <action>";
export const describe =
  "put the depot's CA into the system, NSS (Chrome/Firefox) and Java trust stores, take it out, or show where it is";

const STORES = ["system", "nss", "java"] as const;

export function builder(y: Argv) {
  return y
    .positional("action", {
      choices: ["install", "uninstall", "status"] as const,
      describe: "install, uninstall or status",
    })
    .options({
      ca: {
        type: "string",
        array: true,
        describe: "the CA (install: the root 'ca'; uninstall and status: every CA of the depot)",
      },
      stores: { type: "string", describe: `comma-separated: ${STORES.join(",")} (default: all)` },
      json: { type: "boolean", describe: "status: machine-readable output" },
      force: { type: "boolean", describe: "install: a CA outside its validity period too (on purpose, to test with)" },
      ...PASSPHRASE_OPTIONS,
    })
    .example(
      "$0 trust install",
      "curl, Python, Chrome/Firefox and Java trust the depot's root (system, java: sudo, with --as-owner)",
    )
    .example("PKI_PASSPHRASE_FILE=pass $0 trust install", "also checks that ca.crt is the certificate of ca.key")
    .example("$0 trust status --json", "which stores hold which of the depot's CAs")
    .example("$0 trust uninstall --stores nss", "take the CAs out of the NSS databases only");
}

function storesFrom(v: unknown): { stores: Array<(typeof STORES)[number]>; explicit: boolean } {
  const list =
    v === undefined
      ? []
      : String(v)
          .split(",")
          .map((s) => s.trim().toLowerCase())
          .filter(Boolean);
  for (const s of list)
    if (!(STORES as readonly string[]).includes(s))
      throw new UsageError(`unknown trust store "${s.slice(0, 40)}": use ${STORES.join(", ")}`);
  return list.length
    ? { stores: [...new Set(list)] as Array<(typeof STORES)[number]>, explicit: true }
    : { stores: [...STORES], explicit: false };
}

type Args = Awaited<ReturnType<typeof builder>["argv"]> & { depot?: string };

export async function handler(a: Args) {
  const { stores, explicit } = storesFrom(a.stores);
  const { getPassphrase, printJson } = await import("./common.js");
  const { checkName } = await import("../lib/x509/validate.js");
  const { x509 } = await import("../lib/x509/peculiar.js");
  const trust = await import("../store/trust/install.js");
  const guard = await import("../store/trust/guard.js");
  const { checkTrustCaKey, trustCas } = await import("../store/depot/trust-cas.js");
  const { recordsTarget, withStore } = await import("./records.js");
  const cas = await withStore(await recordsTarget(a.depot), async (store) => {
    const found = await trustCas(store, a.ca?.map(checkName), a.action === "install");
    const cas = found.map((c) => {
      const cert = new x509.X509Certificate(c.der);
      return { ...trust.trustCa(c.name, cert), constrained: !trust.unconstrained(cert) };
    });
    if (a.action === "install") {
      // Before any store is touched: a CA certificate, in its validity period, and (passphrase at hand) its key's.
      const infos = cas.map((ca) => guard.checkTrustable(ca.name, ca.der, { force: a.force }));
      const passphrase = await getPassphrase(a, "the CA key", { optional: true });
      if (passphrase)
        for (const [i, ca] of found.entries()) await checkTrustCaKey(store, ca, infos[i].publicKey.rawData, passphrase);
    }
    return cas;
  }, { write: false });
  const { targets, unavailable } = trust.resolveStores(stores);
  if (a.action === "status")
    return printStatus(await trust.status(cas, targets), unavailable, a.json ?? false, printJson);
  if (explicit && unavailable.length)
    throw new trust.StoreError(`the ${unavailable[0].store} trust store is not available: ${unavailable[0].reason}`);
  for (const u of unavailable) process.stderr.write(`pki: warning: skipping the ${u.store} store: ${u.reason}\n`);
  const outcomes =
    a.action === "install"
      ? await trust.install(cas, targets, { stores })
      : await trust.uninstall(cas, targets, { stores });
  const words = {
    installed: "installed in",
    already: "already trusted by",
    removed: "removed from",
    absent: "not in",
    kept: "kept in",
  };
  for (const o of outcomes)
    process.stderr.write(
      `${o.ca}: ${words[o.action]} the ${o.store} store (${o.where})${o.note ? `: ${o.note}` : ""}\n`,
    );
  // After the stores took it (a failed install is one line): what trusting it means.
  if (a.action === "install") {
    for (const ca of cas.filter((c) => !c.constrained)) {
      process.stderr.write(
        `pki: warning: the CA "${ca.name}" has no name constraints: once trusted it can vouch for any name (a bank's, a mail server's); ` +
          "a root made with 'pki init --permit-domain example.test --permit-ip 127.0.0.0/8' cannot\n",
      );
    }
  }
  if (a.action === "install" && outcomes.some((o) => o.action === "installed" && o.store === "nss")) {
    process.stderr.write("Restart Chrome and Firefox to pick up the change.\n");
  }
}

type Row = import("../store/trust/install.js").StatusRow;
function printStatus(
  rows: Row[],
  unavailable: Array<{ store: string; reason: string }>,
  json: boolean,
  printJson: (v: unknown) => void,
): void {
  if (json) return printJson({ cas: rows, unavailable });
  for (const r of rows) {
    process.stdout.write(
      `${r.ca.padEnd(12)} ${r.store.padEnd(7)} ${(r.trusted ? "trusted" : "not trusted").padEnd(12)} ${r.where}${r.trusted && !r.byPki ? " (not added by pki)" : ""}\n`,
    );
  }
  for (const u of unavailable)
    process.stdout.write(`${"-".padEnd(12)} ${u.store.padEnd(7)} ${"unavailable".padEnd(12)} ${u.reason}\n`);
}
