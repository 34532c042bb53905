// The CA-key seam's PKCS#11 side (store/keys/) on a real SoftHSM2 token per test: keys made in the token are
// sensitive, never extractable and sign-only as pkcs11-tool reads them; their signatures (ECDSA over pki's digest,
// RSA PKCS#1 v1.5 over a DigestInfo) verify in openssl and node against the public key the token gives; a key made by
// pkcs11-tool is found by id or label; each failure is one line. Each operation runs in a process of its own
// (test/_keys-child.mjs): a PKCS#11 module reads SOFTHSM2_CONF once per process.
import test from "ava";
import { createPublicKey, verify } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openssl, run, tempDir } from "./_helpers.js";
import { listObjects, MODULE, softhsm } from "./_softhsm.js";

const CHILD = fileURLToPath(new URL("./_keys-child.mjs", import.meta.url));
const SPY = "/usr/lib/x86_64-linux-gnu/pkcs11-spy.so";
const DATA = [Buffer.from("a TBSCertificate stands here"), Buffer.from("and a CRL here")];

async function keys(hsm, op, uri, spec, env = {}) {
  const data = DATA.map((d) => d.toString("base64")).join(",");
  const r = await run(process.execPath, [CHILD, op, uri, JSON.stringify(spec ?? null), data],
    { env: { ...hsm.env, ...env } });
  return { code: r.code, ...JSON.parse(r.out || `{"error": ${JSON.stringify(r.stderr)}}`) };
}

const pinEnv = (hsm) => ({ PKI_PKCS11_PIN: hsm.pin });
const spkiPem = (b64) => createPublicKey({ key: Buffer.from(b64, "base64"), format: "der", type: "spki" })
  .export({ format: "pem", type: "spki" });

/** Each signature verifies in node (as X.509 carries it: DER ECDSA, PKCS#1 v1.5) and in openssl. */
async function checkSignatures(t, out, hash) {
  const dir = tempDir(t);
  writeFileSync(join(dir, "pub.pem"), spkiPem(out.spki));
  for (const [i, sig] of out.sigs.entries()) {
    t.true(verify(hash, DATA[i], spkiPem(out.spki), Buffer.from(sig, "base64")), `node verifies signature ${i}`);
    writeFileSync(join(dir, "data"), DATA[i]);
    writeFileSync(join(dir, "sig"), Buffer.from(sig, "base64"));
    const v = await openssl(["dgst", `-${hash}`, "-verify", join(dir, "pub.pem"), "-signature", join(dir, "sig"),
      join(dir, "data")]);
    t.is(v.code, 0, v.stderr);
    t.regex(v.out, /Verified OK/);
  }
}

/** The private key as pkcs11-tool reads it: sensitive, never extractable, for signing only. */
async function checkCustody(t, hsm, label, idHex) {
  const objects = await listObjects(hsm);
  const priv = objects.filter((o) => o.kind === "Private Key" && o.label === label);
  t.is(priv.length, 1);
  t.is(priv[0].id, idHex);
  t.regex(priv[0].text, /Access:\s+sensitive, always sensitive, never extractable, local/);
  t.regex(priv[0].text, /Usage:\s+sign\n/);
  const pub = objects.filter((o) => o.kind === "Public Key" && o.label === label);
  t.is(pub.length, 1);
  t.regex(pub[0].text, /Usage:\s+verify\n/);
}

const idOf = (uri) => /;id=([%0-9a-f]+)/.exec(uri)[1].replaceAll("%", "");

