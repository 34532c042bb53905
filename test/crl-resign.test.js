// `pki acme serve --crl-listen` re-signs CRLs itself (issue 27): it holds the CA key, so a CA's CRL that is missing
// or past half its validity is re-signed (a new CRL number, --crl-next-update's validity) at start, every so often,
// and when a fetch finds it stale. Judged by what a client fetches: openssl crl -CAfile verifies it and shows the
// number and Next Update.
import test from "ava";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { curl, openssl, pkiOk } from "./_helpers.js";
import { depotCert, depotOf, freePort, logged, newDepot, startAcme } from "./_acme.js";

const P = ["--passphrase-file", "pass"];

/** The CRL served at `url`, checked by openssl against the CA: its number and next update. */
async function served(t, dir, url) {
  const file = join(dir, `fetched-${Date.now()}.crl`);
  const got = await curl(["-f", "-o", file, url]);
  t.is(got.code, 0, got.stderr);
  const r = await openssl(["crl", "-inform", "DER", "-in", file, "-CAfile", await depotCert(dir), "-noout", "-text"]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr + r.out, /verify OK/);
  return {
    number: Number(/CRL Number: *\n\s*(\d+)/.exec(r.out)[1]),
    nextUpdate: new Date(/Next Update: (.+)\n/.exec(r.out)[1]),
  };
}

async function setup(t) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/crl/root.crl`;
  const dir = await newDepot(t, ["--crl-url", url]);
  return { dir, url, listen: ["--crl-listen", `127.0.0.1:${port}`] };
}

test("a short-lived CRL is replaced by a newer number while acme serve runs, without any fetch", async (t) => {
  t.timeout(90_000);
  const { dir, url, listen } = await setup(t);
  const env = { env: { PKI_DEPOT: depotOf(dir) } };
  await pkiOk(t, dir, ["crl", "--next-update", "6s", ...P], env); // #1: stale 3 s from now
  // the server's own CRLs last 8 s: re-signed once 4 s old, the CAs looked over every 2 s
  const s = await startAcme(t, dir, [...listen, "--crl-next-update", "8s"]);
  await logged(s, /Re-signed the CRL of "ca": #2, next update/);
  const first = await served(t, dir, url);
  t.true(first.number >= 2, `CRL number ${first.number}`);
  t.true(first.nextUpdate > new Date(), `next update ${first.nextUpdate.toISOString()}`);
  await logged(s, new RegExp(`Re-signed the CRL of "ca": #${first.number + 1},`));
  const later = await served(t, dir, url);
  t.true(later.number > first.number, `${later.number} after ${first.number}`);
  t.true(later.nextUpdate > new Date());
});

test("acme serve signs a missing CRL at start and re-signs a stale one when it is fetched", async (t) => {
  t.timeout(90_000);
  const { dir, url, listen } = await setup(t);
  const env = { env: { PKI_DEPOT: depotOf(dir) } };
  const s = await startAcme(t, dir, [...listen, "--crl-next-update", "2h"]);
  t.regex(s.log(), /Re-signed the CRL of "ca": #1, next update/);
  t.is((await served(t, dir, url)).number, 1);
  await pkiOk(t, dir, ["crl", "--next-update", "2s", ...P], env); // #2, from another process
  await new Promise((r) => setTimeout(r, 2500)); // past its nextUpdate; the server's next round is an hour away
  const c = await served(t, dir, url);
  t.is(c.number, 3, "the fetch found #2 stale and got a new one");
  t.true(c.nextUpdate.getTime() > Date.now() + 3600_000, c.nextUpdate.toISOString());
  t.regex(s.log(), /Re-signed the CRL of "ca": #3,/);
});

test("acme serve --crl-next-update: a bad duration is one line, exit 1, before the server starts", async (t) => {
  const { dir, listen } = await setup(t);
  const r = await startAcme(t, dir, [...listen, "--crl-next-update", "soon"]).then(() => null, (e) => e);
  t.truthy(r);
  t.regex(r.message, /exited \(1\): pki: [^\n]*soon[^\n]*\n$/);
});
