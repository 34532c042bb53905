// A leaf whose CN is an IP address is judged against the CA's IP subtrees; where openssl verify would read that CN
// as a DNS name (no DNS SAN, DNS subtrees present) the refusal says so, and openssl agrees with every verdict.
import test from "ava";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { openssl, PASS, pki, pkiOk, snapshot, tempDir } from "./_helpers.js";
import { blobFile } from "./_state.js";

const env = { PKI_TEST_ONLY_KDF_ITERATIONS: "1000" };
// test/_state.js reads the depot in this process, through the same KDF check as the commands.
process.env.PKI_TEST_ONLY_KDF_ITERATIONS = "1000";

async function ca(t, initArgs) {
  const dir = tempDir(t);
  writeFileSync(join(dir, "pass"), PASS + "\n");
  await pkiOk(t, dir, ["init", "--passphrase-file", "pass", ...initArgs], { env });
  return dir;
}

/**
 * new-cert NAME with `args`, then sign: the first refusal (new-cert checks the constraints too), or the sign's
 * result; a refused step is checked to have written nothing.
 */
async function signed(t, dir, name, args) {
  for (const step of [["new-cert", ...args], ["sign"]]) {
    const before = snapshot(dir);
    const r = await pki(dir, [step[0], "--passphrase-file", "pass", ...step.slice(1), name], { env });
    if (r.code !== 0) {
      t.deepEqual(snapshot(dir), before, `a refused ${step[0]} writes nothing`);
      return r;
    }
    if (step[0] === "sign") return r;
  }
}

const verify = async (dir, name) => {
  const r = await openssl(["verify", "-x509_strict", "-CAfile", await blobFile(dir, "ca"), await blobFile(dir, name)]);
  return r.code;
};

test("--permit-ip 127.0.0.0/8: CN 127.0.0.1 is signed (openssl verifies it); CN 10.0.0.1, ::1 refused", async (t) => {
  const dir = await ca(t, ["--permit-ip", "127.0.0.0/8"]);
  const ok = await signed(t, dir, "lo", ["--common-name", "127.0.0.1", "--ip", "127.0.0.1"]);
  t.is(ok.code, 0, ok.stderr);
  t.is(await verify(dir, "lo"), 0);
  for (const [name, cn] of [["ten", "10.0.0.1"], ["six", "::1"]]) {
    const r = await signed(t, dir, name, ["--common-name", cn, "--ip", "127.0.0.1"]);
    t.is(r.code, 1, r.stderr);
    t.regex(r.stderr, new RegExp(`^pki: common name ${cn.replace(/\./g, "\\.")} is outside the name constraints of ` +
      `the CA "[^"]+" \\(permitted IP: 127\\.0\\.0\\.0/8\\)\\n$`));
  }
});

test("--exclude-ip 10.0.0.0/8: a CN inside it is refused even with a permitted IP SAN", async (t) => {
  const dir = await ca(t, ["--exclude-ip", "10.0.0.0/8"]);
  const r = await signed(t, dir, "ten", ["--common-name", "10.1.2.3", "--ip", "127.0.0.1"]);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /^pki: common name 10\.1\.2\.3 is excluded by the name constraints of the CA "[^"]+" /);
  t.regex(r.stderr, / \(excluded: 10\.0\.0\.0\/8\)\n$/);
});

test("DNS and IP subtrees: CN 127.0.0.1, no DNS SAN, refused as openssl verify does; with one, signed", async (t) => {
  const dir = await ca(t, ["--permit-ip", "127.0.0.0/8", "--permit-domain", "example.test"]);
  const r = await signed(t, dir, "lo", ["--common-name", "127.0.0.1", "--ip", "127.0.0.1"]);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, new RegExp("^pki: common name 127\\.0\\.0\\.1 is outside [^\\n]*" +
    "\\(permitted DNS: example\\.test\\); " +
    "openssl verify judges a CN as a DNS name when there is no DNS SAN: add one\n$"));
  // openssl's own verdict on such a certificate (CA and leaf made by openssl alone): refused for the CN.
  const o = (f) => join(dir, f);
  const run = async (args) => {
    const r = await openssl(args);
    t.is(r.code, 0, r.stderr);
  };
  const key = (f) => ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", o(f)];
  await run(["req", "-x509", ...key("oca.key"), "-subj", "/CN=oCA", "-days", "2",
    "-addext", "basicConstraints=critical,CA:TRUE",
    "-addext", "nameConstraints=critical,permitted;DNS:example.test,permitted;IP:127.0.0.0/255.0.0.0",
    "-out", o("oca.crt")]);
  await run(["req", ...key("o.key"), "-subj", "/CN=127.0.0.1", "-out", o("o.csr")]);
  writeFileSync(o("o.ext"), "subjectAltName=IP:127.0.0.1\n");
  await run(["x509", "-req", "-in", o("o.csr"), "-CA", o("oca.crt"), "-CAkey", o("oca.key"), "-set_serial", "7",
    "-days", "2", "-extfile", o("o.ext"), "-out", o("o.crt")]);
  const v = await openssl(["verify", "-CAfile", o("oca.crt"), o("o.crt")]);
  t.not(v.code, 0);
  t.regex(v.out + v.stderr, /permitted subtree violation/);
  const sans = ["--ip", "127.0.0.1", "--domain", "web.example.test"];
  const good = await signed(t, dir, "web", ["--common-name", "127.0.0.1", ...sans]);
  t.is(good.code, 0, good.stderr);
  t.is(await verify(dir, "web"), 0);
});
