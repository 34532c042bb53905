// Inlined at the top of dist/bin/pki.js by build-bundle.mjs (pki.js's CommonJS scope: require, module, __dirname).
// __pki_require(REL) requires dist/bin/REL, one of the one-file commands, compiled from its V8 code cache REL.cache
// when the cache was made from exactly this source (its SHA-256) by this node; anything else compiles the source as
// require would (V8 itself checks only the source's length: an edit of the same length would run the old code).
// The cache is made after a run of the command (the build runs it once, PKI_WRITE_CODE_CACHE=1), so it holds the
// functions the run compiled too: `pki issue` spends ~13 ms less of its main thread (of ~45 beyond node's start),
// work that competes with its KDF for the cores, and ~2 ms less after the KDF; `pki sign` ~50 ms less.
function __pki_require(rel) {
  const fs = require("node:fs"), path = require("node:path"), vm = require("node:vm");
  const file = path.join(__dirname, rel), Module = module.constructor;
  if (Module._cache[file]) return Module._cache[file].exports;
  const source = fs.readFileSync(file, "utf8");
  const hash = require("node:crypto").createHash("sha256").update(source).digest("hex");
  const tag = Buffer.from(`pki code cache ${hash} ${process.version}\n`);
  let cachedData;
  try {
    const c = fs.readFileSync(`${file}.cache`);
    if (c.subarray(0, tag.length).equals(tag)) cachedData = c.subarray(tag.length);
  } catch {
    // no cache: compiled from source
  }
  const wrapped = `(function (exports, require, module, __filename, __dirname) { ${source}\n})`;
  const script = new vm.Script(wrapped, { filename: file, cachedData }); // no import(): the build made sure
  const m = new Module(file, module);
  m.filename = file;
  m.paths = Module._nodeModulePaths(path.dirname(file));
  const req = Object.assign((id) => m.require(id), {
    resolve: (r, o) => Module._resolveFilename(r, m, false, o), cache: Module._cache, main: require.main,
  });
  if (process.env.PKI_WRITE_CODE_CACHE === "1")
    process.on("exit", () => {
      fs.writeFileSync(`${file}.cache.tmp`, Buffer.concat([tag, script.createCachedData()]));
      fs.renameSync(`${file}.cache.tmp`, `${file}.cache`);
    });
  Module._cache[file] = m;
  try {
    script.runInThisContext()(m.exports, req, m, file, path.dirname(file));
  } catch (e) {
    delete Module._cache[file];
    throw e;
  }
  m.loaded = true;
  return m.exports;
}
