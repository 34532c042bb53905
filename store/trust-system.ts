/**
 * The system trust store: Debian/Ubuntu/Alpine (update-ca-certificates), RHEL/Fedora (update-ca-trust),
 * detected at run time; macOS (security) and Windows (certutil -addstore), implemented but exercised
 * only where they run. pki's anchor file is named after the CA's SHA-256 fingerprint.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { platform } from "node:os";
import { dirname, join } from "node:path";
import { writeAtomic } from "./fsutil.js";
import { entryName, Target, tool, TrustCa, Unavailable, which, WithFile } from "./trust-stores.js";

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

/** Writes the anchor file and runs the store's update; a failed update takes the anchor out again. */
function addAnchor(path: string, pem: string, update: () => unknown): void {
  writeAtomic(path, pem, 0o644);
  try {
    update();
  } catch (e) {
    rmSync(path, { force: true });
    throw e;
  }
}

function debianSystem(): Target {
  const anchor = (ca: TrustCa) => join(DEBIAN.anchors, `${entryName(ca)}.crt`);
  const update = () => tool("update-ca-certificates", []);
  const java = existsSync(DEBIAN.javaCacerts) ? [DEBIAN.javaCacerts] : [];
  return {
    store: "system",
    where: `${DEBIAN.anchors} (update-ca-certificates)`,
    files: [DEBIAN.bundle, ...java],
    writable: [DEBIAN.anchors, DEBIAN.certs, DEBIAN.bundle, ...java],
    has: (ca) => bundleHas(DEBIAN.bundle, ca.der),
    add: (ca) => addAnchor(anchor(ca), ca.pem, update),
    remove(ca) {
      rmSync(anchor(ca), { force: true });
      // update-ca-certificates keeps links to a removed local cert (and does not tell the Java hook): drop ours.
      const pem = `${entryName(ca)}.pem`;
      for (const n of readdirSync(DEBIAN.certs)) {
        const p = join(DEBIAN.certs, n);
        let to: string;
        try {
          to = readlinkSync(p);
        } catch {
          continue;
        }
        if (n === pem || to === pem || to === anchor(ca)) rmSync(p, { force: true });
      }
      update();
      const keytool = which("keytool");
      const alias = `debian:${pem}`;
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
  const update = () => tool("update-ca-trust", ["extract"]);
  return {
    store: "system",
    where: `${RHEL.anchors} (update-ca-trust)`,
    files: [],
    writable: [RHEL.anchors, dirname(RHEL.bundle)],
    has: (ca) => bundleHas(RHEL.bundle, ca.der),
    add: (ca) => addAnchor(anchor(ca), ca.pem, update),
    remove(ca) {
      rmSync(anchor(ca), { force: true });
      update();
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
