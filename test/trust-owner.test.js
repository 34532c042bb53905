// `pki trust --as-owner`, run as root on a second real user's depot with the README's own commands: --as-owner
// governs the depot only. The anchor, the CA bundle and cacerts stay root's with their modes, the state record is
// root's, and uninstall gives the system store back byte for byte (owners and modes included).
import test from "ava";
import { lstatSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { newDepot, pki, ROOT, run } from "./_helpers.js";
import { ANCHORS, bundleCounts, guardSystem, makeUser, pemBody, rootHome, systemState } from "./_trust.js";
import { blobFile } from "./_state.js";

/** The README's `sudo pki trust ...` lines of its trust section, as pki's arguments. */
function readmeSudoLines() {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Trust it everywhere"));
  const block = /```text\n([\s\S]*?)```/.exec(section)[1];
  return block
    .split("\n")
    .filter((l) => l.startsWith("sudo pki trust "))
    .map((l) => l.replace(/#.*/, "").trim().split(/\s+/).slice(2));
}

const ownerAndMode = (p) => `${(statSync(p).mode & 0o777).toString(8)} ${statSync(p).uid}:${statSync(p).gid}`;

const title =
  "root with --as-owner on a user's depot (the README's sudo lines): system files stay root's, " +
  "the record is root's, uninstall restores every byte";
test(title, async (t) => {
  const files = await guardSystem(t);
  const user = await makeUser(t);
  const dir = await newDepot(t, ["--permit-domain", "example.test"]);
  const caFile = await blobFile(dir, "ca"); // read while the depot is still root's, as a user reads their own
  await run("chown", ["-R", `${user.uid}:${user.gid}`, dir]);
  const home = rootHome(t);
  const env = { HOME: home, XDG_STATE_HOME: "" };
  const lines = readmeSudoLines();
  const install = lines.find((a) => a[1] === "install");
  const uninstall = lines.find((a) => a[1] === "uninstall");
  t.truthy(install && uninstall, "the README shows the sudo install and uninstall");
  const before = systemState(files);
  const modes = Object.fromEntries(files.map((f) => [f, ownerAndMode(f)]));

  const inst = await pki(dir, install, { env });
  t.is(inst.code, 0, `pki ${install.join(" ")}: ${inst.stderr}`);
  t.regex(inst.stderr, /ca: installed in the system store/);
  const ca = pemBody(caFile);
  t.is(bundleCounts().get(ca), 1, "the bundle trusts the CA once");
  const sha = (await run("sh", ["-c", `openssl x509 -in '${caFile}' -outform DER | sha256sum`])).out
    .split(" ")[0];
  const anchor = join(ANCHORS, `pki-${sha}.crt`);
  t.is(ownerAndMode(anchor), "644 0:0", "the anchor is root's, 0644: not the depot owner's");
  for (const f of files) t.is(ownerAndMode(f), modes[f], `${f} keeps its owner and mode`);
  const state = join(home, ".local", "state", "pki", "trust");
  t.is(ownerAndMode(join(state, `${sha}.json`)), "600 0:0", "the state record belongs to root, who ran it");
  t.is(lstatSync(state).uid, 0);
  // The depot is still wholly the user's: nothing of root's in it.
  const walk = (d) =>
    readdirSync(d).flatMap((n) => [join(d, n), ...(statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [])]);
  for (const p of [join(dir, ".pki"), ...walk(join(dir, ".pki"))]) t.is(lstatSync(p).uid, user.uid, p);

  const un = await pki(dir, uninstall, { env });
  t.is(un.code, 0, `pki ${uninstall.join(" ")}: ${un.stderr}`);
  t.regex(un.stderr, /ca: removed from the system store/);
  t.deepEqual(systemState(files), before, "bundle, cacerts, anchors and links: bytes, owners and modes as before");
  t.deepEqual(readdirSync(state), [], "the record is gone");

  // Without --as-owner root is still refused on the user's depot (the README's lines need it).
  const plain = await pki(dir, install.filter((a) => a !== "--as-owner"), { env });
  t.is(plain.code, 1);
  t.regex(plain.stderr, /pass --as-owner/);
  t.deepEqual(systemState(files), before);
});
