// `pki crl --out DIR` (issue 27): every CA's latest CRL as DER in DIR for a web server that is not pki, each file
// named as its URL's last segment (NAME.crl without a URL), 0644; openssl checks each against its CA. A missing
// DIR is one line and nothing changes.
import test from "ava";
import { mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openssl, PASS, pki, pkiOk, snapshot, tempDir } from "./_helpers.js";

const P = ["--passphrase-file", "pass"];

function passDir(t) {
  const dir = tempDir(t, "pki-crlout-");
  writeFileSync(join(dir, "pass"), PASS + "\n");
  return dir;
}
async function pem(t, dir, name) {
  const file = join(dir, `${name}.pem`);
  writeFileSync(file, (await pkiOk(t, dir, ["chain", name])).out.split(/(?<=-----END CERTIFICATE-----\n)/)[0]);
  return file;
}
const crlText = (file, caFile) =>
  openssl(["crl", "-inform", "DER", "-in", file, "-CAfile", caFile, "-noout", "-text"]);

test("crl --out writes each CA's CRL as DER, named as its URL's last segment, verified by openssl", async (t) => {
  const dir = passDir(t);
  const out = join(dir, "www");
  mkdirSync(out);
  await pkiOk(t, dir, ["init", "--crl-url", "http://crl.test/pub/root-ca.crl", ...P]);
  await pkiOk(t, dir, ["init", "--intermediate", "sub", ...P]);
  await pkiOk(t, dir, ["issue", "app", "--issuer", "sub", "--domain", "app.test", ...P]);
  const serial = /serial=([0-9A-F]+)/.exec((await openssl(["x509", "-in", await pem(t, dir, "app"), "-noout",
    "-serial"])).out)[1];
  await pkiOk(t, dir, ["revoke", "app"]);
  const r = await pkiOk(t, dir, ["crl", "--issuer", "sub", "--out", out, ...P]);
  t.regex(r.stderr, /Wrote .*www\/sub\.crl\n/);
  t.deepEqual(readdirSync(out), ["sub.crl"], "the root has no CRL yet: only sub's is written");
  await pkiOk(t, dir, ["crl", "--out", out, ...P]);
  t.deepEqual(readdirSync(out).sort(), ["root-ca.crl", "sub.crl"]);
  for (const f of readdirSync(out)) t.is(statSync(join(out, f)).mode & 0o777, 0o644, f);
  const ca = await pem(t, dir, "ca"), sub = await pem(t, dir, "sub");
  const chain = join(dir, "chain.pem");
  writeFileSync(chain, (await openssl(["x509", "-in", ca])).out + (await openssl(["x509", "-in", sub])).out);
  const root = await crlText(join(out, "root-ca.crl"), ca);
  t.is(root.code, 0, root.stderr);
  t.regex(root.stderr + root.out, /verify OK/);
  t.regex(root.out, /Issuer: .*\n[\s\S]*No Revoked Certificates/);
  const s = await crlText(join(out, "sub.crl"), chain);
  t.is(s.code, 0, s.stderr);
  t.regex(s.stderr + s.out, /verify OK/);
  t.regex(s.out, new RegExp(`Serial Number: 0*${serial.replace(/^0+/, "")}\\n`), "the revoked leaf is listed");
});

test("crl --out: a missing directory is one line, nothing changes", async (t) => {
  const dir = passDir(t);
  await pkiOk(t, dir, ["init", ...P]);
  const before = snapshot(dir);
  const r = await pki(dir, ["crl", "--out", join(dir, "nope"), ...P]);
  t.is(r.code, 1);
  t.regex(r.stderr, /^pki: --out ".*nope": no such directory\n$/);
  t.deepEqual(snapshot(dir), before);
});
