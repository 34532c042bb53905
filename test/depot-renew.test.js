// depot.renew on the record store: a new serial for the same subject and SANs, the old certificate in history
// (its revocation still on the CRL), a new key on rekey, and a key revoked for keyCompromise never certified again.
import test from "ava";
import { PASS, openssl } from "./_helpers.js";
import { depotFiles, InputError, openNew, put, verify } from "./_depot.js";

const pub = async (dir, name, pem, kind) => {
  const f = put(dir, name, pem);
  const args = kind === "key"
    ? ["pkey", "-in", f, "-passin", `pass:${PASS}`, "-pubout"]
    : ["x509", "-in", f, "-noout", "-pubkey"];
  const r = await openssl(args);
  if (r.code) throw new Error(r.stderr);
  return r.out;
};

test("renew: new serial, same names, the old one in history and, revoked, still on the CRL", async (t) => {
  const { dir, d } = await openNew(t);
  const web = await d.issue("web", { domains: ["web.example"], ips: ["10.0.0.5"], lifetime: "30d" });
  await d.revoke("web", { reason: "superseded" });
  const r = await d.renew("web", { lifetime: "90d" });
  t.not(r.serial, web.serial);
  t.is(r.status, "signed");
  t.deepEqual(r.sans, web.sans);
  t.deepEqual(r.history.map((h) => [h.serial, h.revoked?.reason]), [[web.serial, "superseded"]]);
  const ca = (await d.get("ca")).certificate;
  const [code, out] = await verify(dir, ca, r.certificate);
  t.is(code, 0, out);
  t.regex((await openssl(["x509", "-noout", "-ext", "subjectAltName", "-in", put(dir, "r.pem", r.certificate)])).out,
    /DNS:web\.example, IP Address:10\.0\.0\.5/);
  t.is(await pub(dir, "a", r.certificate), await pub(dir, "b", web.certificate), "the same key without rekey");
  const got = await d.get("web");
  t.is(got.serial, r.serial);
  t.is(got.history.length, 1);
  const crl = await d.crl();
  t.is(crl.revoked, 1);
  const text = (await openssl(["crl", "-noout", "-text", "-in", put(dir, "crl.pem", crl.pem)])).out;
  t.regex(text, new RegExp(`Serial Number: ${web.serial.toUpperCase()}`));
  t.notRegex(text, new RegExp(`Serial Number: ${r.serial.toUpperCase()}`));
  t.is((await verify(dir, ca, r.certificate, crl.pem))[0], 0, "the renewed certificate is good under the CRL");
});

test("renew after keyCompromise: refused without rekey (nothing changes), a new key with it", async (t) => {
  const { dir, depot, d } = await openNew(t);
  const web = await d.issue("web", { domains: ["web.example"] });
  await d.revoke("web", { reason: "keyCompromise" });
  const before = depotFiles(depot);
  const e = await t.throwsAsync(d.renew("web"), { instanceOf: InputError });
  t.regex(e.message, /revoked for keyCompromise: renew with --rekey$/);
  await t.throwsAsync(d.renew("nope"), { instanceOf: InputError, message: /^unknown name "nope"/ });
  await t.throwsAsync(d.renew("ca"), { instanceOf: InputError, message: /root CA is not supported/ });
  t.deepEqual(depotFiles(depot), before);
  const r = await d.renew("web", { rekey: true });
  const newKey = await pub(dir, "k", r.key, "key");
  t.is(newKey, await pub(dir, "c", r.certificate), "the new certificate is the new key's");
  t.not(newKey, await pub(dir, "o", web.key, "key"), "a new key");
  t.is((await verify(dir, (await d.get("ca")).certificate, r.certificate))[0], 0);
  const again = await d.renew("web", { rekey: "rsa" });
  t.is(again.keyType, "RSA 2048");
});
