// `pki depot copy --from SRC --to DST` (issue 24): a depot.db depot with an intermediate, a renewal, a revoked and
// removed leaf, a CRL, CRL URLs and an EAB key is copied to a throwaway PostgreSQL schema and from there to a new
// directory; the copy passes doctor, lists as the source does, carries the same serials (read with python's
// sqlite3), CRL number, latest CRL and CRL URLs, and keeps issuing certificates openssl verifies. A DST that holds a
// depot and a SRC that is none are refused in one line with nothing written.
import test from "ava";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PASS, openssl, pki, run, snapshot, tempDir, untar } from "./_helpers.js";
import "./_depot.js"; // the test-only cheap KDF
import { ROLE_PASS, useCluster } from "./_postgres.js";
import { layout1Depot } from "./_state.js";

const pg = useCluster(test);
const P = ["--passphrase-file", "pass"];

async function ok(t, dir, args) {
  const r = await pki(dir, args);
  t.is(r.code, 0, `pki ${args.join(" ")}: ${r.stderr}`);
  return r;
}

/** The serials table and serial floor of DIR/depot.db, as sqlite3 (not pki) reads them. */
async function serials(t, db) {
  const code = "import sqlite3,sys,json; c=sqlite3.connect(sys.argv[1]); print(json.dumps(" +
    "[[r[0] for r in c.execute('SELECT serial FROM serials ORDER BY serial')]," +
    " c.execute('SELECT serial_floor FROM depot').fetchone()[0], [r[0] for r in c.execute('SELECT kid FROM eab')]]))";
  const r = await run("python3", ["-c", code, db]);
  t.is(r.code, 0, r.stderr);
  return JSON.parse(r.out);
}

async function source(t) {
  const dir = tempDir(t, "pki-copy-");
  writeFileSync(join(dir, "pass"), PASS + "\n");
  await ok(t, dir, ["init", ...P, "--crl-url", "http://ca.test/root.crl"]);
  await ok(t, dir, ["init", ...P, "--intermediate", "inter", "--crl-url", "http://ca.test/inter.crl"]);
  await ok(t, dir, ["issue", ...P, "--issuer", "inter", "web", "web.test"]);
  await ok(t, dir, ["issue", ...P, "api", "api.test"]);
  await ok(t, dir, ["renew", ...P, "web"]);
  await ok(t, dir, ["revoke", "--reason", "keyCompromise", "api"]);
  await ok(t, dir, ["crl", ...P]);
  await ok(t, dir, ["rm", "--yes", "api"]);
  await ok(t, dir, ["acme", "eab", "add", "runners"]);
  return dir;
}

