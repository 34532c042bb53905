// Bundles the CLI into dist/bin/; dist/lib/ (tsc) stays the library API with its types; `bin` is pki.js.
// Two builds, because each ES module a command loads costs its own resolve, read, compile and link:
// - pki.js, one CommonJS file (dist/bin/package.json says so): the entry and everything the plain `pki list` /
//   `pki status` reach (LIGHT), their dynamic imports inlined (run only when reached). As CommonJS it runs ~4 ms
//   sooner than an ES module would: node sets up its ES-module loader only when a command imports a chunk, and
//   `pki issue` does that while its KDF runs. Any other module it imports dynamically (main.ts, chain.ts, ...)
//   stays out: the import points at the second build's entry for that module, under lazy/.
// - main.mjs and lazy/*.mjs: yargs and every command as ES modules, code-split into chunks/: a command loads only
//   what it imports, so `pki list --help` never parses the ASN.1 stack.
// Neither imports a node built-in as an ES module (see viaGetBuiltin).
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { builtinModules } from "node:module";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PKG = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
/** Modules bundled into pki.js (sources relative to the repository). */
const LIGHT = new Set([
  "cli/pki.ts", "cli/plain.ts", "cli/exit.ts", "cli/out.ts", "cli/list.ts", "cli/status.ts", "cli/common.ts",
  "lib/x509/duration.ts",
  // the depot's KDF starts from here, before a key command's chunks load (lib/formats/kdf.ts shares its cache)
  "cli/quick.ts", "cli/command-spec.ts", "store/keys/early-kdf.ts", "lib/formats/kdf.ts", "lib/api/spec-kdf.ts",
]);
/** The node built-ins pki.js may use: node's own start-up has already loaded them, so they cost nothing. */
const PRELOADED = new Set(["node:fs", "node:path", "node:url"]);

const common = {
  outdir: "dist/bin",
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  minify: true,
  keepNames: true, // error classes are told apart by name
  legalComments: "none",
  define: { PKI_BUNDLED_VERSION: JSON.stringify(PKG.version) },
  logLevel: "warning",
};

/** Second-build entries pki.js imports dynamically: output name (under dist/bin) → source. */
const lazy = new Map();
const splitOff = {
  name: "split-off",
  setup(b) {
    b.onResolve({ filter: /^\./ }, async (args) => {
      if (args.kind !== "dynamic-import" || args.pluginData?.own) return undefined;
      const { kind, importer, resolveDir } = args;
      const r = await b.resolve(args.path, { kind, importer, resolveDir, pluginData: { own: true } });
      if (r.errors.length) return r;
      const src = relative(ROOT, r.path);
      if (LIGHT.has(src)) return r;
      const out = src === "cli/main.ts" ? "main" : `lazy/${src.replace(/\.ts$/, "")}`;
      lazy.set(out, src);
      return { path: `./${out}.mjs`, external: true };
    });
  },
};

/**
 * Both builds take node built-ins from process.getBuiltinModule, not by `import`: node's ES-module face of a built-in
 * reads every export, and the lazy ones load more: node:fs's ReadStream the whole stream stack (~4 ms that `pki list`
 * never uses), node:util's MIMEType and parseArgs, node:crypto's webcrypto, node:module's SourceMap. CommonJS
 * dependencies' require("fs") comes here too, so no createRequire is needed.
 */
const BUILTIN = new RegExp(`^(node:.*|${builtinModules.join("|")})$`); // names of [a-z0-9_/]: nothing to escape
/**
 * With `named`, an `import` of a built-in gets an ES-module face of its own: the default export and one export per
 * name, each read only if imported (a pure call esbuild drops when unused). A CommonJS face would be read whole by
 * esbuild's __toESM, which takes every property's descriptor, and node 24 makes node:fs's Dir a lazy property that
 * loads internal/fs/dir when described: a module `pki list` never needs. require() keeps the CommonJS face (a
 * CommonJS caller of node:events wants the class itself).
 */
function viaGetBuiltin(seen, { named = false, inline = false } = {}) {
  return {
    name: "via-get-builtin",
    setup(b) {
      b.onResolve({ filter: BUILTIN }, (args) => {
        const id = args.path.startsWith("node:") ? args.path : `node:${args.path}`;
        // Split out, a CommonJS module has only a default export: `await import("node:fs")` stays node's own.
        // `inline`: a file compiled by __pki_require has no import() (vm.Script would need node's experimental
        // loader for it), so there the ES-module face stands in.
        if (args.kind === "dynamic-import" && !inline) return { path: id, external: true };
        seen?.add(id);
        const face = named && (args.kind === "import-statement" || args.kind === "dynamic-import");
        return { path: id, namespace: face ? "builtin-named" : "builtin" };
      });
      b.onLoad({ filter: /.*/, namespace: "builtin" }, (args) => ({
        contents: `module.exports = process.getBuiltinModule(${JSON.stringify(args.path)});`,
        loader: "js",
      }));
      b.onLoad({ filter: /.*/, namespace: "builtin-named" }, (args) => {
        const names = Object.getOwnPropertyNames(process.getBuiltinModule(args.path))
          .filter((n) => /^[A-Za-z_$][\w$]*$/.test(n) && n !== "default");
        const each = names.map((n) => `export const ${n} = /* @__PURE__ */ (() => m.${n})();`);
        const contents = [`const m = process.getBuiltinModule(${JSON.stringify(args.path)});`, "export default m;", ...each];
        return { contents: contents.join("\n"), loader: "js" };
      });
    },
  };
}
const builtins = new Set();

