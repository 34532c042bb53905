/**
 * The system trust store: Debian/Ubuntu/Alpine (update-ca-certificates), RHEL/Fedora (update-ca-trust),
 * detected at run time; macOS (security) and Windows (certutil -addstore), implemented but exercised
 * only where they run. pki's anchor file is named after the CA's SHA-256 fingerprint.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync } from "node:fs";
import { platform } from "node:os";
import { dirname, join } from "node:path";
import { entryName, restore, StoreError, Target, tool, TrustCa, Unavailable, which, WithFile } from "./stores.js";

const DEBIAN = {
  anchors: "/usr/local/share/ca-certificates",
  certs: "/etc/ssl/certs",
  bundle: "/etc/ssl/certs/ca-certificates.crt",
  javaCacerts: "/etc/ssl/certs/java/cacerts",
};
const RHEL = {
  anchors: "/etc/pki/ca-trust/source/anchors",
  bundle: "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
};

/** Whether a PEM bundle holds the certificate (by DER). */
function bundleHas(path: string, der: Buffer): boolean {
  if (!existsSync(path)) return false;
  const b64 = der.toString("base64");
  return readFileSync(path, "latin1").replace(/\r?\n/g, "").includes(b64);
}

/**
 * Writes the anchor file and runs the store's update; a failed update takes it out again. The anchor is pki's own
 * file: the caller's and 0644, even where one was left (by an older pki, --as-owner) with another owner.
 */
function addAnchor(path: string, pem: string, update: () => unknown): void {
  rmSync(path, { force: true });
  restore(path, pem, 0o644);
  try {
    update();
  } catch (e) {
    rmSync(path, { force: true });
    throw e;
  }
}

const readIf = (p: string) => (existsSync(p) ? readFileSync(p) : null);
/** The certificates of a PEM bundle, as their base64 bodies, counted. */
function bundleCounts(pem: Buffer): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of pem.toString("latin1").matchAll(/-----BEGIN CERTIFICATE-----([^-]*)-----END CERTIFICATE-----/g)) {
    const b64 = x[1].replace(/\s/g, "");
    m.set(b64, (m.get(b64) ?? 0) + 1);
  }
  return m;
}

/**
 * What is wrong with the bundle a store tool left (undefined: nothing): every certificate of the bundle before is
 * still there, none more often than before, and pki's CA is in it once (`adding`) or not at all.
 */
export function bundleProblem(before: Buffer, after: Buffer, ca: TrustCa, adding: boolean): string | undefined {
  const b = bundleCounts(before),
    a = bundleCounts(after),
    ours = ca.der.toString("base64");
  const lost = [...b.keys()].filter((k) => k !== ours && !a.has(k)).length;
  if (lost) return `${lost} of its ${b.size} certificates are missing`;
  const twice = [...a].filter(([k, n]) => k !== ours && n > Math.max(1, b.get(k) ?? 0));
  if (twice.length) return `${twice.length} certificates appear more often than before`;
  if (adding ? a.get(ours) !== 1 : a.has(ours)) return adding ? "pki's CA is not in it" : "pki's CA is still in it";
  return undefined;
}

/**
 * Runs the store's update, then checks the bundle it wrote before anyone records it; a bad one is replaced by the
 * bundle before and `undo` puts back the rest (the anchor, the links).
 */
function checkedUpdate(
  o: { bundle: string; tool: string; ca: TrustCa; adding: boolean },
  update: () => unknown,
  undo: () => void,
): void {
  const { bundle, ca, adding } = o;
  const before = readIf(bundle);
  update();
  const after = readIf(bundle);
  const problem = before && (after ? bundleProblem(before, after, ca, adding) : "it is gone");
  if (!problem) return;
  undo();
  restore(bundle, before);
  throw new StoreError(
    `${o.tool} left a bad ${bundle} (${problem}; did something else update it ` +
      "at the same time?): the previous bundle was put back",
  );
}

