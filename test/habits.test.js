// etcd-ca habits: `pki chain` without NAME, `export --key-format`, `pki rm` — judged by openssl.
import test from "ava";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { issue, openssl, pki, pkiOk, snapshot, untar } from "./_helpers.js";
import { cheapDepot, countPem } from "./_lifecycle.js";
import { blobFile, blobPem, certPem, crlPem, entry, readDepot } from "./_state.js";

test("chain without NAME prints the root then each valid intermediate; openssl verifies a leaf against it", async (t) => {
  const dir = await cheapDepot(t);
  const root = await pkiOk(t, dir, ["chain"]);
  t.is(root.out, await certPem(dir));
  await pkiOk(t, dir, ["init", "--intermediate", "issuing", "--passphrase-file", "pass"]);
  await issue(t, dir, "web", ["--issuer", "issuing"]);
  const both = (await pkiOk(t, dir, ["chain"])).out;
  t.is(countPem(both), 2);
  t.true(both.startsWith(await certPem(dir)), "the root first");
  writeFileSync(join(dir, "cas.pem"), both);
  const v = await openssl(["verify", "-x509_strict", "-CAfile", join(dir, "cas.pem"), await blobFile(dir, "web")]);
  t.is(v.code, 0, v.stderr + v.out);
});

test("export --key-format: pkcs1 for RSA and sec1 for ECDSA as traditional PEM openssl checks; mismatches and encrypted ones refused", async (t) => {
  const dir = await cheapDepot(t);
  await issue(t, dir, "r", ["--key-type", "rsa"]);
  await issue(t, dir, "e", []);
  await issue(t, dir, "d", ["--key-type", "ed25519"]);
  const out = join(dir, "out");
  mkdirSync(out);
  for (const [name, format, label, tool] of [["r", "pkcs1", "RSA PRIVATE KEY", "rsa"], ["e", "sec1", "EC PRIVATE KEY", "ec"], ["e", "pkcs8", "PRIVATE KEY", "pkey"]]) {
    const r = await pkiOk(t, dir, ["export", "--insecure", "--key-format", format, "--passphrase-file", "pass", name]);
    await untar(t, out, r.stdout);
    const pem = readFileSync(join(out, `${name}.key.insecure`), "utf8");
    t.true(pem.startsWith(`-----BEGIN ${label}-----\n`), `${name} ${format}`);
    const c = await openssl([tool, "-in", join(out, `${name}.key.insecure`), "-check", "-noout"]);
    t.is(c.code, 0, c.stderr);
    // The key still matches the certificate.
    const a = await openssl(["pkey", "-in", join(out, `${name}.key.insecure`), "-pubout"]);
    const b = await openssl(["x509", "-in", await blobFile(dir, name), "-noout", "-pubkey"]);
    t.is(a.out, b.out);
  }
  for (const [args, re, code] of [
    [["--insecure", "--key-format", "sec1", "r"], /--key-format sec1 needs an ECDSA key, not RSA/, 1],
    [["--insecure", "--key-format", "pkcs1", "d"], /--key-format pkcs1 needs an RSA key, not Ed25519/, 1],
    [["--key-format", "pkcs1", "r"], /traditional, unencrypted PEM: add --insecure/, 2],
  ]) {
    const r = await pki(dir, ["export", "--passphrase-file", "pass", ...args]);
    t.is(r.code, code, r.stderr);
    t.regex(r.stderr, /^pki: [^\n]+\n$/);
    t.regex(r.stderr, re);
    t.is(r.stdout.length, 0, "no tar");
  }
});

test("rm: refuses a valid entry and a CA that issued something; keeps a revoked one's certificate, key, serial and CRL line", async (t) => {
  const dir = await cheapDepot(t);
  await issue(t, dir, "old", []);
  await pkiOk(t, dir, ["new-cert", "--passphrase-file", "pass", "draft"]);
  const before = snapshot(join(dir, ".pki"));
  const valid = await pki(dir, ["rm", "old"]);
  t.is(valid.code, 1);
  t.regex(valid.stderr, /^pki: "old" is valid until [^:]+:\S+: revoke it first \('pki revoke old'\) or wait until it expires\n$/);
  t.regex((await pki(dir, ["rm", "ca"])).stderr, /^pki: the root CA cannot be removed/);
  t.regex((await pki(dir, ["rm", "nobody"])).stderr, /^pki: unknown name "nobody"/);
  t.deepEqual(snapshot(join(dir, ".pki")), before, "refusals change nothing");

  const serial = JSON.parse((await pkiOk(t, dir, ["status", "--json", "old"])).out).serial;
  await pkiOk(t, dir, ["revoke", "old", "--reason", "superseded"]);
  const r = await pkiOk(t, dir, ["rm", "old"]);
  t.regex(r.stderr, new RegExp(`Removed "old" \\(serial ${serial} stays reserved[;)]`));
  t.is(await entry(dir, "old"), undefined);
  const kept = await readDepot(dir, async (tx) => ({
    cert: await tx.blob({ name: "old", kind: "cert", serial }), key: await tx.blob({ name: "old", kind: "key", serial }),
    reserved: await tx.hasSerial(serial),
  }));
  t.truthy(kept.cert, "the certificate is kept under its serial");
  t.truthy(kept.key, "and its key");
  t.true(kept.reserved, "the serial stays reserved");
  await pkiOk(t, dir, ["rm", "draft"]);
  t.is(await entry(dir, "draft"), undefined);
  t.is(await blobPem(dir, "draft", "key"), undefined, "the draft's key is gone");

  // The next CRL still lists the removed certificate as revoked (openssl reads it).
  await pkiOk(t, dir, ["crl", "--passphrase-file", "pass"]);
  const crl = await openssl(["crl", "-noout", "-text"], { input: await crlPem(dir) });
  t.regex(crl.out, new RegExp(`Serial Number: ${serial.toUpperCase()}[\\s\\S]*Superseded`));
  const d = await pki(dir, ["doctor"]);
  t.is(d.code, 0, d.stderr + d.out);
  // The name is free again.
  await issue(t, dir, "old", []);

  // A CA that issued something in the depot stays.
  await pkiOk(t, dir, ["init", "--intermediate", "issuing", "--passphrase-file", "pass"]);
  await issue(t, dir, "leaf", ["--issuer", "issuing"]);
  await pkiOk(t, dir, ["revoke", "issuing"]);
  t.regex((await pki(dir, ["rm", "issuing"])).stderr, /^pki: "issuing" issued "leaf": remove those first\n$/);
});