rmSync(new URL("../dist/bin", import.meta.url), { recursive: true, force: true });
const first = await build({
  ...common,
  format: "cjs",
  // version.ts reads package.json through import.meta only where PKI_BUNDLED_VERSION is not defined: never here
  logOverride: { "empty-import-meta": "silent" },
  entryPoints: { pki: "cli/pki.ts" },
  splitting: false,
  write: false,
  metafile: true,
  plugins: [splitOff, viaGetBuiltin(builtins, { named: true })],
});
const [out] = first.outputFiles;
const used = [...builtins].filter((m) => out.text.includes(`getBuiltinModule(${JSON.stringify(m)})`));
const late = used.filter((m) => !PRELOADED.has(m)).concat(
  first.metafile.outputs["dist/bin/pki.js"].imports
    .filter((i) => i.kind === "import-statement" || i.kind === "require-call").map((i) => i.path),
);
if (out.text.includes("import_meta")) throw new Error("dist/bin/pki.js would use import.meta, which CommonJS lacks");
if (late.length || out.text.includes("Dynamic require of"))
  throw new Error(`dist/bin/pki.js would load ${late.join(", ") || "CommonJS code"} at start-up: ` +
    "import it dynamically, or drop its importer from LIGHT in scripts/build-bundle.mjs");

/**
 * Entries built into one file each, no shared chunks, required as CommonJS: node's ES-module loader costs per file
 * and ~5 ms to start. `pki list` and `pki status` link one module instead of ~30; the KDF's head start reads
 * depot.db's row before any ES module loads (~18 ms sooner), so the key commands' KDF runs beside their chunks'
 * loading. Their code is duplicated from the chunks: list-read is loaded by nothing else, and sqlite-early's copy
 * of sqlite-open.ts shares the driver through require's cache.
 * `pki issue`, the one-shot every script runs, is one file too, and so are `new-cert` and `sign`: their ~45 chunks
 * cost the main thread ~15 ms more while the KDF runs, and on two cores that work slows the KDF. Their npm
 * packages but better-sqlite3 stay in node_modules, required only where used (--export's tar and PKCS#12, a CA
 * key in a token): bundled, they would triple each file (~630 KB) and its compile. Each is compiled from a V8
 * code cache (`cached`, below): the ~210 KB of one of them compiled and run the first time cost the main thread
 * as much again as the rest of `pki issue` (main-thread CPU 45 ms → 31 ms for issue, 91 → 39 ms for sign).
 * Each takes the built-ins' ES-module faces (`named`): esbuild's CommonJS face copies every property of node:fs or
 * node:crypto once per importing module (~2,000 property definitions in issue.cjs).
 */
const PACKAGES = Object.keys(PKG.dependencies)
  .filter((p) => p !== "better-sqlite3").flatMap((p) => [p, `${p}/*`]);
const WHOLE = new Map([
  ["lazy/store/depot/list-read", {}],
  ["lazy/store/records/sqlite-early", {}],
  ["lazy/cli/issue", { external: PACKAGES, cached: true }],
  ["lazy/cli/sign", { external: PACKAGES, cached: true }],
  ["lazy/cli/new-cert", { external: PACKAGES, cached: true }],
]);
const rest = {
  ...common,
  // Only what pki.js still imports after tree-shaking (a resolved import may have been dropped).
  entryPoints: Object.fromEntries([...lazy].filter(([name]) => out.text.includes(`"./${name}.mjs"`) && !WHOLE.has(name))),
  outExtension: { ".js": ".mjs" },
  chunkNames: "chunks/[name]-[hash]",
  splitting: true,
  metafile: true,
  plugins: [viaGetBuiltin()],
};
const second = await build(rest);
// A require() of anything but a built-in (none today) needs node's own require in every chunk.
const outputs = Object.keys(second.metafile.outputs).filter((f) => f.endsWith(".mjs"));
const banner = { js: "import{createRequire as __r}from'node:module';const require=__r(import.meta.url);" };
if (outputs.some((f) => readFileSync(f, "utf8").includes("Dynamic require of"))) await build({ ...rest, banner });
// CommonJS, required by pki.js: no ES-module loader at all (its start costs ~5 ms of internal modules).
let pkiText = out.text;
/**
 * In those files `createRequire(import.meta.url)` is the file's own require: node:module is not loaded for it,
 * because loading node:module sets up node's ES-module loader (~5 ms), which these files exist to avoid. And
 * better-sqlite3's JavaScript is bundled in (~5 ms less than node resolving and compiling its 12 files); its native
 * addon is still required from node_modules, and shared with the package's own copy when a command loads that too.
 */