for (const [name, spec, hash, openssl] of [
  ["P-256", { type: "ecdsa", curve: "P-256" }, "sha256", "300a06082a8648ce3d040302"],
  ["P-384", { type: "ecdsa", curve: "P-384" }, "sha384", "300a06082a8648ce3d040303"],
  ["RSA 2048", { type: "rsa", bits: 2048 }, "sha256", "300d06092a864886f70d01010b0500"],
]) {
  test(`a ${name} key made in the token signs what verifies, and cannot leave it`, async (t) => {
    const hsm = await softhsm(t);
    const out = await keys(hsm, "make", hsm.uri("object=root-ca"), spec, pinEnv(hsm));
    t.is(out.code, 0, out.error);
    t.deepEqual(out.spec, spec);
    t.is(out.algorithm, openssl, "the signatureAlgorithm of a file key of the same type");
    t.regex(out.uri, new RegExp(`^pkcs11:token=pki-ca;id=(%[0-9a-f]{2}){20};object=root-ca\\?module-path=${MODULE}$`));
    await checkSignatures(t, out, hash);
    await checkCustody(t, hsm, "root-ca", idOf(out.uri));
    // the id is the key's SHA-1 key identifier, as a certificate's SKI will be
    const spki = Buffer.from(out.spki, "base64");
    const bits = spki.subarray(spki.length - (spec.type === "rsa" ? 270 : spec.curve === "P-256" ? 65 : 97));
    const ski = (await import("node:crypto")).createHash("sha1").update(bits).digest("hex");
    t.is(idOf(out.uri), ski);
    // the recorded URI finds it again, and the same public key comes back
    const again = await keys(hsm, "open", out.uri, null, pinEnv(hsm));
    t.is(again.code, 0, again.error);
    t.is(again.spki, out.spki);
    await checkSignatures(t, again, hash);
  });
}

test("a key pkcs11-tool made is found by id, by label, or both; its public key is the token's", async (t) => {
  const hsm = await softhsm(t);
  const gen = await hsm.tool(["--login", "--pin", hsm.pin, "--keypairgen", "--key-type", "EC:secp384r1",
    "--label", "intermediate-ca", "--id", "7332"]);
  t.is(gen.code, 0, gen.stderr);
  // pkcs11-tool prints the public object's CKA_EC_POINT: a DER OCTET STRING around the point an SPKI ends with
  const listed = (await listObjects(hsm)).find((o) => o.kind === "Public Key");
  const point = /EC_POINT:\s+04([0-9a-f]{2})([0-9a-f]+)/.exec(listed.text);
  t.is(parseInt(point[1], 16), point[2].length / 2);
  for (const [path, recorded] of [
    ["id=%73%32", "id=%73%32"], ["id=s2", "id=%73%32"], ["object=intermediate-ca", "id=%73%32;object=intermediate-ca"],
    ["id=%73%32;object=intermediate-ca", "id=%73%32;object=intermediate-ca"],
  ]) {
    const out = await keys(hsm, "open", hsm.uri(path), null, pinEnv(hsm));
    t.is(out.code, 0, `${path}: ${out.error}`);
    t.true(Buffer.from(out.spki, "base64").toString("hex").endsWith(point[2]), path);
    t.is(Buffer.from(out.spki, "base64").length, 120, "a P-384 SPKI");
    t.deepEqual(out.spec, { type: "ecdsa", curve: "P-384" });
    t.is(out.uri, `pkcs11:token=pki-ca;${recorded}?module-path=${MODULE}`, "the id is recorded with the label");
    await checkSignatures(t, out, "sha384");
  }
});

test("making a key where one with that label or id is already refused, the token unchanged", async (t) => {
  const hsm = await softhsm(t);
  t.is((await hsm.tool(["--login", "--pin", hsm.pin, "--keypairgen", "--key-type", "EC:prime256v1", "--label", "ca",
    "--id", "01"])).code, 0);
  const before = await listObjects(hsm);
  for (const path of ["object=ca", "id=%01;object=other"]) {
    const out = await keys(hsm, "make", hsm.uri(path), { type: "ecdsa", curve: "P-256" }, pinEnv(hsm));
    t.is(out.code, 1);
    t.regex(out.error, /^the token "pki-ca" already holds a key with (object="ca"|id=01): use --existing-key/);
    t.deepEqual(await listObjects(hsm), before);
  }
});

