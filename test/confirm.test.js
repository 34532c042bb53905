// Destructive commands confirm on a terminal: pki revoke and pki rm, driven through a real pty (python3's pty
// module), show what they are about to do and go ahead only on "y"; without a terminal they go ahead as before.
import test from "ava";
import { join } from "node:path";
import { issue, newDepot, pki, pkiOk, snapshot } from "./_helpers.js";
import { onTerminal } from "./_pty.js";

test("revoke on a terminal shows what it revokes and asks: an empty answer, 'n' or end of input change nothing", async (t) => {
  const dir = await newDepot(t);
  await issue(t, dir, "web", ["--domain", "web.example"]);
  const before = snapshot(join(dir, ".pki"));
  for (const answer of ["\r", "n\r", "\x04"]) {
    const r = await onTerminal(t, dir, ["revoke", "--reason", "keyCompromise", "web"], answer);
    t.regex(r.out, /^Revoke "web" \(serial [0-9a-f]+, valid until \S+, SANs: DNS:web\.example\) with reason keyCompromise\? Clients that check the CRL will refuse it; this cannot be undone\. \[y\/N\] /);
    t.regex(r.out, /\r\npki: aborted: "web" is not revoked\r\n$/, JSON.stringify(answer));
    t.is(r.code, 1);
    t.deepEqual(snapshot(join(dir, ".pki")), before, `answer ${JSON.stringify(answer)}: nothing changed`);
  }
  const yes = await onTerminal(t, dir, ["revoke", "web"], "y\r");
  t.is(yes.code, 0, yes.out);
  t.regex(yes.out, /Revoked "web" \(serial [0-9a-f]+, reason unspecified\)/);
});

test("rm on a terminal asks; --yes does not; without a terminal revoke and rm go ahead as in scripts", async (t) => {
  const dir = await newDepot(t);
  for (const n of ["a", "b", "c"]) await issue(t, dir, n);
  for (const n of ["a", "b"]) await pkiOk(t, dir, ["revoke", n]); // stdin not a terminal: no question
  const before = snapshot(join(dir, ".pki"));
  const no = await onTerminal(t, dir, ["rm", "a"], "\r");
  t.regex(no.out, /^Remove "a" \(revoked, serial [0-9a-f]+\)\? Its certificate and key are kept, and the name can be used again\. \[y\/N\] \r\npki: aborted: "a" is not removed\r\n$/);
  t.is(no.code, 1);
  t.deepEqual(snapshot(join(dir, ".pki")), before);
  const yes = await onTerminal(t, dir, ["rm", "a"], "yes\r");
  t.is(yes.code, 0, yes.out);
  t.regex(yes.out, /Removed "a"/);
  // --yes: no question at all, on a terminal too (the driver waits for the result line instead).
  const quiet = await onTerminal(t, dir, ["rm", "--yes", "b"], "", "Removed");
  t.is(quiet.code, 0, quiet.out);
  t.false(quiet.out.includes("[y/N]"));
  const revoked = await onTerminal(t, dir, ["revoke", "--yes", "c"], "", "Revoked");
  t.is(revoked.code, 0, revoked.out);
  t.false(revoked.out.includes("[y/N]"));
  // A refusal comes before any question: nothing to confirm.
  const valid = await onTerminal(t, dir, ["rm", "ca"], "", "pki:");
  t.regex(valid.out, /^pki: the root CA cannot be removed/);
  t.is((await pki(dir, ["rm", "c"])).code, 0, "no terminal: rm goes ahead");
});

test("export --insecure of a CA key warns on stderr that it writes the key unencrypted", async (t) => {
  const dir = await newDepot(t);
  await issue(t, dir, "web");
  const ca = await pkiOk(t, dir, ["export", "--insecure", "--passphrase-file", "pass"]);
  t.is(ca.stderr, 'pki: warning: ca.key.insecure is the CA key of "ca" unencrypted: whoever reads it can issue certificates your clients trust; keep it off shared disks and backups, or export it encrypted\n');
  const leaf = await pkiOk(t, dir, ["export", "--insecure", "--passphrase-file", "pass", "web"]);
  t.is(leaf.stderr, "", "a leaf's key: no warning");
  const plain = await pkiOk(t, dir, ["export"]);
  t.is(plain.stderr, "", "the CA key encrypted: no warning");
});
