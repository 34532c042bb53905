import { readFileSync } from "node:fs";

declare const PKI_BUNDLED_VERSION: string | undefined;

/** The package version: inlined by the bundler (scripts/build-bundle.mjs), else read from package.json. */
export const VERSION: string = typeof PKI_BUNDLED_VERSION === "string" ? PKI_BUNDLED_VERSION
  : JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version;
