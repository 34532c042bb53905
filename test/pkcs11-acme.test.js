// pki acme serve on a CA whose key is in a PKCS#11 token (issue 25), on a real SoftHSM2 token: the server opens the
// token's session once at start and lego obtains a certificate that openssl verifies under the token CA.
import test from "ava";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkIssued, freePort, logged, startAcme } from "./_acme.js";
import { PASS, pki, run, tempDir } from "./_helpers.js";
import { softhsm } from "./_softhsm.js";

test("lego gets a certificate from pki acme serve whose CA key is in a token", async (t) => {
  t.timeout(240_000);
  const hsm = await softhsm(t);
  const dir = tempDir(t);
  writeFileSync(join(dir, "pass"), `${PASS}\n`);
  const pinFile = join(hsm.dir, "pin");
  writeFileSync(pinFile, `${hsm.pin}\n`);
  const init = await pki(dir, ["init", "--passphrase-file", "pass", "--ca-key",
    hsm.uri("object=acme-ca", `&pin-source=file:${pinFile}`)], { env: hsm.env });
  t.is(init.code, 0, init.stderr);
  const http = await freePort();
  const s = await startAcme(t, dir, ["--allow", "*.lego.test", "--http-01-port", String(http), "--resolve",
    "web.lego.test=127.0.0.1"], undefined, { SOFTHSM2_CONF: hsm.env.SOFTHSM2_CONF });
  const ca = join(dir, "ca.pem");
  const got = await run(process.execPath, [join(import.meta.dirname, "_depot-child.mjs"), join(dir, ".pki"), PASS,
    JSON.stringify([["get", "ca"]])], { env: hsm.env });
  writeFileSync(ca, JSON.parse(got.out).results[0].certificate);
  const r = await run("lego", ["--accept-tos", "--email", "ops@lego.test", "--server", s.url, "--path",
    join(dir, "lego"), "--http", "--http.port", `127.0.0.1:${http}`, "-d", "web.lego.test", "run"],
  { env: { ...process.env, LEGO_CA_CERTIFICATES: ca }, timeout: 120_000 });
  t.is(r.code, 0, `lego: ${r.stderr}\n--- server log ---\n${s.log()}`);
  await logged(s, /validation http-01 web\.lego\.test: valid/);
  const certs = join(dir, "lego", "certificates");
  await checkIssued(t, dir, join(certs, "web.lego.test.crt"), ["web.lego.test"]);
});
