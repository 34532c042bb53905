// `pki import` applies the depot loader's own rules to every entry before writing: a certificate with an ESC in its
// subject or a SAN pki refuses (evil_name.example, a..b) is left out and listed, what it issued goes with it, a
// revocation of it stays on the CRL; a root CA that fails them refuses the import with one line, nothing written.
// Every command then works on the new depot (list, doctor, crl, sign).
import test from "ava";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openssl, PASS, pki, pkiOk, run, snapshot, tempDir } from "./_helpers.js";

process.env.PKI_TEST_ONLY_KDF_ITERATIONS = "1000";
const ESC = "\x1b";

async function sh(t, dir, lines) {
  for (const cmd of lines) {
    const r = await run("sh", ["-c", cmd], { cwd: dir });
    if (r.code !== 0) t.fail(`${cmd}: ${r.stderr}`);
  }
}

/**
 * A certstrap out/ (CA.crt/.key) or etcd-ca depot (ca.crt/.key, NAME.host.*) made by openssl, holding a good leaf,
 * one with an ESC in its subject, one with bad SANs, and an intermediate with a bad SAN that issued a leaf.
 */
async function source(t, from, caSubject = "/CN=CA") {
  const base = tempDir(t, `${from}-`);
  const src = join(base, "src");
  mkdirSync(src);
  const [ca, f] = from === "certstrap" ? ["CA", (n) => n] : ["ca", (n) => `${n}.host`];
  writeFileSync(join(base, "bad.ext"), "subjectAltName=DNS:evil_name.example,DNS:a..b\n");
  writeFileSync(join(base, "good.ext"), "subjectAltName=DNS:good.example\n");
  writeFileSync(join(base, "int.ext"), "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n" +
    "subjectAltName=DNS:int_x.example\n");
  writeFileSync(join(base, "ca.cnf"), "[ca]\ndefault_ca=d\n[d]\ndatabase=../index.txt\ncrlnumber=../crlnumber\n" +
    "default_md=sha256\ndefault_crl_days=30\n");
  writeFileSync(join(base, "index.txt"), "");
  writeFileSync(join(base, "crlnumber"), "1000\n");
  const key = (n) => `openssl ecparam -name prime256v1 -genkey -noout -out ${n}.key`;
  const leaf = (n, subj, serial, issuer = ca, ext = "") => [
    key(f(n)),
    `openssl req -new -key ${f(n)}.key -utf8 -subj '${subj}' -out ${f(n)}.csr`,
    `openssl x509 -req -in ${f(n)}.csr -CA ${issuer}.crt -CAkey ${issuer}.key -set_serial ${serial} -days 10 ` +
      `${ext && `-extfile ../${ext}`} -out ${f(n)}.crt`,
  ];
  await sh(t, src, [
    key(ca),
    `openssl req -x509 -new -key ${ca}.key -utf8 -subj '${caSubject}' -days 30 -set_serial 1 ` +
      "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -out " + `${ca}.crt`,
    ...leaf("good", "/CN=good", 5, ca, "good.ext"),
    ...leaf("esc", `/CN=web${ESC}[31m`, 6),
    ...leaf("bad", "/CN=bad", 7, ca, "bad.ext"),
    ...leaf("int", "/CN=int", 8, ca, "int.ext"),
    ...leaf("under", "/CN=under", 9, f("int"), "good.ext"),
  ]);
  if (from === "certstrap")
    await sh(t, src, [
      `openssl ca -config ../ca.cnf -revoke bad.crt -keyfile CA.key -cert CA.crt -crl_reason keyCompromise`,
      "openssl ca -config ../ca.cnf -gencrl -keyfile CA.key -cert CA.crt -out CA.crl",
    ]);
  return src;
}

for (const from of ["certstrap", "etcd-ca"]) {
  test(`import --from ${from}: entries the loader refuses are left out and listed; the depot then works`, async (t) => {
    const src = await source(t, from);
    const dir = tempDir(t);
    writeFileSync(join(dir, "pass"), PASS + "\n");
    const r = await pkiOk(t, dir, ["import", "--from", from, src, "--passphrase-file", "pass"]);
    const f = (n) => (from === "certstrap" ? n : `${n}.host`);
    t.regex(r.stderr, /^Imported 2 entries [^\n]*: ca, good\n/);
    t.regex(r.stderr, new RegExp(`${f("bad")}\\.crt: invalid domain "evil_name\\.example"[^\\n]*: left out\\n`));
    const esc = `${f("esc")}\\.crt: its subject "CN=web\\\\u001b\\[31m" is not printable[^\\n]*: left out`;
    t.regex(r.stderr, new RegExp(esc));
    t.regex(r.stderr, new RegExp(`${f("int")}\\.crt: invalid domain "int_x\\.example"[^\\n]*: left out\\n`));
    t.regex(r.stderr, new RegExp(`${f("under")}\\.crt: issued by "int", which is left out: left out\\n`));
    t.false(existsSync(join(dir, ".pki", "certs", `${f("bad")}.crt`)));
    // Every command works on what was written.
    await pkiOk(t, dir, ["list"]);
    await pkiOk(t, dir, ["doctor"]);
    await pkiOk(t, dir, ["doctor", "--fix"]);
    await pkiOk(t, dir, ["new-cert", "--passphrase-file", "pass", "--domain", "next.example", "next"]);
    const signed = await pkiOk(t, dir, ["sign", "--passphrase-file", "pass", "next"]);
    const serial = /serial ([0-9a-f]+)/.exec(signed.stderr)?.[1];
    t.false(["5", "6", "7", "8", "9", "05", "06", "07", "08", "09"].includes(serial), "left-out serials stay reserved");
    const crl = await pkiOk(t, dir, ["crl", "--passphrase-file", "pass"]);
    const text = await openssl(["crl", "-noout", "-text"], { input: crl.stdout });
    t.is(text.code, 0, text.stderr);
    // certstrap's CRL revoked bad.crt: left out of the depot, it stays revoked.
    if (from === "certstrap") t.regex(text.out, /Serial Number: 07\n/);
    else t.notRegex(text.out, /Serial Number/);
  });

  test(`import --from ${from}: a root CA the loader refuses stops the import, one line, nothing written`, async (t) => {
    const src = await source(t, from, `/CN=CA${ESC}[2J`);
    const dir = tempDir(t);
    writeFileSync(join(dir, "pass"), PASS + "\n");
    const before = snapshot(dir);
    const srcBefore = snapshot(src);
    const r = await pki(dir, ["import", "--from", from, src, "--passphrase-file", "pass"]);
    t.is(r.code, 1, r.stderr);
    t.regex(r.stderr, /^pki: \S+\.crt: its subject "CN=CA\\u001b\[2J" is not printable[^\n]*nothing is imported\n$/);
    t.deepEqual(snapshot(dir), before);
    t.deepEqual(snapshot(src), srcBefore);
  });
}
