// The life-cycle commands on a PostgreSQL depot (--depot postgresql://...): init → issue → revoke → crl → list,
// status, renew, rm and doctor against a throwaway cluster; openssl verifies the CRL and finds the
// serial; the password in the URL is never printed, whatever a command says; backup says how PostgreSQL does it.
import test from "ava";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { PASS, openssl, pki, tempDir, untar } from "./_helpers.js";
import "./_depot.js"; // the test-only cheap KDF
import { ROLE_PASS, useCluster } from "./_postgres.js";

const pg = useCluster(test);
const P = ["--passphrase-file", "pass"];

test("init → issue → revoke → crl → list on a PostgreSQL depot, the password never printed", async (t) => {
  const dir = tempDir(t, "pki-life-pg-");
  writeFileSync(join(dir, "pass"), PASS + "\n");
  const url = pg.url(await pg.db(), { query: "?schema=life" });
  const outputs = [];
  const run = async (args, code = 0) => {
    const r = await pki(dir, ["--depot", url, ...args]);
    outputs.push(r.stderr, r.out);
    t.is(r.code, code, `${args.join(" ")}: ${r.stderr}`);
    return r;
  };
  await run(["init", ...P]);
  await run(["issue", ...P, "web", "web.example"]);
  await run(["issue", ...P, "api", "api.example", "--expires", "20d"]);
  await untar(t, dir, (await run(["export"])).stdout);
  const serial = JSON.parse((await run(["status", "web", "--json"])).out).serial;
  const rv = await run(["revoke", "--reason", "keyCompromise", "web"]);
  t.is(rv.stderr, `Revoked "web" (serial ${serial}, reason keyCompromise); publish it: pki crl\n`);
  const crl = await run(["crl", ...P]);
  const at = /postgresql:\/\/pki@127\.0\.0\.1:\d+\/\w+\?schema=life/.source;
  t.regex(crl.stderr, new RegExp(`^CRL #1 of "ca": 1 revoked, next update \\S+; recorded in ${at}\\n$`));
  writeFileSync(join(dir, "ca.crl"), crl.out);
  const text = await openssl(["crl", "-in", "ca.crl", "-CAfile", "ca.crt", "-noout", "-text"], { cwd: dir });
  t.regex(text.stderr + text.out, /verify OK/);
  t.regex(text.out, new RegExp(`Serial Number: ${serial.toUpperCase()}\\n[\\s\\S]*Key Compromise`));

  const list = JSON.parse((await run(["list", "--json"])).out);
  t.deepEqual(list.map((e) => [e.name, e.status]), [["ca", "valid"], ["api", "valid"], ["web", "revoked"]]);
  const names = async (...a) => JSON.parse((await run(["list", "--json", ...a])).out).map((e) => e.name);
  t.deepEqual(await names("--status", "revoked"), ["web"]);
  t.deepEqual(await names("--expiring", "30d"), ["api"]);
  t.regex((await run(["status"], 1)).out, /^api\s+leaf\s+ca\s+\S+\s+WARN \(20 days\)$/m);

  await run(["renew", ...P, "api"]);
  t.is(JSON.parse((await run(["status", "api", "--json"])).out).history.length, 1);
  await run(["rm", "web"]);
  t.regex((await run(["doctor", ...P])).stderr,
    /^Depot postgresql:\/\/pki@\S+ is consistent: 2 entries, 2 certificates verified, 2 keys compared\n$/);
  const backup = await run(["backup", join(dir, "pg.db")], 1);
  t.regex(backup.stderr, /^pki: a PostgreSQL depot is backed up with PostgreSQL's own tools \(pg_dump -n life\)\n$/);
  const gone = await run(["revoke", "web"], 1);
  t.is(gone.stderr, `pki: unknown name "web": see 'pki list'\n`);
  t.false(outputs.some((o) => o.includes(ROLE_PASS)), "the password is never printed");
});
