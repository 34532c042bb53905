// A CA whose key is in a PKCS#11 token (issue 25), on a real SoftHSM2 token per test: `pki init --ca-key pkcs11:...`
// makes the key in the token (or, with --existing-key, uses one pkcs11-tool made), and the depot records the URI
// without PIN and no key; what the CA signs through openDepot (issue, crl) passes openssl verify -x509_strict and
// an mTLS handshake with curl; each failure is one line with nothing written. openDepot runs in a child process
// (test/_depot-child.mjs): a PKCS#11 module reads SOFTHSM2_CONF once per process.
import test from "ava";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { curl, openssl, PASS, pki, run, snapshot, tempDir, versionsServer } from "./_helpers.js";
import { listObjects, MODULE, softhsm } from "./_softhsm.js";

const CHILD = fileURLToPath(new URL("./_depot-child.mjs", import.meta.url));

async function depotOps(t, hsm, dir, ops, env = {}) {
  const r = await run(process.execPath, [CHILD, join(dir, ".pki"), PASS, JSON.stringify(ops)],
    { env: { ...hsm.env, PKI_PKCS11_PIN: hsm.pin, ...env } });
  const out = JSON.parse(r.out || `{"error": ${JSON.stringify(r.stderr)}}`);
  return { code: r.code, ...out };
}

const initEnv = (hsm, extra = {}) => ({ ...hsm.env, PKI_PASSPHRASE: PASS, ...extra });

/** Every byte of the depot: no row or file may hold the PIN (or, with pin-value, the URI's PIN text). */
function depotBytes(dir) {
  const root = join(dir, ".pki");
  return Buffer.concat(readdirSync(root).map((f) => readFileSync(join(root, f))));
}

for (const [name, keyArgs, keyType, sig] of [
  ["P-256", [], "ECDSA P-256", "ecdsa-with-SHA256"],
  ["RSA-2048", ["--key-type", "rsa"], "RSA 2048", "sha256WithRSAEncryption"],
]) {
  test(`pki init --ca-key pkcs11: (${name}): the key stays in the token; a leaf and a CRL verify; curl does mTLS`,
    async (t) => {
      const hsm = await softhsm(t);
      const dir = tempDir(t);
      const pinFile = join(hsm.dir, "pin");
      writeFileSync(pinFile, `${hsm.pin}\n`);
      const uri = hsm.uri("object=root-ca", `&pin-source=file:${pinFile}`);
      const r = await pki(dir, ["init", "--ca-key", uri, ...keyArgs], { env: initEnv(hsm) });
      t.is(r.code, 0, r.stderr);
      const recorded = new RegExp(
        `^Its key is in the token: pkcs11:token=pki-ca;id=(%[0-9a-f]{2}){20};object=root-ca\\?module-path=${MODULE}` +
          `&pin-source=file:${pinFile}$`, "m");
      t.regex(r.stderr, recorded);
      const objects = await listObjects(hsm);
      const priv = objects.find((o) => o.kind === "Private Key");
      t.is(priv.label, "root-ca");
      t.regex(priv.text, /Access:\s+sensitive, always sensitive, never extractable, local/);
      t.is(objects.length, 2, "one key pair");

      const ops = [["get", "ca"], ["issue", "web", { domains: ["localhost"], ips: ["127.0.0.1"], usage: "server" }],
        ["issue", "client", { usage: "client" }], ["revoke", "client"], ["crl"]];
      const out = await depotOps(t, hsm, dir, ops);
      t.is(out.code, 0, out.error);
      const [ca, web, client, , crl] = out.results;
      t.is(ca.keyType, keyType);
      t.is(ca.key, undefined, "the depot holds no key for the root");
      t.is(ca.keyUri, r.stderr.match(recorded)[0].slice("Its key is in the token: ".length));
      const files = tempDir(t);
      const f = (n, text) => (writeFileSync(join(files, n), text), join(files, n));
      const caFile = f("ca.crt", ca.certificate);
      for (const c of [ca, web, client]) {
        const v = await openssl(["verify", "-x509_strict", "-CAfile", caFile, f(`${c.name}.crt`, c.certificate)]);
        t.is(v.code, 0, `${c.name}: ${v.stderr}`);
      }
      const text = await openssl(["x509", "-noout", "-text", "-in", join(files, "web.crt")]);
      t.regex(text.out, new RegExp(`Signature Algorithm: ${sig}`));
      f("ca.crl", crl.pem);
      const crlCheck = await openssl(["crl", "-in", join(files, "ca.crl"), "-CAfile", caFile, "-noout"]);
      t.is(crlCheck.code, 0, crlCheck.stderr);
      t.regex(crlCheck.stderr + crlCheck.out, /verify OK/);
      const revoked = await openssl(["verify", "-x509_strict", "-crl_check", "-CAfile", caFile, "-CRLfile",
        join(files, "ca.crl"), join(files, "client.crt")]);
      t.regex(revoked.stdout.toString() + revoked.stderr, /certificate revoked/);

      // mTLS: a server certificate and a client certificate from the token CA (the client's revoked one is not
      // checked by the server: a second client certificate is issued for the handshake)
      const again = await depotOps(t, hsm, dir, [["issue", "client2", { usage: "client" }]]);
      t.is(again.code, 0, again.error);
      const port = await versionsServer(t,
        { cert: web.certificate, key: web.key, passphrase: PASS, ca: ca.certificate });
      const c2 = again.results[0];
      const got = await curl(["--cacert", caFile, "--cert", f("c2.crt", c2.certificate), "--key",
        f("c2.key", c2.key), "--pass", PASS, `https://127.0.0.1:${port}/v1/versions`]);
      t.is(got.code, 0, got.stderr);
      t.is(got.out, '["v1"]');

      const bytes = depotBytes(dir);
      t.false(bytes.includes(Buffer.from(hsm.pin)), "no row or file holds the PIN");
    });
}

