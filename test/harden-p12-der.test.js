// A .p12 is strict DER even with a friendly name of 11+ characters: the bag attributes (a SET OF) are sorted by
// their encodings (X.690 11.6), in the plain safe and in the encrypted one; openssl and curl still open it.
import test from "ava";
import { createDecipheriv, pbkdf2Sync } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { derProblems, parse } from "./_der.js";
import { curl, issue, openssl, PASS, pkiOk, tempDir, untar, versionsServer } from "./_helpers.js";
import { blobFile } from "./_depot-read.js";

const P12PASS = "p12 pass";
// A cheap depot KDF for every pki this worker runs (the issue() helper passes no env of its own).
process.env.PKI_TEST_ONLY_KDF_ITERATIONS = "1000";
const env = {};

/** The decrypted SafeContents of the first (encrypted, PBES2/PBKDF2-SHA256/AES-256-CBC) safe of a PFX. */
function certSafe(p12, password) {
  const authSafe = parse(p12).kids[1].kids[1].kids[0].kids[0];
  const eci = authSafe.kids[0].kids[1].kids[0].kids[1];
  const [, alg, ct] = eci.kids;
  const [kdf, enc] = alg.kids[1].kids;
  const [salt, iter] = kdf.kids[1].kids;
  const rounds = Number(BigInt(`0x${iter.body.toString("hex")}`));
  const key = pbkdf2Sync(Buffer.from(password), salt.body, rounds, 32, "sha256");
  const d = createDecipheriv("aes-256-cbc", key, enc.kids[1].body);
  return Buffer.concat([d.update(ct.body), d.final()]);
}

test("export --p12, PKCS#12 keystore, long names: strict DER inside and out; openssl, curl open it", async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, "pass"), PASS + "\n");
  writeFileSync(join(dir, "p12pass"), P12PASS + "\n");
  await pkiOk(t, dir, ["init", "--passphrase-file", "pass"], { env });
  const name = "a-long-friendly-name";
  await issue(t, dir, name, ["--ip", "127.0.0.1"]);
  const exported = await pkiOk(t, dir, ["export", "--p12", "--p12-password-file", "p12pass", "--passphrase-file",
    "pass", "--jks", "--jks-password-file", "p12pass", "--keystore-type", "pkcs12", "--alias", "another-long-alias",
    name], { env });
  await untar(t, dir, exported.stdout);
  for (const [f, friendly] of [[`${name}.p12`, name], [`${name}.ks`, "another-long-alias"]]) {
    const p12 = readFileSync(join(dir, f));
    t.deepEqual(derProblems(p12, f), [], `${f} is strict DER (plain safe with the key bag included)`);
    t.deepEqual(derProblems(certSafe(p12, P12PASS), `${f} certificate safe`), []);
    const info = await openssl(["pkcs12", "-info", "-nokeys", "-passin", `pass:${P12PASS}`, "-in", join(dir, f)]);
    t.is(info.code, 0, info.stderr);
    t.regex(info.out + info.stderr, new RegExp(`friendlyName: ${friendly}`));
  }
  // curl authenticates with the .p12 to a node mTLS server that trusts the depot CA.
  await issue(t, dir, "srv", ["--ip", "127.0.0.1", "--server"]);
  const srv = join(dir, "srv");
  const tar = await pkiOk(t, dir, ["export", "--insecure", "--passphrase-file", "pass", "srv"], { env });
  await untar(t, dir, tar.stdout);
  const caFile = await blobFile(join(dir, ".pki"), "ca", join(dir, "depot-ca.crt"));
  const ca = readFileSync(caFile);
  const key = readFileSync(`${srv}.key.insecure`);
  const port = await versionsServer(t, { cert: readFileSync(`${srv}.crt`), key, ca });
  const r = await curl(["--cert", `${join(dir, `${name}.p12`)}:${P12PASS}`, "--cert-type", "P12",
    "--cacert", caFile, `https://127.0.0.1:${port}/v1/versions`]);
  t.is(r.code, 0, r.stderr);
  t.is(r.out, '["v1"]');
});
