// The traps a new user falls into (issue 28): a passphrase typo caught where it is typed, one judgement of what a
// depot is, secrets kept off command lines, and the passphrase sources honoured everywhere.
import test from "ava";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PASS, issue, newDepot, openssl, pki, pkiOk, run, snapshot, tempDir } from "./_helpers.js";
import { onPty } from "./_pty.js";
import { blobFile } from "./_state.js";

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

test("one judgement of what a depot is: exported ca.crt/ca.key are no depot for list, init, doctor and import alike", async (t) => {
  const dir = await newDepot(t);
  const out = join(dir, "exported");
  mkdirSync(out);
  const tar = await pkiOk(t, dir, ["export"]);
  const x = await run("tar", ["xf", "-", "-C", out], { input: tar.stdout });
  t.is(x.code, 0, x.stderr);
  const before = snapshot(out);
  const line = `pki: no depot at ${out} (it holds ca.crt, ca.key, ca.pem, but no depot.json): pass --depot DIR, or make a new one in an absent or empty directory\n`;
  for (const args of [["list"], ["status"], ["init"], ["doctor"], ["doctor", "--fix"], ["new-cert", "web"],
    ["import", "--from", "certstrap", dir]]) {
    const r = await pki(dir, ["--depot", out, ...args], { env: { PKI_PASSPHRASE_FILE: join(dir, "pass") } });
    t.is(r.code, 1, args.join(" "));
    t.is(r.stderr, line, args.join(" "));
    t.is(r.out, "", args.join(" "));
  }
  t.deepEqual(snapshot(out), before, "nothing written into the directory");
});

test("doctor outside any depot says so plainly (exit 1), no problem count, no --fix advice", async (t) => {
  const dir = tempDir(t);
  for (const args of [["doctor"], ["doctor", "--fix"], ["doctor", "--json"]]) {
    const r = await pki(dir, args);
    t.is(r.code, 1);
    t.is(r.stderr, `pki: no depot at ${join(dir, ".pki")}: run 'pki init' first (or pass --depot DIR)\n`);
    t.is(r.out, "");
  }
  t.deepEqual(snapshot(dir), {}, "nothing created");
});

const WRONG = "correct horse battery stapel"; // the typo
const TYPO_LINE = "pki: wrong passphrase for the CA key (a new key takes the passphrase of the CA that signs it; one of its own: --key-passphrase-file)\n";

/** `pki ARGS` on a real pseudo-terminal (python3's pty), no passphrase in the environment, answering its prompts. */
async function onTerminal(dir, args, answers) {
  const env = { ...process.env, PKI_DEPOT: join(dir, ".pki") };
  for (const k of ["PKI_PASSPHRASE", "PKI_PASSPHRASE_FILE"]) delete env[k];
  const prompt = "(?:Passphrase for|Repeat the passphrase)[^\\r\\n]*: ";
  return onPty(args, { prompt, answers: answers.map((a) => `${a}\r`), eof: true, env, cwd: dir });
}

test("a passphrase typo for a new key is refused before anything is written (file, env), one line, exit 1", async (t) => {
  const dir = await newDepot(t);
  writeFileSync(join(dir, "typo"), WRONG + "\n");
  const before = snapshot(join(dir, ".pki"));
  for (const [args, env] of [
    [["new-cert", "--passphrase-file", "typo", "web"], {}],
    [["new-cert", "web"], { PKI_PASSPHRASE_FILE: join(dir, "typo") }],
    [["new-cert", "--ca", "web"], { PKI_PASSPHRASE: WRONG }],
  ]) {
    const r = await pki(dir, args, { env });
    t.is(r.code, 1, args.join(" "));
    t.is(r.stderr, TYPO_LINE, args.join(" "));
    t.deepEqual(snapshot(join(dir, ".pki")), before, `${args.join(" ")}: the depot is unchanged`);
  }
  // Under an intermediate, the passphrase is checked against the intermediate's key.
  await pkiOk(t, dir, ["init", "--intermediate", "int", "--passphrase-file", "pass"]);
  const mid = snapshot(join(dir, ".pki"));
  const r = await pki(dir, ["new-cert", "--issuer", "int", "--passphrase-file", "typo", "web"]);
  t.is(r.code, 1);
  t.is(r.stderr, TYPO_LINE.replace("the CA key", 'the key of "int"'));
  t.deepEqual(snapshot(join(dir, ".pki")), mid);
  // The right one works, and the key opens with it.
  await pkiOk(t, dir, ["new-cert", "--issuer", "int", "--passphrase-file", "pass", "web"]);
  t.is((await openssl(["pkey", "-in", await blobFile(dir, "web", "key"), "-passin", "file:" + join(dir, "pass"), "-noout"])).code, 0);
});

test("a passphrase of a key's own is explicit: --key-passphrase-file (new-cert, issue, renew --rekey, init --intermediate)", async (t) => {
  const dir = await newDepot(t);
  writeFileSync(join(dir, "own"), "the key's own passphrase\n");
  const opens = async (name, file) =>
    (await openssl(["pkey", "-in", await blobFile(dir, name, "key"), "-passin", `file:${join(dir, file)}`, "-noout"])).code === 0;
  await pkiOk(t, dir, ["new-cert", "--key-passphrase-file", "own", "a"]); // no depot passphrase needed
  t.true(await opens("a", "own"));
  t.false(await opens("a", "pass"));
  await pkiOk(t, dir, ["issue", "--passphrase-file", "pass", "--key-passphrase-file", "own", "b", "localhost"]);
  t.true(await opens("b", "own"));
  await pkiOk(t, dir, ["init", "--intermediate", "int", "--passphrase-file", "pass", "--key-passphrase-file", "own"]);
  t.true(await opens("int", "own"));
  // renew --rekey: the new key takes the CA key's passphrase (checked by opening it), or --key-passphrase-file.
  await issue(t, dir, "c");
  await pkiOk(t, dir, ["renew", "--rekey", "--passphrase-file", "pass", "c"]);
  t.true(await opens("c", "pass"));
  await pkiOk(t, dir, ["renew", "--rekey", "--passphrase-file", "pass", "--key-passphrase-file", "own", "c"]);
  t.true(await opens("c", "own"));
});