test("--existing-key: a key pkcs11-tool made gets a CA certificate for its public key; pin-value warned, unstored",
  async (t) => {
    const hsm = await softhsm(t);
    const gen = await hsm.tool(["--login", "--pin", hsm.pin, "--keypairgen", "--key-type", "EC:secp384r1",
      "--label", "intermediate-ca", "--id", "7332"]);
    t.is(gen.code, 0, gen.stderr);
    const before = await listObjects(hsm);
    const dir = tempDir(t);
    const uri = hsm.uri("id=%73%32", `&pin-value=${hsm.pin}`);
    const r = await pki(dir, ["init", "--ca-key", uri, "--existing-key"], { env: initEnv(hsm) });
    t.is(r.code, 0, r.stderr);
    t.regex(r.stderr, /^pki: warning: the PKCS#11 URI's pin-value shows in ps and shell history/m);
    const line = `Its key is in the token: pkcs11:token=pki-ca;id=%73%32\\?module-path=${MODULE}$`;
    t.regex(r.stderr, new RegExp(line, "m"));
    t.deepEqual(await listObjects(hsm), before, "nothing made in the token");
    // openDepot's pkcs11.prompt gives the PIN when nothing else does (the URI's pin-value was not stored)
    const noPin = await depotOps(t, hsm, dir, [["issue", "web", { domains: ["web.test"] }]], { PKI_PKCS11_PIN: "" });
    t.regex(noPin.error, /needs its PIN/);
    const out = await depotOps(t, hsm, dir, [["get", "ca"], ["issue", "web", { domains: ["web.test"] }]],
      { PKI_PKCS11_PIN: "", CHILD_PIN: hsm.pin });
    t.is(out.code, 0, out.error);
    const [ca, web] = out.results;
    t.is(ca.keyType, "ECDSA P-384");
    const files = tempDir(t);
    writeFileSync(join(files, "ca.crt"), ca.certificate);
    writeFileSync(join(files, "web.crt"), web.certificate);
    const v = await openssl(["verify", "-x509_strict", "-CAfile", join(files, "ca.crt"), join(files, "web.crt")]);
    t.is(v.code, 0, v.stderr);
    // the certificate's key is the token's: its point is the one pkcs11-tool lists
    const pub = await openssl(["x509", "-noout", "-pubkey", "-in", join(files, "ca.crt")]);
    const der = (await openssl(["pkey", "-pubin", "-outform", "DER"], { input: pub.out })).stdout.toString("hex");
    const point = /EC_POINT:\s+04[0-9a-f]{2}([0-9a-f]+)/.exec(before.find((o) => o.kind === "Public Key").text)[1];
    t.true(der.endsWith(point));
    t.false(depotBytes(dir).includes(Buffer.from(hsm.pin)), "the pin-value is not stored");
  });

test("init's failures: one line, exit 1 (2 for usage), no depot made, the token unchanged", async (t) => {
  const hsm = await softhsm(t);
  t.is((await hsm.tool(["--login", "--pin", hsm.pin, "--keypairgen", "--key-type", "EC:prime256v1", "--label",
    "taken", "--id", "01"])).code, 0);
  const before = await listObjects(hsm);
  const libz = (await run("sh", ["-c", "ls /usr/lib/x86_64-linux-gnu/libz.so.1 /lib/x86_64-linux-gnu/libz.so.1 " +
    "2>/dev/null | head -1"])).out.trim();
  const cases = [
    [["--ca-key", hsm.uri("object=new")], { PKI_PKCS11_PIN: "999999" }, 1,
      'wrong PIN for the token "pki-ca" (the token counts failed logins: check before trying again)'],
    [["--ca-key", hsm.uri("object=taken")], {}, 1,
      'the token "pki-ca" already holds a key with object="taken": use --existing-key to make the CA for it, or ' +
        "name a new key (pki never replaces a key in a token)"],
    [["--ca-key", hsm.uri("object=absent"), "--existing-key"], {}, 1,
      'no private key with object="absent" in the token "pki-ca"'],
    [["--ca-key", `pkcs11:token=nope;object=k?module-path=${MODULE}`], {}, 1,
      `no token labelled "nope" in the PKCS#11 module ${MODULE} (its tokens: "pki-ca")`],
    [["--ca-key", `pkcs11:token=pki-ca;object=k?module-path=${libz}`], {}, 1,
      `${libz} is not a PKCS#11 library (it has no C_GetFunctionList): check module-path`],
    [["--ca-key", "pkcs11:token=pki-ca;object=k;object=j"], {}, 1, "the PKCS#11 URI gives object twice"],
    [["--ca-key", "/etc/pki/ca.key"], {}, 2, "--ca-key takes a PKCS#11 URI (pkcs11:token=...;object=...)"],
    [["--existing-key"], {}, 2, "--existing-key names a key in a token: give the token with --ca-key"],
  ];
  for (const [args, env, code, message] of cases) {
    const dir = tempDir(t);
    const r = await pki(dir, ["init", ...args], { env: initEnv(hsm, { PKI_PKCS11_PIN: hsm.pin, ...env }) });
    t.is(r.code, code, args.join(" "));
    t.is(r.stderr, `pki: ${message}\n`, args.join(" "));
    t.false(existsSync(join(dir, ".pki")), "no depot");
    t.deepEqual(snapshot(dir), {});
  }
  t.deepEqual(await listObjects(hsm), before, "no key made or removed in the token");
});

test("a depot whose key record names another key in the token signs nothing: one line, nothing written",
  async (t) => {
    const hsm = await softhsm(t);
    const dir = tempDir(t);
    const r = await pki(dir, ["init", "--ca-key", hsm.uri("object=root-ca")], { env: initEnv(hsm, { PKI_PKCS11_PIN:
      hsm.pin }) });
    t.is(r.code, 0, r.stderr);
    t.is((await hsm.tool(["--login", "--pin", hsm.pin, "--keypairgen", "--key-type", "EC:prime256v1", "--label",
      "other"])).code, 0);
    // the key record now names the other key, as a tampered or mis-restored depot would
    const { tokenKeyRecord } = await import("../dist/store/keys/ref.js");
    const blob = tokenKeyRecord(hsm.uri("object=other")).toString("hex");
    const db = join(dir, ".pki", "depot.db");
    const sql = await run("sqlite3", [db, `UPDATE blobs SET data = x'${blob}' WHERE name = 'ca' AND kind = 'key'`]);
    t.is(sql.code, 0, sql.stderr);
    const before = snapshot(join(dir, ".pki"));
    const out = await depotOps(t, hsm, dir, [["issue", "web", { domains: ["web.test"] }]]);
    t.is(out.code, 1);
    t.is(out.error, `the key in the token (pkcs11:token=pki-ca;object=other?module-path=${MODULE}) does not match ` +
      "the certificate of the root CA: refusing to use it");
    t.deepEqual(snapshot(join(dir, ".pki")), before);
  });

test("the CLI on a token CA's depot: status shows the URI; new-cert + sign, renew, revoke, crl sign in the token",
  async (t) => {
    const hsm = await softhsm(t);
    const dir = tempDir(t);
    const env = initEnv(hsm, { PKI_PKCS11_PIN: hsm.pin });
    const uri = hsm.uri("object=root-ca", `&pin-value=${hsm.pin}`);
    t.is((await pki(dir, ["init", "--ca-key", uri], { env })).code, 0);
    const issued = await depotOps(t, hsm, dir, [["issue", "web", { domains: ["web.test"] }]]);
    t.is(issued.code, 0, issued.error);
    const status = await pki(dir, ["status", "ca", "--json"], { env });
    t.is(status.code, 0, status.stderr);
    const keyUri = JSON.parse(status.out).keyUri;
    t.regex(keyUri, new RegExp(`^pkcs11:token=pki-ca;id=(%[0-9a-f]{2}){20};object=root-ca\\?module-path=${MODULE}$`));
    const renewed = await pki(dir, ["renew", "web"], { env });
    t.is(renewed.code, 0, renewed.stderr);
    t.is((await pki(dir, ["revoke", "web", "--reason", "superseded"], { env })).code, 0);
    const crl = await pki(dir, ["crl"], { env });
    t.is(crl.code, 0, crl.stderr);
    const made = await pki(dir, ["new-cert", "app", "--domain", "app.test"], { env });
    t.is(made.code, 0, made.stderr);
    const signed = await pki(dir, ["sign", "app"], { env });
    t.is(signed.code, 0, signed.stderr);
    const doctor = await pki(dir, ["doctor"], { env });
    t.is(doctor.code, 0, doctor.stderr + doctor.out);
    t.regex(doctor.stderr + doctor.out, /is consistent/);
    const got = await depotOps(t, hsm, dir, [["get", "ca"], ["get", "web"], ["get", "app"]]);
    t.is(got.code, 0, got.error);
    const files = tempDir(t);
    const [ca, web, app] = got.results;
    writeFileSync(join(files, "app.crt"), app.certificate);
    writeFileSync(join(files, "ca.crt"), ca.certificate);
    writeFileSync(join(files, "web.crt"), web.certificate);
    writeFileSync(join(files, "ca.crl"), crl.stdout);
    const va2 = await openssl(["verify", "-x509_strict", "-CAfile", join(files, "ca.crt"), join(files, "app.crt")]);
    t.is(va2.code, 0, `new-cert + sign: ${va2.stderr}`);
    const v = await openssl(["verify", "-x509_strict", "-CAfile", join(files, "ca.crt"), join(files, "web.crt")]);
    t.is(v.code, 0, v.stderr);
    const c = await openssl(["verify", "-x509_strict", "-crl_check", "-CAfile", join(files, "ca.crt"), "-CRLfile",
      join(files, "ca.crl"), join(files, "web.crt")]);
    t.regex(c.out + c.stderr, /certificate revoked/, "the renewed certificate is on the token-signed CRL");
    // without a PIN at hand (no terminal) the signing command stops in one line and writes nothing
    const before = snapshot(join(dir, ".pki"));
    const noPin = await pki(dir, ["crl"], { env: { ...env, PKI_PKCS11_PIN: "" } });
    t.is(noPin.code, 1);
    t.is(noPin.stderr, 'pki: the token "pki-ca" needs its PIN: add pin-source=file:/path to the URI, or set ' +
      "PKI_PKCS11_PIN_FILE or PKI_PKCS11_PIN, or run in a terminal\n");
    t.deepEqual(snapshot(join(dir, ".pki")), before);
  });

for (const [rootKind, rootInit] of [
  ["a token root", (hsm) => ["init", "--key-type", "rsa", "--ca-key", hsm.uri("object=root-ca")]],
  ["a file root", () => ["init"]],
]) {
  test(`init --intermediate NAME --ca-key pkcs11: under ${rootKind}; pki issue under it; openssl verifies the path`,
    async (t) => {
      const hsm = await softhsm(t);
      const dir = tempDir(t);
      const env = initEnv(hsm, { PKI_PKCS11_PIN: hsm.pin });
      const root = await pki(dir, rootInit(hsm), { env });
      t.is(root.code, 0, root.stderr);
      const inter = await pki(dir, ["init", "--intermediate", "issuing", "--ca-key", hsm.uri("object=issuing")],
        { env });
      t.is(inter.code, 0, inter.stderr);
      const leaf = await pki(dir, ["issue", "web", "web.test", "127.0.0.1", "--issuer", "issuing"], { env });
      t.is(leaf.code, 0, leaf.stderr);
      const labels = (await listObjects(hsm)).filter((o) => o.kind === "Private Key").map((o) => o.label).sort();
      t.deepEqual(labels, rootKind === "a token root" ? ["issuing", "root-ca"] : ["issuing"]);
      const status = JSON.parse((await pki(dir, ["status", "issuing", "--json"], { env })).out);
      t.regex(status.keyUri, /^pkcs11:token=pki-ca;id=(%[0-9a-f]{2}){20};object=issuing\?module-path=/);
      const got = await depotOps(t, hsm, dir, [["get", "ca"], ["get", "issuing"], ["get", "web"]]);
      t.is(got.code, 0, got.error);
      const files = tempDir(t);
      for (const c of got.results) writeFileSync(join(files, `${c.name}.crt`), c.certificate);
      t.is(got.results[1].key, undefined, "no key of the intermediate in the depot");
      const v = await openssl(["verify", "-x509_strict", "-CAfile", join(files, "ca.crt"), "-untrusted",
        join(files, "issuing.crt"), join(files, "web.crt")]);
      t.is(v.code, 0, v.stderr);
      // a second intermediate with the same object: refused, nothing recorded, the token unchanged
      const before = await listObjects(hsm);
      const again = await pki(dir, ["init", "--intermediate", "other", "--ca-key", hsm.uri("object=issuing")],
        { env });
      t.is(again.code, 1);
      t.regex(again.stderr, /^pki: the token "pki-ca" already holds a key with object="issuing": use --existing-key/);
      t.deepEqual(await listObjects(hsm), before);
      t.false((await pki(dir, ["list"], { env })).out.includes("other"));
      // refused after its key was made (issuing's path length is 0): the key made for it is removed again
      const deeper = await pki(dir, ["init", "--intermediate", "sub", "--parent", "issuing", "--ca-key",
        hsm.uri("object=sub")], { env });
      t.is(deeper.code, 1);
      t.regex(deeper.stderr, /^pki: .*path/);
      t.deepEqual(await listObjects(hsm), before, "no key left in the token for the refused CA");
      t.false((await pki(dir, ["list"], { env })).out.includes("sub"));
    });
}

test("on a terminal, with no PIN at hand, pki asks for the token's PIN without echo; a wrong one is one line",
  async (t) => {
    const { onPty } = await import("./_pty.js");
    const hsm = await softhsm(t);
    const dir = tempDir(t);
    writeFileSync(join(dir, "pass"), `${PASS}\n`);
    const env = { ...hsm.env, PKI_DEPOT: join(dir, ".pki"), PKI_PASSPHRASE_FILE: join(dir, "pass") };
    delete env.PKI_PKCS11_PIN;
    delete env.PKI_PKCS11_PIN_FILE;
    const prompt = 'PIN for the token "pki-ca": ';
    const ok = await onPty(["init", "--ca-key", hsm.uri("object=root-ca")],
      { prompt, answers: [`${hsm.pin}\r`], env, cwd: dir });
    t.is(ok.code, 0, ok.out);
    t.is(ok.prompts, 1);
    t.false(ok.out.includes(hsm.pin), "the PIN typed is not echoed");
    t.regex(ok.out, /Its key is in the token: pkcs11:token=pki-ca;/);
    const wrong = await onPty(["crl"], { prompt, answers: ["000000\r"], env, cwd: dir });
    t.is(wrong.code, 1);
    t.is(wrong.prompts, 1, "asked once: a wrong PIN is not asked again");
    t.regex(wrong.out, /pki: wrong PIN for the token "pki-ca" \(the token counts failed logins/);
  });
