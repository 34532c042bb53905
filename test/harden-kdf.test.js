// Iteration counts read from files are bounded (10,000,000, the depot's own limit) and checked before any key is
// derived: a PKCS#8, a PKCS#12 (MAC, encrypted safe, shrouded key) or an imported CA key asking for 2^31-1 rounds is
// refused at once, with one line, and nothing is written. Each run has a timeout: before the bound, they spin.
import test from "ava";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hostilePkcs8, int, OIDS, octets, parse, encode, pem, seq, tlv, walk } from "./_der.js";
import { openssl, PASS, pki, snapshot, tempDir } from "./_helpers.js";

const HUGE = 2 ** 31 - 1;
const QUICK = { timeout: 60_000 };
const refusedFor = (count) =>
  new RegExp(`^pki: [^\\n]*iteration count ${count} is above pki's limit of 10,000,000[^\\n]*\\n$`);

/** Asserts a quick refusal: exit 1, one line on stderr, nothing new in `dir`. */
async function refused(t, dir, args, re, opts = {}) {
  const before = snapshot(dir);
  const r = await pki(dir, args, { ...QUICK, ...opts });
  t.is(r.signal, null, "pki did not finish: it derived with the file's count");
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr.replace(/^pki: warning: .*\n/gm, ""), re);
  t.deepEqual(snapshot(dir), before);
}

test("inspect: an encrypted PKCS#8 (PEM, DER) with 2^31-1 PBKDF2 iterations is refused before deriving", async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, "pass"), PASS + "\n");
  writeFileSync(join(dir, "huge.key"), pem("ENCRYPTED PRIVATE KEY", hostilePkcs8(HUGE)));
  writeFileSync(join(dir, "huge.der"), hostilePkcs8(HUGE));
  for (const f of ["huge.key", "huge.der"])
    await refused(t, dir, ["inspect", f, "--passphrase-file", "pass"], refusedFor(HUGE));
  // Without a passphrase nothing is derived: the count is only shown.
  const r = await pki(dir, ["inspect", "huge.key"], QUICK);
  t.is(r.code, 0, r.stderr);
  t.regex(r.out, /2147483647 iterations/);
});

test("inspect: an encrypted PKCS#8 asking scrypt for N·r·p of 2^34 is refused before deriving", async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, "pass"), PASS + "\n");
  const scrypt = Buffer.from("06092b06010401da47040b", "hex");
  const kdf = seq(scrypt, seq(octets(Buffer.alloc(16, 1)), int(1 << 14), int(8), int(1 << 17)));
  const alg = seq(OIDS.pbes2, seq(kdf, seq(OIDS.aes256cbc, octets(Buffer.alloc(16, 2)))));
  writeFileSync(join(dir, "scrypt.key"), pem("ENCRYPTED PRIVATE KEY", seq(alg, octets(Buffer.alloc(48, 3)))));
  await refused(t, dir, ["inspect", "scrypt.key", "--passphrase-file", "pass"],
    /^pki: the key: its scrypt cost \(N 16384, r 8, p 131072\) is outside pki's limit[^\n]*\n$/);
});

/** An openssl-made .p12 whose every 2048 (openssl's default count) becomes 2^31-1, lengths re-encoded. */
async function hostileP12(t, dir, name, exportArgs) {
  const gen = await openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", join(dir, "k.pem"), "-subj", "/CN=x", "-days", "2", "-out", join(dir, "c.pem")]);
  t.is(gen.code, 0, gen.stderr);
  const p12 = join(dir, `${name}.p12`);
  const r = await openssl(["pkcs12", "-export", ...exportArgs, "-inkey", join(dir, "k.pem"), "-in", join(dir, "c.pem"),
    "-passout", "pass:pw", "-out", p12]);
  t.is(r.code, 0, r.stderr);
  const tree = parse(readFileSync(p12));
  let n = 0;
  for (const e of walk(tree)) {
    if (e.tag === 2 && e.body.equals(Buffer.from("0800", "hex"))) {
      e.body = int(HUGE).subarray(2);
      n++;
    }
  }
  t.true(n > 0, "openssl wrote its default count of 2048");
  writeFileSync(p12, encode(tree));
  writeFileSync(join(dir, "pw"), "pw\n");
  return `${name}.p12`;
}

for (const [what, args] of [
  ["its MAC", []],
  ["its shrouded key bag", ["-nomac", "-certpbe", "NONE"]],
  ["its encrypted certificate safe", ["-nomac", "-certpbe", "AES-256-CBC", "-keypbe", "NONE"]],
]) {
  test(`inspect: a PKCS#12 with 2^31-1 iterations in ${what} is refused before deriving`, async (t) => {
    const dir = tempDir(t);
    const f = await hostileP12(t, dir, "huge", args);
    await refused(t, dir, ["inspect", f, "--password-file", "pw"], refusedFor(HUGE));
  });
}

test("check --client-p12: a PKCS#12 with 2^31-1 MAC iterations is refused before OpenSSL reads it", async (t) => {
  const dir = tempDir(t);
  const f = await hostileP12(t, dir, "client", []);
  // Port 9 of a closed address: the bundle is refused before anything connects.
  const url = "https://127.0.0.1:9";
  await refused(t, dir, ["check", "--url", url, "--cacert", "c.pem", "--client-p12", f, "--p12-password", "pw"],
    /^pki: --client-p12 client\.p12: its MAC iteration count 2147483647 is above pki's limit[^\n]*\n$/);
});

for (const from of ["certstrap", "etcd-ca"]) {
  test(`import --from ${from}: a CA key with 2^31-1 PBKDF2 iterations is refused, nothing written`, async (t) => {
    const base = tempDir(t, `${from}-`);
    const src = join(base, "src");
    mkdirSync(src);
    const [crt, key] = from === "certstrap" ? ["CA.crt", "CA.key"] : ["ca.crt", "ca.key"];
    const r = await openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", join(base, "real.key"), "-subj", "/CN=CA", "-days", "30",
      "-addext", "basicConstraints=critical,CA:TRUE", "-out", join(src, crt)]);
    t.is(r.code, 0, r.stderr);
    writeFileSync(join(src, key), pem("ENCRYPTED PRIVATE KEY", hostilePkcs8(HUGE)));
    const dir = tempDir(t);
    writeFileSync(join(dir, "pass"), PASS + "\n");
    const srcBefore = snapshot(src);
    await refused(t, dir, ["import", "--from", from, src, "--passphrase-file", "pass"],
      new RegExp(`^pki: \\S+${key.replace(".", "\\.")}: its PBKDF2 iteration count 2147483647 is above[^\\n]*\\n$`));
    t.false(existsSync(join(dir, ".pki")));
    t.deepEqual(snapshot(src), srcBefore);
  });
}

// The writer side of the same helpers is exercised here so a broken helper cannot make the tests above pass.
test("the hostile-file helpers re-encode an untouched file byte for byte", (t) => {
  const der = hostilePkcs8(2048);
  t.deepEqual(encode(parse(der)), der);
  t.is(tlv(0x04, Buffer.alloc(200)).length, 203);
});