test("on a terminal a wrong passphrase is asked again (3 tries, as ssh and gpg); the key is sealed under the right one", async (t) => {
  const dir = await newDepot(t);
  const ok = await onTerminal(dir, ["new-cert", "web"], [WRONG, PASS]);
  t.is(ok.code, 0, ok.out);
  t.is(ok.prompts, 2, ok.out);
  t.regex(ok.out, /Wrong passphrase, try again \(2 of 3\)\./);
  t.true(ok.out.includes('Created key and CSR for "web"'), ok.out);
  t.is((await openssl(["pkey", "-in", await blobFile(dir, "web", "key"), "-passin", `pass:${PASS}`, "-noout"])).code, 0);
  const signed = await onTerminal(dir, ["sign", "web"], ["nope", PASS]);
  t.is(signed.code, 0, signed.out);
  t.regex(signed.out, /Signed "web"/);
  const issued = await onTerminal(dir, ["issue", "api1", "localhost"], [WRONG, PASS]);
  t.is(issued.code, 0, issued.out);
  t.is(issued.prompts, 2, issued.out);
  t.regex(issued.out, /Issued "api1"/);

  const before = snapshot(join(dir, ".pki"));
  const refused = await onTerminal(dir, ["new-cert", "api"], [WRONG, "x", "y"]);
  t.is(refused.code, 1, refused.out);
  t.is(refused.prompts, 3, refused.out);
  const lines = refused.out.split(/\r?\n/).filter((l) => l.startsWith("pki: "));
  t.deepEqual(lines, [TYPO_LINE.trim()]);
  t.deepEqual(snapshot(join(dir, ".pki")), before, "nothing written");
});

test("exports take --export-password-file (p12 and jks, '-' for stdin); it needs --p12 or --jks", async (t) => {
  const dir = await newDepot(t);
  await issue(t, dir, "web", ["--domain", "localhost"]);
  writeFileSync(join(dir, "pw"), "export only\n");
  const r = await pkiOk(t, dir, ["export", "--passphrase-file", "pass", "--p12", "--jks", "--export-password-file", "pw", "web"]);
  const out = tempDir(t);
  t.is((await run("tar", ["xf", "-", "-C", out], { input: r.stdout })).code, 0);
  t.is((await openssl(["pkcs12", "-in", join(out, "web.p12"), "-passin", "pass:export only", "-noout"])).code, 0);
  const jks = await run("keytool", ["-list", "-keystore", join(out, "web.jks"), "-storepass", "export only", "-storetype", "JKS"]);
  t.is(jks.code, 0, jks.out + jks.stderr);
  // stdin: line 1 the passphrase, line 2 the export password.
  const s = await pkiOk(t, dir, ["export", "--passphrase-file", "-", "--p12", "--export-password-file", "-", "web"], { input: `${PASS}\nfrom stdin\n` });
  const out2 = tempDir(t);
  t.is((await run("tar", ["xf", "-", "-C", out2], { input: s.stdout })).code, 0);
  t.is((await openssl(["pkcs12", "-in", join(out2, "web.p12"), "-passin", "pass:from stdin", "-noout"])).code, 0);
  const u = await pki(dir, ["export", "--passphrase-file", "pass", "--export-password-file", "pw", "web"]);
  t.is(u.code, 2);
  t.is(u.stderr, "pki: --export-password-file needs --p12 or --jks\n");
});

test("fixtures: .p12/.jks take exportPassword (or --export-password-file), else \"changeit\", never the passphrase", async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, "spec.json"), JSON.stringify({ passphrase: PASS, cas: [{ name: "ca" }], certs: [{ name: "s", ip: "127.0.0.1", outputs: ["pem", "p12", "jks"] }] }));
  const p12opens = (set, pw) => openssl(["pkcs12", "-in", join(dir, set, "s.p12"), "-passin", `pass:${pw}`, "-noout"]).then((r) => r.code === 0);
  await pkiOk(t, dir, ["fixtures", "spec.json", "--out", "d"]);
  t.true(await p12opens("d", "changeit"));
  t.false(await p12opens("d", PASS), "the passphrase of the keys does not open the keystore");
  t.is((await run("keytool", ["-list", "-keystore", join(dir, "d", "s.jks"), "-storepass", "changeit", "-storetype", "JKS"])).code, 0);
  writeFileSync(join(dir, "pw"), "keystores\n");
  await pkiOk(t, dir, ["fixtures", "spec.json", "--out", "f", "--export-password-file", "pw"]);
  t.true(await p12opens("f", "keystores"));
  writeFileSync(join(dir, "spec2.json"), JSON.stringify({ exportPassword: "in the spec", cas: [{ name: "ca", outputs: ["insecure"] }], certs: [{ name: "s", outputs: ["p12"] }] }));
  await pkiOk(t, dir, ["fixtures", "spec2.json", "--out", "g"]); // no passphrase needed: no encrypted key
  t.true(await p12opens("g", "in the spec"));
});