test("the PIN: pin-source file, pin-value with a warning, PKI_PKCS11_PIN_FILE, the prompt; none is one line",
  async (t) => {
    const hsm = await softhsm(t);
    const made = await keys(hsm, "make", hsm.uri("object=k"), { type: "ecdsa", curve: "P-256" }, pinEnv(hsm));
    t.is(made.code, 0, made.error);
    const pinFile = join(hsm.dir, "pin");
    writeFileSync(pinFile, `${hsm.pin}\n`);
    const viaSource = await keys(hsm, "open", hsm.uri("object=k", `&pin-source=file:${pinFile}`));
    t.is(viaSource.code, 0, viaSource.error);
    t.deepEqual(viaSource.warnings, []);
    t.false(viaSource.uri.includes("pin-value"));
    const viaValue = await keys(hsm, "open", hsm.uri("object=k", `&pin-value=${hsm.pin}`));
    t.is(viaValue.code, 0, viaValue.error);
    t.regex(viaValue.warnings[0], /pin-value shows in ps and shell history/);
    t.false(viaValue.uri.includes(hsm.pin), "the URI pki records holds no PIN");
    const viaEnvFile = await keys(hsm, "open", hsm.uri("object=k"), null, { PKI_PKCS11_PIN_FILE: pinFile });
    t.is(viaEnvFile.code, 0, viaEnvFile.error);
    const viaPrompt = await keys(hsm, "open", hsm.uri("object=k"), null, { CHILD_PROMPT: hsm.pin });
    t.is(viaPrompt.code, 0, viaPrompt.error);
    const none = await keys(hsm, "open", hsm.uri("object=k"));
    t.is(none.code, 1);
    t.is(none.error, 'the token "pki-ca" needs its PIN: add pin-source=file:/path to the URI, or set ' +
      "PKI_PKCS11_PIN_FILE or PKI_PKCS11_PIN, or run in a terminal");
    const missing = await keys(hsm, "open", hsm.uri("object=k", `&pin-source=file:${pinFile}.gone`));
    t.is(missing.error, `cannot read the PIN file ${pinFile}.gone (the URI's pin-source): not found`);
  });

test("a wrong PIN is one line, tried once (pkcs11-spy sees one C_Login), and says a locked PIN as such",
  async (t) => {
    const hsm = await softhsm(t);
    t.is((await keys(hsm, "make", hsm.uri("object=k"), { type: "ecdsa", curve: "P-256" }, pinEnv(hsm))).code, 0);
    const log = join(hsm.dir, "spy.log");
    const spied = `pkcs11:token=pki-ca;object=k?module-path=${SPY}`;
    const wrong = await keys(hsm, "open", spied, null,
      { PKI_PKCS11_PIN: "000000", PKCS11SPY: MODULE, PKCS11SPY_OUTPUT: log });
    t.is(wrong.code, 1);
    t.is(wrong.error, 'wrong PIN for the token "pki-ca" (the token counts failed logins: check before trying again)');
    const calls = readFileSync(log, "utf8").match(/^\d+: C_Login$/gm) ?? [];
    t.is(calls.length, 1, "one login attempt, no retry");
    t.regex((await hsm.tool(["-T"])).out, /user PIN count low/, "the token counted the one failure");
    // SoftHSM never locks a PIN itself: its token record is given the flag a token sets when it does
    const tokenDir = join(hsm.dir, "tokens");
    const [sub] = (await import("node:fs")).readdirSync(tokenDir);
    const file = join(tokenDir, sub, "token.object");
    const b = readFileSync(file);
    const at = b.indexOf(Buffer.from("000000008000534b0000000000000002", "hex")) + 16;
    t.true(at > 16);
    b.writeBigUInt64BE(b.readBigUInt64BE(at) | 0x40000n, at); // CKF_USER_PIN_LOCKED
    writeFileSync(file, b);
    t.regex((await hsm.tool(["-T"])).out, /user PIN locked/);
    const locked = await keys(hsm, "open", hsm.uri("object=k"), null, pinEnv(hsm));
    t.is(locked.code, 1);
    t.is(locked.error, 'the user PIN of the token "pki-ca" is locked (CKR_PIN_LOCKED): its security officer must ' +
      "unlock it");
  });

