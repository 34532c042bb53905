// `pki issue`, `pki new-cert` and `pki sign` compile dist/bin/lazy/cli/NAME.cjs from the V8 code cache the build made
// (scripts/cached-require.js): only a cache made for exactly that source by this node is used, since V8 itself checks
// only the source's length.
import test from "ava";
import { createHash } from "node:crypto";
import { cpSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import vm from "node:vm";
import { newDepot, PASS, ROOT, run } from "./_helpers.js";

const made = (name) => `${name}.cjs's code cache is made for its source by this node, and V8 takes it`;
for (const name of ["issue", "new-cert", "sign"]) test(made(name), (t) => {
  const file = join(ROOT, "dist", "bin", "lazy", "cli", `${name}.cjs`);
  const source = readFileSync(file, "utf8");
  const cache = readFileSync(`${file}.cache`);
  const nl = cache.indexOf(10);
  const [, hash, version] = /^pki code cache ([0-9a-f]{64}) (v\S+)$/.exec(cache.subarray(0, nl).toString()) ?? [];
  t.is(hash, createHash("sha256").update(source).digest("hex"), "made for another source");
  t.is(version, process.version, "made by another node: npm test rebuilds dist/ (pretest)");
  // the wrapper __pki_require compiles: another wrapper would not match the cache either
  const wrapped = `(function (exports, require, module, __filename, __dirname) { ${source}\n})`;
  const script = new vm.Script(wrapped, { filename: file, cachedData: cache.subarray(nl + 1) });
  t.false(script.cachedDataRejected);
});

test("an edit of issue.cjs that keeps its length runs, not the code its stale cache holds", async (t) => {
  const dir = await newDepot(t);
  // a copy of dist/bin beside a link to node_modules (issue.cjs requires better-sqlite3 from there)
  cpSync(join(ROOT, "dist", "bin"), join(dir, "bin"), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  const issue = join(dir, "bin", "lazy", "cli", "issue.cjs");
  const source = readFileSync(issue, "utf8");
  t.is(source.split('Issued "').length, 2, "else the edit below judges nothing");
  writeFileSync(issue, source.replace('Issued "', 'ISSUED "'));
  const env = { ...process.env, PKI_DEPOT: join(dir, ".pki"), PKI_PASSPHRASE: PASS };
  const pki = (name) => run(process.execPath, [join(dir, "bin", "pki.js"), "issue", name, `${name}.example`],
    { cwd: dir, env });
  const edited = await pki("edited");
  t.is(edited.code, 0, edited.stderr);
  t.regex(edited.stderr, /^ISSUED "edited"/);
  // the cache tagged as if made for the edited source: V8 takes it, and the old code runs
  const cache = readFileSync(`${issue}.cache`);
  const nl = cache.indexOf(10);
  const tag = cache.subarray(0, nl).toString().split(" ");
  tag[3] = createHash("sha256").update(readFileSync(issue)).digest("hex");
  writeFileSync(`${issue}.cache`, Buffer.concat([Buffer.from(tag.join(" ")), cache.subarray(nl)]));
  const forged = await pki("forged");
  t.is(forged.code, 0, forged.stderr);
  t.regex(forged.stderr, /^Issued "forged"/, "the check of the source's hash is what made the edit run");
});
