// The traps a new user falls into (issue 28): a passphrase typo caught where it is typed, one judgement of what a
// depot is, secrets kept off command lines, and the passphrase sources honoured everywhere.
import test from "ava";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PASS, issue, newDepot, pki, pkiOk, snapshot, tempDir } from "./_helpers.js";

/** The one line on stderr of a refused command. */
const oneLine = (t, r, re) => {
  t.is(r.stderr.split("\n").filter(Boolean).length, 1, r.stderr);
  t.regex(r.stderr, re);
};

test("check: PKI_PASSPHRASE_FILE opens the depot's CA key for the expired-client rule, as --ca-passphrase-file does", async (t) => {
  const dir = await newDepot(t);
  await issue(t, dir, "server1", ["--ip", "127.0.0.1"]);
  await issue(t, dir, "client1", ["--client"]);
  const env = { PKI_PASSPHRASE_FILE: join(dir, "pass") };
  const r = await pki(dir, ["check", "--json", "--name", "server1", "--client", "client1"], { env });
  t.is(r.code, 0, r.out + r.stderr);
  const rule = JSON.parse(r.out).results.find((x) => x.id === "mtls-expired");
  t.is(rule.result, "PASS", JSON.stringify(rule));
  t.regex(rule.got, /CERT_HAS_EXPIRED/);
});