test("no such module, a library that is not PKCS#11, no such token, no such key: one line each", async (t) => {
  const hsm = await softhsm(t);
  t.is((await keys(hsm, "make", hsm.uri("object=k"), { type: "rsa", bits: 2048 }, pinEnv(hsm))).code, 0);
  const libc = (await run("sh", ["-c", "ls /usr/lib/x86_64-linux-gnu/libz.so.1 /lib/x86_64-linux-gnu/libz.so.1 " +
    "2>/dev/null | head -1"])).out.trim();
  const cases = [
    ["pkcs11:token=pki-ca;object=k?module-path=/usr/lib/nowhere/libp11.so",
      "no PKCS#11 module at /usr/lib/nowhere/libp11.so: check the URI's module-path"],
    [`pkcs11:token=pki-ca;object=k?module-path=${libc}`,
      `${libc} is not a PKCS#11 library (it has no C_GetFunctionList): check module-path`],
    [`pkcs11:token=pki-ca;object=k?module-path=${hsm.dir}/softhsm2.conf`,
      `${hsm.dir}/softhsm2.conf is not a PKCS#11 library (it has no C_GetFunctionList): check module-path`],
    [`pkcs11:token=other;object=k?module-path=${MODULE}`,
      `no token labelled "other" in the PKCS#11 module ${MODULE} (its tokens: "pki-ca")`],
    [`pkcs11:serial=nope;object=k?module-path=${MODULE}`,
      `no token with serial "nope" in the PKCS#11 module ${MODULE} (its tokens: "pki-ca")`],
    [hsm.uri("object=missing"), 'no private key with object="missing" in the token "pki-ca"'],
    [hsm.uri("id=%99"), 'no private key with id=99 in the token "pki-ca"'],
    [`pkcs11:token=pki-ca;object=k`, "the PKCS#11 URI names no library: add ?module-path=/path/to/pkcs11-module.so"],
  ];
  for (const [uri, message] of cases) {
    const out = await keys(hsm, "open", uri, null, pinEnv(hsm));
    t.is(out.code, 1, uri);
    t.is(out.error, message, uri);
  }
});

test("a session lost while the PIN changed: one login with the old PIN, then no more tries (no PIN burnt)",
  async (t) => {
    const hsm = await softhsm(t);
    const log = join(hsm.dir, "spy.log");
    const tokens = join(hsm.dir, "tokens");
    // a long-running signer (as pki acme serve): the token goes away and comes back with another PIN meanwhile
    const code = `
      import { makeTokenCaKey } from ${JSON.stringify(new URL("../dist/store/keys/index.js", import.meta.url).href)};
      import { renameSync, readdirSync } from "node:fs";
      import { execFileSync } from "node:child_process";
      const k = await makeTokenCaKey(${JSON.stringify(`pkcs11:token=pki-ca;object=k?module-path=${SPY}`)},
        { type: "ecdsa", curve: "P-256" });
      const out = [];
      const sign = () => { try { k.signDigest(Buffer.alloc(32, 1), "sha256"); out.push("ok"); }
        catch (e) { out.push(e.constructor.name + ": " + e.message); } };
      sign();
      execFileSync("pkcs11-tool", ["--module", ${JSON.stringify(MODULE)}, "--login",
        "--pin", ${JSON.stringify(hsm.pin)}, "--change-pin", "--new-pin", "999999"], { stdio: "ignore" });
      const [sub] = readdirSync(${JSON.stringify(tokens)});
      renameSync(${JSON.stringify(tokens)} + "/" + sub, ${JSON.stringify(join(hsm.dir, "away"))});
      sign();
      renameSync(${JSON.stringify(join(hsm.dir, "away"))}, ${JSON.stringify(tokens)} + "/" + sub);
      sign(); sign(); sign();
      console.log(JSON.stringify(out));`;
    const r = await run(process.execPath, ["--input-type=module", "-e", code],
      { env: { ...hsm.env, PKI_PKCS11_PIN: hsm.pin, PKCS11SPY: MODULE, PKCS11SPY_OUTPUT: log } });
    t.is(r.code, 0, r.stderr);
    const out = JSON.parse(r.out);
    t.is(out[0], "ok");
    t.regex(out[1], /^TokenUnavailableError: the key in the token "pki-ca" cannot sign now: no token labelled/);
    t.regex(out[2], /^TokenUnavailableError: .*wrong PIN for the token "pki-ca"/);
    const refused = /^DepotError: wrong PIN .*: restart pki with the token's current PIN$/;
    for (const later of out.slice(3)) t.regex(later, refused);
    const logins = readFileSync(log, "utf8").match(/^\d+: C_Login$/gm) ?? [];
    t.is(logins.length, 2, "the first login, and one with the old PIN after the token came back: never again");
  });
