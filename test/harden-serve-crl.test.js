// `pki serve --name NAME` checks client certificates against the depot's CRLs: a revoked client is refused, a good
// one served (real curl). Without a CRL that covers every revocation it does not start (fail closed), one line,
// nothing written; a chain with nothing revoked and no CRL serves, and says so.
import test from "ava";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { curl, issue, PASS, pkiOk, snapshot, tempDir, untar } from "./_helpers.js";
import { blobFile } from "./_depot-read.js";
import { serve } from "./_serve.js";

process.env.PKI_TEST_ONLY_KDF_ITERATIONS = "1000";

async function depot(t) {
  const dir = tempDir(t);
  writeFileSync(join(dir, "pass"), PASS + "\n");
  await pkiOk(t, dir, ["init", "--passphrase-file", "pass"]);
  await Promise.all([issue(t, dir, "server1", ["--ip", "127.0.0.1"]), issue(t, dir, "good"), issue(t, dir, "bad")]);
  for (const n of ["good", "bad"])
    await untar(t, dir, (await pkiOk(t, dir, ["export", "--insecure", "--passphrase-file", "pass", n])).stdout);
  await blobFile(join(dir, ".pki"), "ca", join(dir, "ca.crt"));
  return dir;
}

/** `pki serve --name server1`: the port once it serves, or its exit (code, stderr) when it does not start. */
async function start(t, dir) {
  const s = serve(t, dir, ["--name", "server1", "--passphrase-file", "pass"]);
  const served = s.ready.then((port) => ({ port }));
  const r = await Promise.race([served, s.exited.then((e) => ({ ...e }))]).catch(() => null);
  return { s, ...(r ?? (await s.exited)) };
}

const as = (dir, port, who) => curl(["--cacert", join(dir, "ca.crt"), "--cert", join(dir, `${who}.crt`),
  "--key", join(dir, `${who}.key.insecure`), `https://127.0.0.1:${port}/v1/versions`]);

test("serve --name: the depot's CRL refuses a revoked client and serves a good one", async (t) => {
  const dir = await depot(t);
  await pkiOk(t, dir, ["revoke", "bad"]);
  await pkiOk(t, dir, ["crl", "--passphrase-file", "pass"]);
  const { s, port } = await start(t, dir);
  t.truthy(port, s.stderr);
  t.regex(s.stdout, /revoked ones refused \(CRL of ca\)/);
  const good = await as(dir, port, "good");
  t.is(good.code, 0, good.stderr);
  t.is(good.out, '["v1"]');
  const bad = await as(dir, port, "bad");
  t.not(bad.code, 0);
  t.not(bad.out, '["v1"]');
  t.regex(await s.log(/TLS rejected/), /TLS rejected: bad client certificate: CERT_REVOKED/);
});

test("serve --name: a revocation no CRL lists yet stops it before it serves, one line, nothing written", async (t) => {
  const dir = await depot(t);
  await pkiOk(t, dir, ["revoke", "bad"]);
  const before = snapshot(dir);
  const none = await start(t, dir);
  t.is(none.code, 1, none.s.stdout);
  t.regex(none.s.stderr, /^pki: the root CA has revoked certificates but no CRL, [^\n]*: run 'pki crl'\n$/);
  t.deepEqual(snapshot(dir), before);
  // A CRL from before a later revocation is stale: refused too.
  await pkiOk(t, dir, ["crl", "--passphrase-file", "pass"]);
  await pkiOk(t, dir, ["revoke", "good"]);
  const stale = await start(t, dir);
  t.is(stale.code, 1, stale.s.stdout);
  t.regex(stale.s.stderr, /^pki: the CRL of the root CA predates the revocation of "good": run 'pki crl'\n$/);
});

test("serve --name: nothing revoked and no CRL: serves every valid client and says there is no CRL", async (t) => {
  const dir = await depot(t);
  const { s, port } = await start(t, dir);
  t.truthy(port, s.stderr);
  t.regex(s.stdout, /nothing revoked, no CRL\)/);
  t.is((await as(dir, port, "bad")).out, '["v1"]');
});

test("serve --name under an intermediate: it takes both CAs' CRLs (node checks the whole path), one alone is refused",
  async (t) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, "pass"), PASS + "\n");
    await pkiOk(t, dir, ["init", "--passphrase-file", "pass"]);
    await pkiOk(t, dir, ["init", "--intermediate", "int", "--passphrase-file", "pass"]);
    const under = ["--issuer", "int"];
    await Promise.all([issue(t, dir, "server1", [...under, "--ip", "127.0.0.1"]), issue(t, dir, "good", under),
      issue(t, dir, "bad", under)]);
    for (const n of ["good", "bad"])
      await untar(t, dir, (await pkiOk(t, dir, ["export", "--insecure", "--passphrase-file", "pass", n])).stdout);
    await blobFile(join(dir, ".pki"), "ca", join(dir, "ca.crt"));
    await pkiOk(t, dir, ["revoke", "bad"]);
    await pkiOk(t, dir, ["crl", "--issuer", "int", "--passphrase-file", "pass"]);
    const half = await start(t, dir);
    t.is(half.code, 1, half.s.stdout);
    t.regex(half.s.stderr, /^pki: the root CA has no CRL yet, [^\n]*: run 'pki crl'\n$/);
    await pkiOk(t, dir, ["crl", "--passphrase-file", "pass"]);
    const { s, port } = await start(t, dir);
    t.truthy(port, s.stderr);
    t.regex(s.stdout, /CRL of int, ca\)/);
    t.is((await as(dir, port, "good")).out, '["v1"]');
    t.not((await as(dir, port, "bad")).out, '["v1"]');
    t.regex(await s.log(/TLS rejected/), /CERT_REVOKED/);
  });