function debianSystem(): Target {
  const anchor = (ca: TrustCa) => join(DEBIAN.anchors, `${entryName(ca)}.crt`);
  const java = existsSync(DEBIAN.javaCacerts) ? [DEBIAN.javaCacerts] : [];
  const update = (ca: TrustCa, adding: boolean, undo: () => void) =>
    checkedUpdate(
      { bundle: DEBIAN.bundle, tool: "update-ca-certificates", ca, adding },
      () => tool("update-ca-certificates", []),
      undo,
    );
  /** pki's links in /etc/ssl/certs: update-ca-certificates keeps those of a removed local cert. */
  const links = (ca: TrustCa) => {
    const pem = `${entryName(ca)}.pem`;
    return readdirSync(DEBIAN.certs).flatMap((n) => {
      const p = join(DEBIAN.certs, n);
      let to: string;
      try {
        to = readlinkSync(p);
      } catch {
        return [];
      }
      return n === pem || to === pem || to === anchor(ca) ? [{ p, to }] : [];
    });
  };
  const drop = (ls: Array<{ p: string }>) => ls.forEach((l) => rmSync(l.p, { force: true }));
  return {
    store: "system",
    where: `${DEBIAN.anchors} (update-ca-certificates)`,
    files: [DEBIAN.bundle, ...java],
    writable: [DEBIAN.anchors, DEBIAN.certs, DEBIAN.bundle, ...java],
    has: (ca) => bundleHas(DEBIAN.bundle, ca.der),
    add: (ca) => addAnchor(anchor(ca), ca.pem, () => update(ca, true, () => drop(links(ca)))),
    remove(ca) {
      const had = readIf(anchor(ca)),
        ours = links(ca);
      rmSync(anchor(ca), { force: true });
      drop(ours);
      update(ca, false, () => {
        if (had) restore(anchor(ca), had, 0o644);
        drop(ours);
        for (const l of ours) symlinkSync(l.to, l.p);
      });
      // Nor is the Java hook told of a removal: pki's alias leaves cacerts here.
      const keytool = which("keytool");
      const alias = `debian:${entryName(ca)}.pem`;
      const pass = process.env.PKI_CACERTS_PASSWORD ?? "changeit";
      if (
        java.length &&
        keytool &&
        spawnSync(keytool, ["-list", "-keystore", DEBIAN.javaCacerts, "-storepass", pass, "-alias", alias]).status === 0
      ) {
        tool(keytool, ["-delete", "-keystore", DEBIAN.javaCacerts, "-storepass", pass, "-alias", alias]);
      }
    },
  };
}

function rhelSystem(): Target {
  const anchor = (ca: TrustCa) => join(RHEL.anchors, `${entryName(ca)}.pem`);
  const extract = () => tool("update-ca-trust", ["extract"]);
  // A bad bundle: the anchors as they were, extracted again (every extracted file, not the bundle alone).
  const update = (ca: TrustCa, adding: boolean, undo: () => void) =>
    checkedUpdate({ bundle: RHEL.bundle, tool: "update-ca-trust", ca, adding }, extract, () => {
      undo();
      try {
        extract();
      } catch {
        /* the bundle before is put back all the same */
      }
    });
  return {
    store: "system",
    where: `${RHEL.anchors} (update-ca-trust)`,
    files: [],
    writable: [RHEL.anchors, dirname(RHEL.bundle)],
    has: (ca) => bundleHas(RHEL.bundle, ca.der),
    add: (ca) => addAnchor(anchor(ca), ca.pem, () => update(ca, true, () => rmSync(anchor(ca), { force: true }))),
    remove(ca) {
      const had = readIf(anchor(ca));
      rmSync(anchor(ca), { force: true });
      update(ca, false, () => had && restore(anchor(ca), had, 0o644));
    },
  };
}

/** macOS: the System keychain, trusted as a root for every user (`security`, needs sudo). Not exercised in CI. */
function macosSystem(withFile: WithFile): Target {
  const keychain = "/Library/Keychains/System.keychain";
  return {
    store: "system",
    where: `${keychain} (security)`,
    files: [],
    writable: [keychain],
    has: (ca) =>
      tool("security", ["find-certificate", "-a", "-Z", keychain]).toUpperCase().includes(ca.sha1.toUpperCase()),
    add: (ca) =>
      withFile(ca, (f) => tool("security", ["add-trusted-cert", "-d", "-r", "trustRoot", "-k", keychain, f])),
    remove(ca) {
      withFile(ca, (f) => tool("security", ["remove-trusted-cert", "-d", f], { ok: [0, 1] }));
      tool("security", ["delete-certificate", "-Z", ca.sha1.toUpperCase(), keychain]);
    },
  };
}

/** Windows: the machine's ROOT store (`certutil -addstore`, needs an elevated prompt). Not exercised in CI. */
function windowsSystem(withFile: WithFile): Target {
  return {
    store: "system",
    where: "the Windows ROOT store (certutil)",
    files: [],
    writable: [],
    has: (ca) => spawnSync("certutil", ["-store", "ROOT", ca.sha1]).status === 0,
    add: (ca) => withFile(ca, (f) => tool("certutil", ["-addstore", "-f", "ROOT", f])),
    remove: (ca) => {
      tool("certutil", ["-delstore", "ROOT", ca.sha1]);
    },
  };
}

export function systemTarget(withFile: WithFile): Target | Unavailable {
  if (platform() === "darwin") return macosSystem(withFile);
  if (platform() === "win32") return windowsSystem(withFile);
  if (existsSync(DEBIAN.anchors) && which("update-ca-certificates")) return debianSystem();
  if (existsSync(RHEL.anchors) && which("update-ca-trust")) return rhelSystem();
  return {
    store: "system",
    reason: "no supported system trust store found (update-ca-certificates or update-ca-trust)",
  };
}