test("dir → postgresql:// → dir: everything survives, the copy keeps working", async (t) => {
  const dir = await source(t);
  const src = join(dir, ".pki");
  const url = pg.url(await pg.db(), { query: "?schema=moved" });
  const outputs = [];
  const copy = async (from, to) => {
    const r = await ok(t, dir, ["depot", "copy", ...(from ? ["--from", from] : []), "--to", to]);
    outputs.push(r.stderr, r.out);
    return r.stderr;
  };
  const at = /postgresql:\/\/pki@127\.0\.0\.1:\d+\/\w+\?schema=moved/.source;
  const [want, floor, eab] = await serials(t, join(src, "depot.db"));
  t.is(eab.length, 1);
  // SRC defaults to the depot (here PKI_DEPOT)
  t.regex(await copy(undefined, url), new RegExp(`^Copied 3 entries, ${want.length} serials from ${src} to ${at}\\n$`));
  const final = join(dir, "final");
  t.regex(await copy(url, final), new RegExp(`^Copied 3 entries, ${want.length} serials from ${at} to ${final}\\n$`));
  t.false(outputs.some((o) => o.includes(ROLE_PASS)), "the password is never printed");
  t.deepEqual(await serials(t, join(final, "depot.db")), [want, floor, eab]);

  const F = ["--depot", final];
  t.regex((await ok(t, dir, [...F, "doctor", ...P])).stderr, /^Depot \S+ is consistent: 3 entries, /);
  t.is((await ok(t, dir, [...F, "list", "--json"])).out, (await ok(t, dir, ["list", "--json"])).out);
  t.is((await ok(t, dir, [...F, "status", "web", "--json"])).out, (await ok(t, dir, ["status", "web", "--json"])).out);

  // the latest CRL as it was, and its number: the next is #2 and still lists the removed, revoked api
  for (const [d, depot] of [["a", []], ["b", F]]) {
    const sub = join(dir, d);
    mkdirSync(sub);
    await untar(t, sub, (await ok(t, dir, [...depot, "export", "--crl"])).stdout);
  }
  t.true(readFileSync(join(dir, "a", "ca.crl")).equals(readFileSync(join(dir, "b", "ca.crl"))));
  t.regex((await ok(t, dir, [...F, "crl", ...P])).stderr, /^CRL #2 of "ca": 1 revoked, /);

  // it keeps issuing: under the intermediate, with its CRL URL, verified by openssl against pki chain
  await ok(t, dir, [...F, "issue", ...P, "--issuer", "inter", "new", "new.test"]);
  await untar(t, dir, (await ok(t, dir, [...F, "export", "new"])).stdout);
  writeFileSync(join(dir, "chain.pem"), (await ok(t, dir, [...F, "chain", "new"])).out);
  const v = await openssl(["verify", "-x509_strict", "-CAfile", "chain.pem", "new.crt"], { cwd: dir });
  t.is(v.code, 0, v.stderr + v.out);
  const text = await openssl(["x509", "-in", "new.crt", "-noout", "-text"], { cwd: dir });
  t.regex(text.out, /URI:http:\/\/ca\.test\/inter\.crl/);
});

test("refused in one line, nothing written: DST a depot (dir or URL), SRC not a depot, no --to", async (t) => {
  const dir = await source(t);
  const src = join(dir, ".pki");
  const url = pg.url(await pg.db(), { query: "?schema=taken" });
  await ok(t, dir, ["depot", "copy", "--from", src, "--to", url]);
  const other = tempDir(t, "pki-copy-other-");
  writeFileSync(join(other, "pass"), PASS + "\n");
  await ok(t, other, ["init", ...P]);
  const before = [snapshot(src), snapshot(join(other, ".pki"))];
  const listed = (await ok(t, dir, ["--depot", url, "list", "--json"])).out;

  const one = async (args, code, re) => {
    const r = await pki(dir, ["depot", "copy", ...args]);
    t.is(r.code, code, r.stderr);
    t.regex(r.stderr, re);
    t.is(r.stderr.split("\n").length, 2, r.stderr);
    t.false(r.stderr.includes(ROLE_PASS));
  };
  await one(["--from", src, "--to", join(other, ".pki")], 1, /^pki: a depot already exists in \S+/);
  await one(["--from", join(other, ".pki"), "--to", url], 1, /^pki: a depot already exists at postgresql:\/\/pki@/);
  const empty = tempDir(t, "pki-copy-empty-");
  const dst = join(empty, "dst");
  await one(["--from", empty, "--to", dst], 1, /^pki: /);
  t.false(existsSync(dst));
  await one(["--from", src], 2, /^pki: /);
  t.deepEqual([snapshot(src), snapshot(join(other, ".pki"))], before);
  t.is((await ok(t, dir, ["--depot", url, "list", "--json"])).out, listed);
});

test("a layout-1 SRC is copied through its snapshot and stays exactly as it was", async (t) => {
  const dir = layout1Depot(t);
  const src = join(dir, ".pki");
  const before = snapshot(src);
  const dst = join(dir, "new");
  const r = await ok(t, dir, ["depot", "copy", "--from", src, "--to", dst]);
  t.regex(r.stderr, new RegExp(`^Copied 9 entries, \\d+ serials from ${src} to ${dst}\\n$`));
  t.deepEqual(snapshot(src), before);
  t.is((await ok(t, dir, ["--depot", dst, "list", "--json"])).out, (await ok(t, dir, ["list", "--json"])).out);
  t.regex((await ok(t, dir, ["--depot", dst, "doctor", ...P])).stderr, /is consistent: 9 entries, /);
});
