// `pki trust install` checks the certificate before any store is touched: a CA:FALSE certificate, an expired root
// (unless --force) and, with the passphrase at hand, a CA certificate that is not its key's are refused with one line, and
// the store (a private NSS database, judged by certutil) does not change. Nothing here touches the system store.
import test from "ava";
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { x509 } from "../dist/lib/x509/peculiar.js";
import { newDepot, openssl, pki, run, snapshot, tempDir } from "./_helpers.js";
import { nssHome } from "./_trust.js";
import { certPem, replaceBlob } from "./_state.js";


/** A self-signed root that expired on 2016-01-01. */
async function expiredRoot() {
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: "CN=Old Root",
    notBefore: new Date("2015-01-01T00:00:00Z"),
    notAfter: new Date("2016-01-01T00:00:00Z"),
    keys,
    signingAlgorithm: alg,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
  });
  return cert.toString("pem") + "\n";
}

/** Replaces the depot's CA certificate (layout 1's ca.crt, depot.db's row); returns the depot's snapshot after. */
async function swapCaCrt(dir, pem) {
  await replaceBlob(dir, "ca", "cert", pem);
  return snapshot(join(dir, ".pki"));
}

const title = "refused before any store is touched: not ca.key's certificate, CA:FALSE, expired (--force installs it)";
test(title, async (t) => {
  t.timeout(4 * 60_000);
  const home = await nssHome(t);
  const nssdb = join(home, ".pki", "nssdb");
  const env = { HOME: home, XDG_STATE_HOME: "" };
  const db = () => snapshot(nssdb);
  const listed = async () => (await run("certutil", ["-L", "-d", `sql:${nssdb}`])).out;
  const refused = async (dir, args, re, extraEnv = {}) => {
    const depotBefore = snapshot(join(dir, ".pki")),
      dbBefore = db();
    const r = await pki(dir, ["trust", "install", "--stores", "nss", ...args], { env: { ...env, ...extraEnv } });
    t.is(r.code, 1, r.stderr);
    t.regex(r.stderr, re);
    t.is(r.stderr.trim().split("\n").length, 1, r.stderr);
    t.deepEqual(db(), dbBefore, "the NSS database is untouched");
    t.deepEqual(snapshot(join(dir, ".pki")), depotBefore);
    t.false(existsSync(join(home, ".local")), "nothing recorded");
  };

  // Another root's certificate where ca.crt was: sign refuses it, and so does trust when it can check the key.
  const dir = await newDepot(t, ["--permit-domain", "example.test"]);
  const other = await newDepot(t, ["--permit-domain", "example.test"]);
  await swapCaCrt(dir, await certPem(other));
  const mismatch = /^pki: the certificate of the CA "ca" does not match its key( ca\.key)?: refusing to trust it$/m;
  await refused(dir, [], mismatch, { PKI_PASSPHRASE_FILE: join(dir, "pass") });
  await refused(dir, ["--passphrase-file", "pass"], /does not match its key( ca\.key)?/);

  // A CA:FALSE certificate (openssl makes it) as ca.crt.
  const leafDir = await newDepot(t);
  const leaf = join(tempDir(t), "leaf");
  const mk = await openssl([
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${leaf}.key`,
    "-out", `${leaf}.crt`, "-subj", "/CN=not a CA", "-days", "30", "-addext", "basicConstraints=critical,CA:FALSE",
  ]);
  t.is(mk.code, 0, mk.stderr);
  await swapCaCrt(leafDir, readFileSync(`${leaf}.crt`, "utf8"));
  await refused(leafDir, [], /^pki: the certificate of "ca" is not a CA certificate \(no basicConstraints CA:TRUE\)/);

  // A root that expired years ago: refused, and --force installs it on purpose (then uninstall takes it out).
  const oldDir = await newDepot(t);
  await swapCaCrt(oldDir, await expiredRoot());
  await refused(oldDir, [], /^pki: the CA "ca" expired on 2016-01-01: .*--force installs it anyway$/m);
  const forced = await pki(oldDir, ["trust", "install", "--stores", "nss", "--force"], { env });
  t.is(forced.code, 0, forced.stderr);
  t.regex(await listed(), /pki-[0-9a-f]{64}\s+C,,/);
  const un = await pki(oldDir, ["trust", "uninstall", "--stores", "nss"], { env });
  t.is(un.code, 0, un.stderr);
  t.notRegex(await listed(), /pki-[0-9a-f]{64}/);
  // The depot's own root, with its passphrase: installed (the checks refuse only what they should).
  copyFileSync(join(other, "pass"), join(other, "pass2"));
  const ok = await pki(other, ["trust", "install", "--stores", "nss", "--passphrase-file", "pass2"], { env });
  t.is(ok.code, 0, ok.stderr);
  t.is((await pki(other, ["trust", "uninstall", "--stores", "nss"], { env })).code, 0);
});
