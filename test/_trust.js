// Helpers for the tests that change the machine's trust stores (as root; CI runs on a throwaway machine).
//
// Such tests run at the same time as other test files, and perhaps as a second copy of the whole suite: each
// holds TEST_LOCK (store/lock.ts's lock, in /run/lock like pki's own trust lock) from its snapshot of the system
// store to the teardown that puts every byte back, so no two of them ever see each other's changes. pki's own
// lock (pki-trust.lock) is a different file: a test holding TEST_LOCK still runs several pki at once.
import { createHash, randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { acquireLock } from "../dist/store/lock.js";
import { run, tempDir } from "./_helpers.js";

export const BUNDLE = "/etc/ssl/certs/ca-certificates.crt";
export const ANCHORS = "/usr/local/share/ca-certificates";
export const CERTS = "/etc/ssl/certs";
export const TEST_LOCK = "pki-trust-tests.lock";

const sha = (b) => createHash("sha256").update(b).digest("hex");

/** The cacerts of the `java` on PATH (what a Java client reads by default). */
export async function cacertsPath() {
  const r = await run("java", ["-XshowSettings:properties", "-version"]);
  const home = /java\.home = (.*)/.exec(r.stderr)[1].trim();
  return (await run("readlink", ["-f", join(home, "lib", "security", "cacerts")])).out.trim();
}

/**
 * Holds the test lock until the test's teardown (registered before the restoring one: ava runs teardowns last
 * first). The wait may be long (another copy of the suite in its Java test): then `ms` for the test itself.
 */
export async function lockTrustTests(t, ms = 8 * 60_000) {
  t.timeout(40 * 60_000);
  const release = await acquireLock("/run/lock", 30 * 60_000, { file: TEST_LOCK, outsideDepot: true });
  t.teardown(release);
  t.timeout(ms);
}

/** One file: its sha256, mode and owner ("as before" means all three); a link: its target. */
function fileState(p) {
  const l = lstatSync(p, { throwIfNoEntry: false });
  if (!l) return null;
  if (l.isSymbolicLink()) return `-> ${readlinkSync(p)}`;
  if (l.isDirectory()) return `dir ${(l.mode & 0o7777).toString(8)} ${l.uid}:${l.gid}`;
  return `${sha(readFileSync(p))} ${(l.mode & 0o7777).toString(8)} ${l.uid}:${l.gid}`;
}

/** What a reader of a path gets: the bytes it resolves to (a link and a copy of its target read the same). */
function readState(p) {
  try {
    return statSync(p).isDirectory() ? "dir" : sha(readFileSync(p));
  } catch {
    return lstatSync(p, { throwIfNoEntry: false }) ? `dangling -> ${readlinkSync(p)}` : null;
  }
}

/**
 * The system store as the tests compare it: the bundle, cacerts and every anchor (bytes, mode, owner), and what
 * each name in /etc/ssl/certs reads as (the machine's own tooling may turn a link into a copy of its target).
 */
export function systemState(files) {
  const out = {};
  for (const f of files) out[f] = fileState(f);
  out[ANCHORS] = fileState(ANCHORS);
  for (const n of readdirSync(ANCHORS).sort()) out[join(ANCHORS, n)] = fileState(join(ANCHORS, n));
  for (const n of readdirSync(CERTS).sort()) out[join(CERTS, n)] = readState(join(CERTS, n));
  return out;
}

/**
 * Takes the test lock, then snapshots the bundle, cacerts and their owners; teardown drops any pki-* anchor and
 * link, rebuilds the store if it had to, and puts back each file's bytes, mode and owner.
 */
export async function guardSystem(t, ms) {
  await lockTrustTests(t, ms);
  const files = [BUNDLE, await cacertsPath()];
  const saved = files.map((f) => ({ f, bytes: readFileSync(f), st: statSync(f) }));
  t.teardown(async () => {
    const anchors = readdirSync(ANCHORS).filter((n) => n.startsWith("pki-"));
    for (const n of anchors) rmSync(join(ANCHORS, n));
    for (const n of readdirSync(CERTS)) {
      const p = join(CERTS, n);
      let to = "";
      try {
        to = readlinkSync(p);
      } catch {
        continue;
      }
      if (n.startsWith("pki-") || to.startsWith("pki-") || to.includes("/ca-certificates/pki-")) rmSync(p);
    }
    if (anchors.length) await run("update-ca-certificates", []);
    for (const { f, bytes, st } of saved) {
      if (!existsSync(f) || sha(readFileSync(f)) !== sha(bytes)) writeFileSync(f, bytes);
      chownSync(f, st.uid, st.gid);
      chmodSync(f, st.mode & 0o7777);
    }
  });
  return files;
}

/** A second real user (unique per run), removed again at teardown. */
export async function makeUser(t) {
  const name = `pkitrust${randomBytes(5).toString("hex")}`;
  // useradd and userdel refuse while another holds /etc/passwd's lock (a test elsewhere, the system): try again.
  const retry = async (cmd, args) => {
    let r;
    for (let i = 0; i < 20; i++) {
      r = await run(cmd, args);
      if (r.code === 0 || !/lock/i.test(r.stderr)) return r;
      await new Promise((ok) => setTimeout(ok, 250 + Math.random() * 500));
    }
    return r;
  };
  const r = await retry("useradd", ["--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", name]);
  t.is(r.code, 0, r.stderr);
  t.teardown(() => retry("userdel", [name]));
  const id = (flag) => run("id", [flag, name]).then((x) => Number(x.out.trim()));
  return { name, uid: await id("-u"), gid: await id("-g") };
}

/** The certificates of a PEM bundle as base64 bodies, each with how often it occurs. */
export function bundleCounts(text = readFileSync(BUNDLE, "latin1")) {
  const m = new Map();
  for (const x of text.matchAll(/-----BEGIN CERTIFICATE-----([^-]*)-----END CERTIFICATE-----/g)) {
    const b = x[1].replace(/\s/g, "");
    m.set(b, (m.get(b) ?? 0) + 1);
  }
  return m;
}

/** The base64 DER body of a PEM certificate file. */
export const pemBody = (path) =>
  /-----BEGIN CERTIFICATE-----([^-]*)-----END/.exec(readFileSync(path, "latin1"))[1].replace(/\s/g, "");

/** A temp HOME (no NSS database: the nss store is skipped) for a pki run as root. */
export const rootHome = (t) => tempDir(t, "pki-home-");

/** A temp HOME with an empty NSS db in ~/.pki/nssdb, as Chrome on Linux makes it. */
export async function nssHome(t) {
  const home = tempDir(t, "pki-home-");
  mkdirSync(join(home, ".pki", "nssdb"), { recursive: true });
  const r = await run("certutil", ["-N", "-d", `sql:${join(home, ".pki", "nssdb")}`, "--empty-password"]);
  t.is(r.code, 0, r.stderr);
  return home;
}
