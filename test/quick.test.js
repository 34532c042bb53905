// The quick path (cli/quick.ts) hands a command's handler the very arguments yargs would for the same words,
// or declines (undefined) and leaves the words to yargs. Each accepted line below is parsed both ways.
import test from "ava";
import yargs from "yargs";
import { COMMANDS, nameOf } from "../dist/cli/commands.js";
import { prepareArgs } from "../dist/cli/argv.js";
import { quickArgv } from "../dist/cli/quick.js";

const MODULES = {
  issue: "../dist/cli/issue.js", "new-cert": "../dist/cli/new-cert.js", sign: "../dist/cli/sign.js",
  export: "../dist/cli/export.js", renew: "../dist/cli/renew.js", revoke: "../dist/cli/revoke.js",
  crl: "../dist/cli/crl.js", fixtures: "../dist/cli/fixtures.js",
};

/** What the handler receives through yargs, as main.ts builds it. */
function viaYargs(words) {
  const prepared = prepareArgs(words);
  let got;
  const m = COMMANDS.find((c) => nameOf(c) === words[0]);
  yargs(prepared.args)
    .command({ ...m, handler: (a) => { got = a; } })
    .strict().version("0").alias("v", "version").help().alias("h", "help")
    .fail((msg, err) => { throw err ?? new Error(msg); })
    .parse();
  return got;
}

const ACCEPTED = [
  ["issue", "web"],
  ["issue", "--passphrase-file", "pass", "web", "localhost", "127.0.0.1", "::1", "spiffe://x/y", "a@b.example"],
  ["issue", "web", "--key-type", "rsa", "--key-bits", "3072", "--server", "--expires", "90d", "--depot", "d"],
  ["issue", "--key-type=ed25519", "--no-server", "web", "--ip", "10.0.0.1,10.0.0.2", "--domain=a.example"],
  ["issue", "web", "--export", "--insecure", "--key-format", "pkcs1", "--common-name", "Web Server", "--as-owner"],
  ["issue", "123", "456"],
  ["issue", "web", "--curve", "P-384", "--organization", "Ünïcode, Inc.", "--country", "DE", "--issuer", "issuing"],
  ["issue", "web", "--not-before=-2d", "--eku", "serverAuth,codeSigning", "--uri", "urn:x", "--email", "a@b"],
  ["issue", "web", "--export", "--p12", "--p12-password-file", "pw", "--p12-legacy", "--bundle", "--crl"],
  ["issue", "web", "--export", "--jks", "--jks-password-file", "pw", "--alias", "Web", "--keystore-type", "jks"],
  ["new-cert", "web"],
  ["new-cert", "--passphrase", "secret", "web", "--ip", "127.0.0.1", "--ca", "--path-length", "0"],
  ["new-cert", "web", "--csr", "web.csr", "--client"],
  ["sign", "web"],
  ["sign", "--passphrase-file", "pass", "web", "--expires", "2 years", "--intermediate", "--issuer", "ca"],
  ["sign", "web", "--csr", "x.csr", "--domain", "a.example", "--peer"],
  ["export", "web"],
  ["export", "--insecure", "--passphrase-file", "pass", "web"],
  ["export", "web", "--p12", "--jks", "--keystore-type", "pkcs12", "--no-crl"],
  ["renew", "web", "--rekey", "--expires", "30d"],
  ["revoke", "web", "--reason", "keyCompromise"],
  ["crl", "--passphrase-file", "pass"],
  ["fixtures", "spec.yaml", "--out", "dir", "--passphrase-file", "p"],
  ["fixtures", "spec.json"],
];

const DECLINED = [
  ["issue", "web", "--help"], ["issue", "-h"], ["issue", "web", "-x"], ["issue"], ["sign", "a", "b"],
  ["issue", "web", "--ip", "1.1.1.1", "--ip", "2.2.2.2"], ["issue", "web", "--key-type", "dsa"],
  ["issue", "web", "--bogus"], ["issue", "web", "--export=true"], ["issue", "web", "--", "x"],
  ["issue", "web", "--not-before", "-2d"], ["issue", "web", "--key-bits", "1024"], ["issue", "web", "--issuer"],
  ["issue", "web", "--keyType", "rsa"], ["sign", "web", "--no-issuer"], ["export", "--depot"],
];

for (const words of ACCEPTED) {
  test(`quick = yargs: pki ${words.join(" ")}`, async (t) => {
    const m = await import(MODULES[words[0]]);
    const quick = quickArgv(m, words[0], words.slice(1));
    t.truthy(quick, "the quick path takes it");
    const y = viaYargs(words);
    t.truthy(y, "yargs takes it");
    for (const a of [quick, y]) delete a.$0;
    t.deepEqual(quick, y);
  });
}

test("the quick path declines what only yargs can word or parse", async (t) => {
  for (const words of DECLINED) {
    const m = await import(MODULES[words[0]]);
    t.is(quickArgv(m, words[0], words.slice(1)), undefined, words.join(" "));
  }
});