const ownRequire = {
  name: "own-require",
  setup(b) {
    b.onResolve({ filter: /^(node:)?module$/ }, () => ({ path: "module", namespace: "own-require" }));
    b.onLoad({ filter: /.*/, namespace: "own-require" }, () => ({
      contents: [
        "const own = Object.assign((id) => id === 'better-sqlite3' ? require('better-sqlite3') : require(id),",
        "  { resolve: require.resolve });",
        "exports.createRequire = (url) => url === __pki_url ? own :",
        "  process.getBuiltinModule('node:module').createRequire(url);",
      ].join("\n"),
      resolveDir: ROOT,
      loader: "js",
    }));
  },
};
for (const [name, { cached, ...own }] of WHOLE) {
  if (!lazy.has(name)) throw new Error(`scripts/build-bundle.mjs: nothing imports ${name} any more`);
  await build({
    ...rest, entryPoints: { [name]: lazy.get(name) }, splitting: false, metafile: false, format: "cjs",
    outExtension: { ".js": ".cjs" },
    plugins: [ownRequire, viaGetBuiltin(undefined, { named: true, inline: cached })],
    ...own,
    define: { ...common.define, "import.meta.url": "__pki_url" },
    banner: { js: "var __pki_url=require(\"node:url\").pathToFileURL(__filename).href;" },
  });
  const from = `import("./${name}.mjs")`;
  if (!pkiText.includes(from)) throw new Error(`dist/bin/pki.js: no ${from} to turn into a require`);
  if (cached && readFileSync(new URL(`../dist/bin/${name}.cjs`, import.meta.url), "utf8").includes("import("))
    throw new Error(`dist/bin/${name}.cjs has an import(), which __pki_require cannot compile`);
  const load = cached ? "__pki_require" : "require";
  pkiText = pkiText.replaceAll(from, `Promise.resolve().then(()=>${load}("./${name}.cjs"))`);
}
// __pki_require (scripts/cached-require.js) loads a file from its V8 code cache, made below.
const [hashbang, ...body] = pkiText.split("\n");
if (!hashbang.startsWith("#!")) throw new Error("dist/bin/pki.js: no #! line");
pkiText = [hashbang, readFileSync(new URL("cached-require.js", import.meta.url), "utf8"), ...body].join("\n");
// Written last: a failed second build leaves no pki.js pointing at missing files.
mkdirSync(dirname(out.path), { recursive: true });
writeFileSync(new URL("../dist/bin/package.json", import.meta.url), '{ "type": "commonjs" }\n');
writeFileSync(out.path, pkiText);

/**
 * The code caches: each cached command run once in a throwaway depot with PKI_WRITE_CODE_CACHE=1, so that at
 * exit __pki_require writes beside its file what V8 compiled for it, the functions the run called included. Made
 * by this node for this source: another node, or an edited file, compiles the source as require would.
 * A cache for list-read.cjs made `pki list` no measurably faster, and would load node:vm on its path: none.
 */
const scratch = mkdtempSync(join(tmpdir(), "pki-build-"));
try {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PKI_")));
  Object.assign(env, { PKI_DEPOT: join(scratch, "depot"), PKI_PASSPHRASE: "code-cache-build" });
  const pki = (args, more = {}) => {
    try {
      execFileSync(process.execPath, [out.path, ...args], { cwd: scratch, env: { ...env, ...more }, stdio: "pipe" });
    } catch (e) {
      throw new Error(`scripts/build-bundle.mjs: pki ${args.join(" ")} failed: ${e.stderr ?? e.message}`);
    }
  };
  pki(["init", "--common-name", "code cache"]);
  pki(["issue", "warm", "warm.example", "127.0.0.1"], { PKI_WRITE_CODE_CACHE: "1" });
  pki(["new-cert", "--domain", "warm2.example", "warm2"], { PKI_WRITE_CODE_CACHE: "1" });
  pki(["sign", "warm2"], { PKI_WRITE_CODE_CACHE: "1" });
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
for (const [name, { cached }] of WHOLE)
  if (cached && !existsSync(new URL(`../dist/bin/${name}.cjs.cache`, import.meta.url)))
    throw new Error(`scripts/build-bundle.mjs: no code cache was written for ${name}.cjs`);
