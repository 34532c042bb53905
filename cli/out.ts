/**
 * stdout of the read-only commands, written with write(2) rather than through process.stdout: creating that stream
 * loads node's stream stack, a tenth of a `pki list`. Written as watchStdout would have it: a reader that went away
 * (EPIPE) ends pki quietly; a non-blocking stdout that is full (EAGAIN) gets the rest through process.stdout,
 * which waits for the reader.
 */
import { writeSync } from "node:fs";
import { isEpipe, watchStdout } from "./exit.js";

let streamed = false;

export function writeOut(text: string): void {
  if (streamed) return void process.stdout.write(text);
  const buf = Buffer.from(text);
  let off = 0;
  try {
    while (off < buf.length) off += writeSync(1, buf, off);
  } catch (e) {
    if (isEpipe(e)) process.exit(0);
    if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
    streamed = true;
    watchStdout();
    process.stdout.write(buf.subarray(off));
  }
}

export function printJson(value: unknown): void {
  writeOut(JSON.stringify(value, null, 2) + "\n");
}

/** Rows in columns two spaces apart, the last one not padded. */
export function printTable(table: string[][]): void {
  const w = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
  writeOut(table.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]))).join("  ") + "\n").join(""));
}
