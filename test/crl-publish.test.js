// CRL distribution points end to end (issue 27): `pki init --crl-url` / `pki crl --set-url` put the URL in what the
// CA signs from then on (not before), and `pki serve` publishes each CA's latest CRL there (on the URLs' ports, or
// --crl-listen HOST:PORT; --crl-listen none: not at all), read from depot.db at each request: openssl fetches it
// itself (-crl_download) and sees a revocation `pki revoke` + `pki crl` made in other processes while the server
// ran. Bad URLs and listen addresses are one line, exit 2; a taken port one line, exit 1.
import test from "ava";
import { createServer } from "node:net";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { curl, openssl, PASS, pki, pkiOk, snapshot, tempDir } from "./_helpers.js";
import { freePort } from "./_acme.js";
import { serve } from "./_serve.js";
import { depotFormat, layout1Depot } from "./_state.js";

const P = ["--passphrase-file", "pass"];

function passDir(t) {
  const dir = tempDir(t, "pki-cdp-");
  writeFileSync(join(dir, "pass"), PASS + "\n");
  return dir;
}

async function pem(t, dir, name) {
  const r = await pkiOk(t, dir, ["chain", name]);
  const file = join(dir, `${name}.pem`);
  writeFileSync(file, r.out.split(/(?<=-----END CERTIFICATE-----\n)/)[0]);
  return file;
}
const cdp = async (file) =>
  (await openssl(["x509", "-in", file, "-noout", "-ext", "crlDistributionPoints"])).out.match(/URI:(\S+)/)?.[1];
const verify = (dir, file, untrusted) => openssl(["verify", "-x509_strict", "-crl_check", "-crl_download",
  "-CAfile", join(dir, "ca.pem"), ...(untrusted ? ["-untrusted", untrusted] : []), file]);

