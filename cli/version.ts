import { readFileSync } from "node:fs";

/** The package version, read without loading anything else. */
export const VERSION: string = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version;
