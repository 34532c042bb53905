// The CLI suite's main flows on postgresql:// depots, from the same test code as on a directory: the seed flow
// (seed-flow.test.js), the CA life cycle (lifecycle.test.js) and the export formats (export-formats.test.js), each
// depot in a database of its own on one throwaway cluster for the three (test/_postgres.js: initdb costs seconds).
// Their assertions about a directory's files are kept directory-only there; the rest reads through pki or the
// record store. ACME with certbot and lego: acme-clients-pg.test.js.
import test from "ava";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { depotOf, newDepot, pkiOk } from "./_helpers.js";
import { postgresDepots, useCluster } from "./_postgres.js";
// Static imports: ava takes test declarations in one synchronous run, so the suites load with this file.
import "./seed-flow.test.js";
import "./lifecycle.test.js";
import "./export-formats.test.js";

// The cheap test-only KDF for every depot of this file (lifecycle's cheapDepot sets it for the worker anyway):
// deterministic for seed-flow's iteration check, and 600,000 PBKDF2 rounds a command would only cost time here.
process.env.PKI_TEST_ONLY_KDF_ITERATIONS = "1000";
const pg = useCluster(test);
postgresDepots(pg);

test("the suites' depots here are in PostgreSQL: newDepot inits a database, nothing in DIR/.pki", async (t) => {
  const dir = await newDepot(t);
  t.regex(depotOf(dir), /^postgresql:\/\/pki:[^@]+@127\.0\.0\.1:\d+\/t\d+_\d+$/);
  t.false(existsSync(join(dir, ".pki")));
  const db = /\/(t\d+_\d+)$/.exec(depotOf(dir))[1];
  t.is(await pg.psql("SELECT count(*) FROM entries", db), "1", "the CA's entry");
  t.deepEqual(JSON.parse((await pkiOk(t, dir, ["list", "--json"])).out).map((e) => e.name), ["ca"]);
});