test("served CRLs: openssl downloads them from the URL in the certificates and sees a later revocation", async (t) => {
  const dir = passDir(t);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  await pkiOk(t, dir, ["init", ...P]);
  await pkiOk(t, dir, ["issue", "before", "--domain", "before.test", ...P]);
  const set = await pkiOk(t, dir, ["crl", "--set-url", `${base}/crl/root.crl`]);
  t.regex(set.stderr, /^Certificates the root CA signs from now on carry the CRL URL http:\/\/127\.0\.0\.1:\d+\/crl\//);
  await pkiOk(t, dir, ["init", "--intermediate", "sub", "--crl-url", `${base}/crl/sub.crl`, ...P]);
  await pkiOk(t, dir, ["issue", "web", "--domain", "web.test", ...P]);
  await pkiOk(t, dir, ["issue", "app", "--issuer", "sub", "--domain", "app.test", ...P]);
  const ca = await pem(t, dir, "ca"), before = await pem(t, dir, "before"), web = await pem(t, dir, "web");
  const sub = await pem(t, dir, "sub"), app = await pem(t, dir, "app");
  t.is(await cdp(before), undefined, "issued before the URL was set: no CRL distribution point");
  t.is(await cdp(ca), undefined, "the root itself names none");
  t.is(await cdp(web), `${base}/crl/root.crl`);
  t.is(await cdp(sub), `${base}/crl/root.crl`, "the intermediate carries its issuer's");
  t.is(await cdp(app), `${base}/crl/sub.crl`, "its leaves carry its own");
  await pkiOk(t, dir, ["crl", ...P]);
  await pkiOk(t, dir, ["crl", "--issuer", "sub", ...P]);

  const s = serve(t, dir, ["--name", "web", "--crl-listen", `127.0.0.1:${port}`, ...P]);
  await s.ready;
  t.regex(s.stderr, /Publishing CRLs on http:\/\/127\.0\.0\.1:\d+ \(.*ca \/crl\/root\.crl/);
  let r = await verify(dir, web);
  t.is(r.code, 0, r.stdout + r.stderr);
  r = await verify(dir, app, sub);
  t.is(r.code, 0, r.out + r.stderr);

  // Revoked and re-published by other processes while the server runs: the next fetch shows it.
  await pkiOk(t, dir, ["revoke", "web"]);
  await pkiOk(t, dir, ["revoke", "app"]);
  await pkiOk(t, dir, ["crl", ...P]);
  await pkiOk(t, dir, ["crl", "--issuer", "sub", ...P]);
  r = await verify(dir, web);
  t.not(r.code, 0);
  t.regex(r.out + r.stderr, /certificate revoked/);
  r = await verify(dir, app, sub);
  t.regex(r.out + r.stderr, /certificate revoked/);

  // The bytes served: DER, application/pkix-crl, signed by the CA, listing web's serial.
  const got = await curl(["-D", "-", "-o", join(dir, "root.crl"), `${base}/crl/root.crl`]);
  t.regex(got.out, /^HTTP\/1\.1 200/);
  t.regex(got.out, /content-type: application\/pkix-crl/i);
  const crl = await openssl(["crl", "-inform", "DER", "-in", join(dir, "root.crl"), "-CAfile", ca, "-noout", "-text"]);
  t.regex(crl.stderr, /verify OK/);
  const serial = (await openssl(["x509", "-in", web, "-noout", "-serial"])).out.trim().split("=")[1];
  t.regex(crl.out, new RegExp(`Serial Number: 0*${serial.replace(/^0+/, "")}`, "i"));
  // a path no CA publishes at is a problem document, and the server goes on serving
  const miss = await curl(["-s", "-w", "\\n%{http_code}", `${base}/crl/nope.crl`]);
  t.regex(miss.out, /"status":404[^]*\n404$/);
  const post = await curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", `${base}/crl/root.crl`]);
  t.is(post.out, "405");
  t.is((await curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", `${base}/crl/sub.crl`])).out, "200");
});

test("bad CRL URLs and listen addresses: one line, exit 2, nothing made or changed", async (t) => {
  const dir = passDir(t);
  for (const [url, re] of [["ftp://ca.test/ca.crl", /must be an http:\/\/ URL/], ["https://ca.test/x", /http:\/\//],
    ["not a url", /printable ASCII/], ["http://u:p@ca.test/x", /user name or password/]]) {
    const r = await pki(dir, ["init", "--crl-url", url, ...P]);
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, /^pki: --crl-url /);
    t.regex(r.stderr, re);
    t.is(r.stderr.split("\n").length, 2, "one line");
  }
  t.deepEqual(Object.keys(snapshot(dir)), ["pass"], "no depot made");
  await pkiOk(t, dir, ["init", "--crl-url", "http://127.0.0.1:9/ca.crl", ...P]);
  const before = snapshot(dir);
  const bad = await pki(dir, ["crl", "--set-url", "file:///etc/passwd"]);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /^pki: --set-url must be an http:\/\/ URL/);
  const listen = await pki(dir, ["serve", "--name", "ca", "--crl-listen", "nowhere", ...P]);
  t.is(listen.code, 2);
  t.regex(listen.stderr, /^pki: invalid --crl-listen "nowhere": expected HOST:PORT\n$/);
  t.deepEqual(snapshot(dir), before, "the depot unchanged");
});

test("a layout-1 depot gets a CRL URL: pki crl --set-url upgrades it to depot.db first", async (t) => {
  const dir = layout1Depot(t);
  t.is(depotFormat(dir), "layout1");
  const r = await pkiOk(t, dir, ["crl", "--set-url", "http://ca.test/a.crl"]);
  t.regex(r.stderr, /carry the CRL URL http:\/\/ca\.test\/a\.crl \(was: none\)\n$/);
  t.is(depotFormat(dir), "db");
  const sub = await pkiOk(t, dir, ["init", "--intermediate", "sub", "--crl-url", "http://ca.test/s.crl", ...P]);
  t.regex(sub.stderr, /sub/);
  t.regex((await openssl(["x509", "-noout", "-ext", "crlDistributionPoints", "-in", await pem(t, dir, "sub")])).out,
    /URI:http:\/\/ca\.test\/a\.crl/, "the root's URL in what it signs from then on");
});

/** A depot whose root publishes at http://HOST:PORT/crl/root.crl, with "web" issued under it. */
async function published(t, host = "127.0.0.1") {
  const dir = passDir(t);
  const port = await freePort();
  const url = `http://${host}:${port}/crl/root.crl`;
  await pkiOk(t, dir, ["init", "--crl-url", url, ...P]);
  await pkiOk(t, dir, ["issue", "web", "--domain", "web.test", ...P]);
  await pkiOk(t, dir, ["crl", ...P]);
  return { dir, port, url };
}

test("without --crl-listen, pki serve listens on the port of each CA's URL, the intermediate's too", async (t) => {
  const { dir, port } = await published(t);
  const subPort = await freePort();
  // a host name, not an address: that port is bound on every interface
  await pkiOk(t, dir, ["init", "--intermediate", "sub", "--crl-url", `http://localhost:${subPort}/crl/sub.crl`, ...P]);
  await pkiOk(t, dir, ["issue", "app", "--issuer", "sub", "--domain", "app.test", ...P]);
  await pkiOk(t, dir, ["crl", "--issuer", "sub", ...P]);
  const web = await pem(t, dir, "web"), sub = await pem(t, dir, "sub"), app = await pem(t, dir, "app");
  await pem(t, dir, "ca");
  const s = serve(t, dir, ["--name", "web", ...P]);
  await s.ready;
  t.regex(s.stderr, new RegExp(`Publishing CRLs on http://127\\.0\\.0\\.1:${port}, ` +
    `http://(\\[::\\]|0\\.0\\.0\\.0):${subPort} \\(`));
  let r = await verify(dir, web);
  t.is(r.code, 0, r.out + r.stderr);
  r = await verify(dir, app, sub);
  t.is(r.code, 0, r.out + r.stderr);
  await pkiOk(t, dir, ["revoke", "app"]);
  await pkiOk(t, dir, ["crl", "--issuer", "sub", ...P]);
  r = await verify(dir, app, sub);
  t.not(r.code, 0);
  t.regex(r.out + r.stderr, /certificate revoked/);
  // every listener serves every CA's CRL at its path
  t.is((await curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", `http://127.0.0.1:${subPort}/crl/root.crl`])).out,
    "200");
});

test("--crl-listen none: the server starts and nothing listens on the CRL URL's port", async (t) => {
  const { dir, url } = await published(t);
  const s = serve(t, dir, ["--name", "web", "--crl-listen", "none", ...P]);
  await s.ready;
  t.notRegex(s.stderr, /Publishing CRLs/);
  const r = await curl(["-s", "-o", "/dev/null", url]);
  t.is(r.code, 7, "curl: connection refused");
});

test("a CRL URL's port that is taken, or is the server's own: one line, exit 1, nothing served", async (t) => {
  const { dir, port, url } = await published(t);
  const u = url.replace(/\./g, "\\.");
  const before = snapshot(dir);
  // each would be a server that started (and is stopped by the timeout) on a build that did not listen there
  const own = await pki(dir, ["serve", "--name", "web", "--port", String(port), ...P], { timeout: 60_000 });
  t.is(own.code, 1, own.stderr);
  t.regex(own.stderr, new RegExp(`^pki: the CRL URL ${u} names port ${port}, ` +
    "the server's own \\(--port\\)[^\\n]*--crl-listen none[^\\n]*\\n$"));
  const holder = createServer().listen(port, "127.0.0.1");
  await new Promise((r) => holder.once("listening", r));
  t.teardown(() => holder.close());
  const taken = await pki(dir, ["serve", "--name", "web", "--port", "0", ...P], { timeout: 60_000 });
  t.is(taken.code, 1, taken.stderr);
  t.regex(taken.stderr, new RegExp(`^pki: cannot publish the CRLs of ${u} on 127\\.0\\.0\\.1, ` +
    `port ${port}: the port is in use: publish them elsewhere with --crl-listen HOST:PORT, ` +
    "or not at all with --crl-listen none\\n$"));
  t.deepEqual(snapshot(dir), before);
});
