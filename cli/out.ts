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

const CHUNK = 1 << 16;

/** A JSON array written as its elements come, byte for byte what printJson writes for the whole array. */
export class JsonArrayOut {
  private n = 0;
  private buf = "";

  add(value: unknown): void {
    this.buf += (this.n++ ? ",\n" : "[\n") + JSON.stringify(value, null, 2).replace(/^/gm, "  ");
    if (this.buf.length >= CHUNK) this.flush();
  }

  end(): void {
    this.buf += this.n ? "\n]\n" : "[]\n";
    this.flush();
  }

  private flush(): void {
    writeOut(this.buf);
    this.buf = "";
  }
}

/**
 * printTable's columns for rows that stream: the widths come from the header and the first `sample` rows (all of
 * them in a depot of that size, so its output is printTable's); a longer cell further on widens only its own line.
 */
export class TableOut {
  private rows: string[][] = [];
  private widths: number[] | undefined;
  private buf = "";

  constructor(header: string[], private readonly sample = 1000) {
    this.rows.push(header);
  }

  add(row: string[]): void {
    if (this.widths) return this.line(row);
    this.rows.push(row);
    if (this.rows.length > this.sample) this.start();
  }

  end(): void {
    if (!this.widths) this.start();
    writeOut(this.buf);
    this.buf = "";
  }

  private start(): void {
    this.widths = this.rows[0].map((_, i) => Math.max(...this.rows.map((r) => r[i].length)));
    for (const r of this.rows) this.line(r);
    this.rows = [];
  }

  private line(r: string[]): void {
    this.buf += r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(this.widths![i]))).join("  ") + "\n";
    if (this.buf.length >= CHUNK) {
      writeOut(this.buf);
      this.buf = "";
    }
  }
}
