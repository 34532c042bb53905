// Counts what ava's default reporter printed: "PASSED FAILED" on stdout. ava's own summary has no "passed" line
// once anything failed, and says nothing of the tests a crashed file never ran, so the count is made from the
// lines it writes per test and per file:
//   passed: "✔ title" and "✔ [expected fail] title";
//   failed: "✘ [fail]: title" (hooks too) and "✘ [unexpected pass]: title"; each "◌ title" left pending by a
//     timeout; "✘ N tests remaining in FILE"; per file, its uncaught exceptions and unhandled rejections, or 1 if it
//     exited abnormally without one (process.exit, a signal); internal errors and files that failed to exit.
// Usage: node .ci/ava-count.mjs LOG
import { readFileSync } from "node:fs";

const text = readFileSync(process.argv[2], "utf8").replace(/\x1b\[[0-9;]*m/g, "");
let passed = 0;
let failed = 0;
const thrown = new Map(); // file → uncaught exceptions + unhandled rejections
const crashed = new Set();
let timedOut = false;
let pending = 0;
for (const raw of text.split(/\r?\n/)) {
  const line = raw.trim();
  let m;
  if (/^✔ /.test(line)) passed++;
  else if (/^✘ \[(fail|unexpected pass)\]:/.test(line)) failed++;
  else if (/^◌ /.test(line)) pending++;
  else if ((m = /^✘ (\d+) tests? remaining in /.exec(line))) failed += Number(m[1]);
  else if ((m = /^(?:Uncaught exception|Unhandled rejection) in (.+)$/.exec(line)))
    thrown.set(m[1], (thrown.get(m[1]) ?? 0) + 1);
  else if ((m = /^✘ (.+?) exited (?:with a non-zero exit code|due to)/.exec(line))) crashed.add(m[1]);
  else if ((m = /^✘ Exiting due to process\.exit\(\) when running (.+)$/.exec(line))) crashed.add(m[1]);
  else if (/^✘ Internal error|^Failed to exit when running |^✘ No tests found in /.test(line)) failed++;
  else if (/^✘ Timed out while running tests/.test(line)) timedOut = true;
}
for (const n of thrown.values()) failed += n;
for (const file of crashed) if (!thrown.has(file)) failed++;
failed += timedOut ? Math.max(pending, 1) : pending;

// Without failures ava states the count itself: trust it over a line a test's own output may have mimicked.
const stated = /^\s*(\d+) tests? passed\s*$/m.exec(text);
if (stated && failed === 0) passed = Number(stated[1]);
console.log(`${passed} ${failed}`);
