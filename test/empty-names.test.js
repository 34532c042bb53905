// An empty name is not "no name": an empty SAN value is a usage error naming the option, and a leaf with no SAN at
// all is made only when asked for with --no-san.
import test from "ava";
import { join } from "node:path";
import { newDepot, openssl, pki, pkiOk, snapshot } from "./_helpers.js";
import { blobFile } from "./_depot-read.js";

const P = ["--passphrase-file", "pass"];
const EMPTY = (what) => new RegExp(`^pki: empty ${what}: give it a value \\(an unset shell variable\\?\\), or leave it out\\n$`);

/** A CSR made by openssl req with its own key, with the SANs given (none: no extension). */
async function csr(t, dir, name, san) {
  const r = await openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", join(dir, `${name}.key`), "-out", join(dir, `${name}.csr`), "-subj", `/CN=${name}`,
    ...(san ? ["-addext", `subjectAltName=${san}`] : [])]);
  t.is(r.code, 0, r.stderr);
  return `${name}.csr`;
}

async function refused(t, dir, args, re) {
  const before = snapshot(join(dir, ".pki"));
  const r = await pki(dir, args);
  t.is(r.code, 2, `pki ${args.join(" ")}: ${r.stderr}`);
  t.regex(r.stderr, re, `pki ${args.join(" ")}`);
  t.deepEqual(snapshot(join(dir, ".pki")), before, `pki ${args.join(" ")}: the depot is unchanged`);
}

test("an empty --ip/--domain/--uri/--email (quoted, bare, in a list) or HOST is a usage error on every command", async (t) => {
  const dir = await newDepot(t);
  const own = await csr(t, dir, "own", "DNS:own.example");
  const cases = [
    [["new-cert", ...P, "--ip", "", "web"], EMPTY("--ip")],
    [["new-cert", ...P, "web", "--ip"], EMPTY("--ip")],
    [["new-cert", ...P, "--ip=", "web"], EMPTY("--ip")],
    [["new-cert", ...P, "--domain", "", "web"], EMPTY("--domain")],
    [["new-cert", ...P, "--domain", "a.example,", "web"], EMPTY("--domain")],
    [["new-cert", ...P, "--domain", " ", "web"], EMPTY("--domain")],
    [["new-cert", ...P, "--uri", "", "web"], EMPTY("--uri")],
    [["new-cert", ...P, "--email", "", "web"], EMPTY("--email")],
    [["new-cert", ...P, "--ip", "--domain", "a.example", "web"], EMPTY("--ip")],
    [["issue", ...P, "web", ""], EMPTY("HOST")],
    [["issue", ...P, "web", "a.example", " "], EMPTY("HOST")],
    [["issue", ...P, "web", "a.example,"], EMPTY("HOST")],
    [["issue", ...P, "--ip", "", "web"], EMPTY("--ip")],
    [["issue", ...P, "web", "--email"], EMPTY("--email")],
    [["new-cert", ...P, "--csr", own, "--domain", "", "web"], EMPTY("--domain")],
    [["sign", ...P, "--csr", own, "--domain", "", "web"], EMPTY("--domain")],
    [["sign", ...P, "--csr", own, "web", "--uri"], EMPTY("--uri")],
  ];
  for (const [args, re] of cases) await refused(t, dir, args, re);
});

test("a leaf with no SAN at all is refused unless --no-san asks for it", async (t) => {
  const dir = await newDepot(t);
  const bare = await csr(t, dir, "bare");
  const noSan = /^pki: the request for "bare" names no SAN: add --domain, --ip, --uri or --email, or --no-san for a certificate without one\n$/;
  await refused(t, dir, ["sign", ...P, "--csr", bare, "bare"], noSan);
  await refused(t, dir, ["new-cert", ...P, "--csr", bare, "bare"], noSan);
  await refused(t, dir, ["new-cert", ...P, "--no-san", "--ip", "10.0.0.1", "web"], /^pki: --no-san conflicts with --ip\/--domain\/--uri\/--email\n$/);
  await refused(t, dir, ["issue", ...P, "--no-san", "web", "a.example"], /^pki: --no-san conflicts with/);

  // Asked for: the certificate carries no subjectAltName extension, and openssl verifies it.
  const signed = await pkiOk(t, dir, ["sign", ...P, "--csr", bare, "--client", "--no-san", "bare"]);
  t.regex(signed.stderr, /SANs: none/);
  const made = await pkiOk(t, dir, ["issue", ...P, "--client", "--no-san", "alice"]);
  t.regex(made.stderr, /^Issued "alice" \(SANs: none\)/);
  for (const n of ["bare", "alice"]) {
    const crt = await blobFile(join(dir, ".pki"), n, join(dir, `${n}.crt`));
    const text = await openssl(["x509", "-in", crt, "-noout", "-text"]);
    t.false(text.out.includes("Subject Alternative Name"), n);
    const v = await openssl(["verify", "-x509_strict", "-CAfile", await blobFile(join(dir, ".pki"), "ca", join(dir, "ca.crt")), crt]);
    t.is(v.code, 0, v.out + v.stderr);
  }
  // Without SAN options new-cert and issue still default to IP 127.0.0.1, as etcd-ca does.
  const dflt = await pkiOk(t, dir, ["issue", ...P, "web"]);
  t.regex(dflt.stderr, /^Issued "web" \(SANs: IP:127\.0\.0\.1\)/);
});

test("'-' (stdin) is a value, not an empty one: pki chain | pki inspect -, a spec on stdin", async (t) => {
  const dir = await newDepot(t);
  const chain = await pkiOk(t, dir, ["chain"]);
  const r = await pkiOk(t, dir, ["inspect", "-"], { input: chain.stdout });
  t.regex(r.out, /^Certificate\n/);
  const spec = await pkiOk(t, dir, ["fixtures", "--out", "o", "-"], { input: "passphrase: x\ncas: [{name: r}]\n" });
  t.regex(spec.out, /^NAME\s+KIND/);
});
