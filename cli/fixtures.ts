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
 * Where `pki fixtures --out DIR` puts the set. DIR absent or empty: a sibling staging directory renamed into place by
 * commit() (all or nothing). DIR with files: each file written beside its target, renamed over it by commit(). Each
 * file is written and fdatasynced on the libuv pool as soon as the build hands it over, while the rest is still being
 * built; commit() waits for them, then renames, with one fsync per directory.
 */
async function openOutput(out: string) {
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
  const merge = existsSync(out) && readdirSync(out).length > 0;
  const stage = join(dirname(out), `.${basename(out)}.tmp-${tag}`);
  const path = merge ? (n: string) => join(out, `.${n}.tmp-${tag}`) : (n: string) => join(stage, n);
  if (!merge) {
    mkdirSync(dirname(out), { recursive: true });
    mkdirSync(stage, { mode: 0o755 });
    chmodSync(stage, 0o755);
  }
  const names: string[] = [];
  const pending: Promise<void>[] = [];
  return {
    write(f: { name: string; data: string | Uint8Array; mode: number }): void {
      names.push(f.name);
      const p = (async () => {
        const fh = await open(path(f.name), "wx", f.mode);
        try {
          await fh.writeFile(f.data);
          await fh.datasync();
        } finally {
          await fh.close();
        }
      })();
      p.catch(() => {}); // seen by commit() or abort()
      pending.push(p);
    },
    async commit(): Promise<void> {
      await Promise.all(pending);
      if (merge) {
        for (const n of names) renameSync(path(n), join(out, n));
        return syncDir(out);
      }
      syncDir(stage);
      if (existsSync(out)) rmdirSync(out);
      renameSync(stage, out);
      syncDir(dirname(out));
    },
    async abort(): Promise<void> {
      await Promise.allSettled(pending);
      if (merge) for (const n of names) rmSync(path(n), { force: true });
      else rmSync(stage, { recursive: true, force: true });
    },
  };
}

type Args = Awaited<ReturnType<typeof builder>["argv"]> & { depot?: string };

export async function handler(a: Args) {
  const { getPassphrase, printJson, readInputFile, UsageError } = await import("./common.js");
  if (a.out === undefined && process.stdout.isTTY)
    throw new UsageError(
      "refusing to write a tar archive to a terminal: pass --out DIR or pipe it, e.g. 'pki fixtures spec.yaml | tar xf -'",
    );
  const text = readInputFile(a.spec!, "spec");
  const { parseFixtureSpec, specKdf } = await import("../lib/api/fixture-spec.js");
  let spec: unknown;
  try {
    spec = await parseFixtureSpec(text);
  } catch (e) {
    throw new UsageError(`${a.spec}: ${(e as Error).message}`);
  }
  // The spec's passphrase (when no flag overrides it) derives the keys' AES key on the libuv pool from now on, while
  // the modules load and the keys and certificates are made: the KDF (~0.1 s) need not wait for any of it.
  const { randomBytes } = await import("node:crypto");
  const salt = randomBytes(16);
  const kdf = a.passphrase === undefined && a.passphraseFile === undefined ? specKdf(spec) : undefined;
  if (kdf) {
    const { deriveKey } = await import("../lib/formats/pkcs8.js");
    deriveKey(kdf.passphrase, salt, kdf.iterations).catch(() => {});
  }
  const { buildFixtures, checkWork, needsPassphrase, planFixtures } = await import("../lib/api/fixtures.js");
  let plan: ReturnType<typeof planFixtures>;
  try {
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
  const sink = out ? await openOutput(out) : undefined;
  let set: Awaited<ReturnType<typeof buildFixtures>>;
  try {
    set = await buildFixtures(spec, {
      passphrase, onProgress, yes: Boolean(a.yes), salt, keyPairs: false, onFile: sink && ((f) => sink.write(f)),
    });
    for (const w of set.warnings) process.stderr.write(`pki: warning: ${w}\n`);
    await sink?.commit();
  } catch (e) {
    await sink?.abort();
    throw e;
  }
  if (!out) {
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
