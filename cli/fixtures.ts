import type { Argv } from "yargs";
import { existsSync, statSync } from "node:fs";
import { PASSPHRASE_OPTIONS } from "./common.js";

export const command = "fixtures <spec>";
export const describe = "build a set of test CAs, certificates, keys, keystores and CRLs from a YAML/JSON spec";

export function builder(y: Argv) {
  return y
    .options(PASSPHRASE_OPTIONS)
    .positional("spec", { type: "string", describe: "spec file, YAML or JSON (schema/fixtures.schema.json)" })
    .options({
      out: {
        type: "string",
        alias: "o",
        describe: "write into DIR (created atomically if absent); default: a tar on stdout",
      },
      json: { type: "boolean", describe: "print the summary as JSON" },
      yes: {
        type: "boolean",
        describe: "build even a spec whose estimated work is absurd (e.g. thousands of RSA-4096 keys)",
      },
    })
    .example("$0 fixtures fixtures.yaml --out test/certs", "CA, server/client certs, CRLs... in test/certs")
    .example("$0 fixtures fixtures.yaml | tar xf -", "the same as a tar stream");
}

/** Refuses an --out that exists and is not a directory (before any work). */
function checkOutDir(out: string, Err: new (m: string) => Error): void {
  let st;
  try { st = statSync(out); } catch { return; }
  if (!st.isDirectory()) throw new Err(`--out ${out} exists and is not a directory`);
}

/**
 * Writes the set. DIR absent or empty: into a sibling staging directory renamed into place
 * (all or nothing). DIR with files: each file written beside its target, then renamed over it.
 * Files are written and fsynced in parallel (one fsync each would serialise on the journal).
 */
async function writeFixtures(
  out: string,
  files: { name: string; data: string | Uint8Array; mode: number }[],
): Promise<void> {
  const { mkdirSync, readdirSync, renameSync, rmdirSync, rmSync, chmodSync, openSync, fsyncSync, closeSync } =
    await import("node:fs");
  const { open } = await import("node:fs/promises");
  const { basename, dirname, join } = await import("node:path");
  const tag = `${process.pid}-${Date.now().toString(36)}`;
  const syncDir = (d: string) => {
    try {
      const fd = openSync(d, "r");
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch {
      /* not supported here */
    }
  };
  const writeAll = (dir: string, name: (f: string) => string) =>
    Promise.all(
      files.map(async (f) => {
        const fh = await open(join(dir, name(f.name)), "wx", f.mode);
        try {
          await fh.writeFile(f.data);
          await fh.datasync();
        } finally {
          await fh.close();
        }
      }),
    );
  if (existsSync(out) && readdirSync(out).length > 0) {
    const tmp = (n: string) => `.${n}.tmp-${tag}`;
    try {
      await writeAll(out, tmp);
      for (const f of files) renameSync(join(out, tmp(f.name)), join(out, f.name));
    } finally {
      for (const f of files) rmSync(join(out, tmp(f.name)), { force: true });
    }
    return syncDir(out);
  }
  mkdirSync(dirname(out), { recursive: true });
  const stage = join(dirname(out), `.${basename(out)}.tmp-${tag}`);
  mkdirSync(stage, { mode: 0o755 });
  try {
    chmodSync(stage, 0o755);
    await writeAll(stage, (n) => n);
    syncDir(stage);
    if (existsSync(out)) rmdirSync(out);
    renameSync(stage, out);
    syncDir(dirname(out));
  } catch (e) {
    rmSync(stage, { recursive: true, force: true });
    throw e;
  }
}

type Args = Awaited<ReturnType<typeof builder>["argv"]> & { depot?: string };

export async function handler(a: Args) {
  const { getPassphrase, printJson, readInputFile, UsageError } = await import("./common.js");
  if (a.out === undefined && process.stdout.isTTY)
    throw new UsageError(
      "refusing to write a tar archive to a terminal: pass --out DIR or pipe it, e.g. 'pki fixtures spec.yaml | tar xf -'",
    );
  const { buildFixtures, checkWork, needsPassphrase, parseFixtureSpec, planFixtures } =
    await import("../lib/api/fixtures.js");
  const text = readInputFile(a.spec!, "spec");
  let spec: unknown, plan: ReturnType<typeof planFixtures>;
  try {
    spec = await parseFixtureSpec(text);
    plan = planFixtures(spec);
    checkWork(plan, Boolean(a.yes)); // before a passphrase is asked for
  } catch (e) {
    throw new UsageError(`${a.spec}: ${(e as Error).message}`);
  }
  let passphrase: string | undefined;
  // --passphrase / --passphrase-file win over the spec's passphrase, which wins over PKI_PASSPHRASE and the prompt.
  if (needsPassphrase(plan) && (a.passphrase !== undefined || a.passphraseFile !== undefined || !plan.passphrase)) {
    passphrase = await getPassphrase(a, "the fixture keys and keystores");
  }
  const { resolve } = await import("node:path");
  const out = a.out === undefined ? undefined : resolve(String(a.out));
  if (out) checkOutDir(out, UsageError);

  const tty = process.stderr.isTTY;
  const onProgress = tty
    ? (p: { keys: number; certs: number; total: number }) =>
        process.stderr.write(
          `\rpki: keys ${p.keys}/${p.total}, certificates ${p.certs}/${p.total}${p.certs === p.total ? "\n" : ""}`,
        )
    : undefined;
  const set = await buildFixtures(spec, { passphrase, onProgress, yes: Boolean(a.yes) });
  for (const w of set.warnings) process.stderr.write(`pki: warning: ${w}\n`);

  if (out) await writeFixtures(out, set.files);
  else {
    const { tarStream } = await import("../lib/formats/tar.js");
    await new Promise<void>((res, rej) => {
      const s = tarStream(set.files);
      s.on("error", rej);
      process.stdout.on("error", rej);
      s.pipe(process.stdout, { end: false });
      s.on("end", res);
    });
  }

  // The summary goes to stdout unless stdout carries the tar.
  const write = (t: string) => (out ? process.stdout : process.stderr).write(t);
  if (a.json)
    return out
      ? printJson({ out, entries: set.entries })
      : write(JSON.stringify({ entries: set.entries }, null, 2) + "\n");
  const rows = [
    ["NAME", "KIND", "ISSUER", "KEY", "STATE", "NOT AFTER", "FILES"],
    ...set.entries.map((e) => [
      e.name,
      e.kind,
      e.issuer ?? "-",
      e.keyType,
      e.state,
      e.notAfter.slice(0, 19) + "Z",
      e.files.join(" "),
    ]),
  ];
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) write(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]))).join("  ") + "\n");
  write(`${set.files.length} files${out ? ` in ${out}` : ""}\n`);
}
