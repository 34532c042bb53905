// The depot API under an intermediate made by `pki init --intermediate` (with name constraints): issuance walks
// the whole path (openssl verifies leaf → intermediate → root), the intermediate's constraints bind, and its CRL
// is its own.
import test from "ava";
import { PASS, openssl, pkiOk } from "./_helpers.js";
import { initDepot, InputError, openDepot, put } from "./_depot.js";

test("issue, revoke and crl under a name-constrained intermediate", async (t) => {
  const { dir, depot } = await initDepot(t);
  const args = ["--intermediate", "int", "--permit-domain", "corp.example"];
  await pkiOk(t, dir, ["init", "--passphrase-file", "pass", ...args]);
  const d = await openDepot({ depot, passphrase: PASS, upgrade: true });
  t.teardown(() => d.close());
  const web = await d.issue("web", { issuer: "int", domains: ["web.corp.example"] });
  t.is(web.issuer, "int");
  const root = put(dir, "root.pem", (await d.get("ca")).certificate);
  const int = put(dir, "int.pem", (await d.get("int")).certificate);
  const leaf = put(dir, "w.pem", web.certificate);
  const v = await openssl(["verify", "-x509_strict", "-CAfile", root, "-untrusted", int, leaf]);
  t.is(v.code, 0, v.stderr);
  const evil = d.issue("evil", { issuer: "int", domains: ["evil.example"] });
  const e = await t.throwsAsync(evil, { instanceOf: InputError });
  t.regex(e.message, /evil\.example/);
  await t.throwsAsync(d.get("evil"), { instanceOf: InputError });
  const names = [];
  for await (const x of d.list({ issuer: "int" })) names.push(x.name);
  t.deepEqual(names, ["web"]);
  await d.revoke("web", { reason: "cessationOfOperation" });
  const crl = await d.crl("int");
  t.is(crl.number, 1);
  const c = await openssl(["crl", "-noout", "-text", "-CAfile", int, "-in", put(dir, "int.crl", crl.pem)]);
  t.is(c.code, 0, c.stderr);
  t.regex(c.stderr + c.out, /verify OK/);
  t.regex(c.out, new RegExp(`Serial Number: ${web.serial.toUpperCase()}`));
  t.is((await d.crl()).revoked, 0, "the root's CRL does not list what the intermediate revoked");
});
