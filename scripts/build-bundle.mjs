// Bundles the CLI into dist/bin/ (ESM); dist/lib/ (tsc) stays the library API with its types; `bin` is pki.js.
// Two builds, because each ES module a command loads costs its own resolve, read, compile and link:
// - pki.js, one file: the entry and everything the plain `pki list` / `pki status` reach (LIGHT), their dynamic
//   imports inlined (run only when reached). Any other module it imports dynamically (main.ts, chain.ts, ...)
//   stays out: the import points at the second build's entry for that module, under lazy/.
// - main.js and lazy/*: yargs and every command, code-split into chunks/: a command loads only what it imports,
//   so `pki list --help` never parses the ASN.1 stack and nothing goes through the CommonJS loader at start-up.
import { build } from "esbuild";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** Modules bundled into pki.js (sources relative to the repository). */
const LIGHT = new Set([
  "cli/pki.ts", "cli/plain.ts", "cli/exit.ts", "cli/out.ts", "cli/list.ts", "cli/status.ts", "cli/common.ts",
  "store/view.ts", "lib/x509/duration.ts",
  // the depot's KDF starts from here, before a key command's chunks load (lib/formats/kdf.ts shares its cache)
  "cli/quick.ts", "cli/command-spec.ts", "store/early-kdf.ts", "lib/formats/kdf.ts",
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
  define: { PKI_BUNDLED_VERSION: JSON.stringify(JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version) },
  logLevel: "warning",
};

/** Second-build entries pki.js imports dynamically: output name (under dist/bin) → source. */
const lazy = new Map();
const splitOff = {
  name: "split-off",
  setup(b) {
    b.onResolve({ filter: /^\./ }, async (args) => {
      if (args.kind !== "dynamic-import" || args.pluginData?.own) return undefined;
      const r = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: { own: true } });
      if (r.errors.length) return r;
      const src = relative(ROOT, r.path);
      if (LIGHT.has(src)) return r;
      const out = src === "cli/main.ts" ? "main" : `lazy/${src.replace(/\.ts$/, "")}`;
      lazy.set(out, src);
      return { path: `./${out}.js`, external: true };
    });
  },
};

/**
 * pki.js takes node built-ins from process.getBuiltinModule, not by `import`: node's ES-module face of node:fs reads
 * every export, and its lazy ReadStream getter loads the whole stream stack (~4 ms) that `pki list` never uses.
 */
const builtins = new Set();
const viaGetBuiltin = {
  name: "via-get-builtin",
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => (builtins.add(args.path), { path: args.path, namespace: "builtin" }));
    b.onLoad({ filter: /.*/, namespace: "builtin" }, (args) => ({
      contents: `module.exports = process.getBuiltinModule(${JSON.stringify(args.path)});`,
      loader: "js",
    }));
  },
};

rmSync(new URL("../dist/bin", import.meta.url), { recursive: true, force: true });
const first = await build({
  ...common,
  entryPoints: { pki: "cli/pki.ts" },
  splitting: false,
  write: false,
  metafile: true,
  plugins: [splitOff, viaGetBuiltin],
});
const [out] = first.outputFiles;
const used = [...builtins].filter((m) => out.text.includes(`getBuiltinModule(${JSON.stringify(m)})`));
const late = used.filter((m) => !PRELOADED.has(m)).concat(
  first.metafile.outputs["dist/bin/pki.js"].imports.filter((i) => i.kind === "import-statement").map((i) => i.path),
);
if (late.length || out.text.includes("Dynamic require of"))
  throw new Error(`dist/bin/pki.js would load ${late.join(", ") || "CommonJS code"} at start-up: ` +
    "import it dynamically, or drop its importer from LIGHT in scripts/build-bundle.mjs");

await build({
  ...common,
  // Only what pki.js still imports after tree-shaking (a resolved import may have been dropped).
  entryPoints: Object.fromEntries([...lazy].filter(([name]) => out.text.includes(`"./${name}.js"`))),
  chunkNames: "chunks/[name]-[hash]",
  splitting: true,
  // CommonJS dependencies (yargs helpers, tar-stream) call require() for node built-ins.
  banner: { js: "import{createRequire as __pkiRequire}from'node:module';const require=__pkiRequire(import.meta.url);" },
});
// Written last: a failed second build leaves no pki.js pointing at missing files.
mkdirSync(dirname(out.path), { recursive: true });
writeFileSync(out.path, out.contents);
