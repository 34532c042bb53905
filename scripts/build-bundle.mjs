// Bundles the CLI into dist/bin/ (ESM, code-splitting): pki.js loads only the chunks a command imports,
// so `pki list` never parses the ASN.1 stack and nothing goes through the CommonJS loader at start-up.
// dist/lib/ (tsc) stays the library API with its types; `bin` points here.
import { build } from "esbuild";
import { readFileSync, rmSync } from "node:fs";

rmSync(new URL("../dist/bin", import.meta.url), { recursive: true, force: true });
await build({
  entryPoints: { pki: "cli/pki.ts" },
  outdir: "dist/bin",
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  minify: true,
  keepNames: true, // error classes are told apart by name
  legalComments: "none",
  define: { PKI_BUNDLED_VERSION: JSON.stringify(JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version) },
  logLevel: "warning",
  // CommonJS dependencies (yargs helpers, tar-stream) call require() for node built-ins.
  banner: { js: "import{createRequire as __pkiRequire}from'node:module';const require=__pkiRequire(import.meta.url);" },
});
