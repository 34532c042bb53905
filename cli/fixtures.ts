import type { Argv } from "yargs";
import { existsSync, statSync } from "node:fs";
import { EXPORT_PASSWORD_OPTION, PASSPHRASE_OPTIONS } from "./common.js";

export const command = "fixtures <spec>";
export const describe = "build a set of test CAs, certificates, keys, keystores and CRLs from a YAML/JSON spec";

export function builder(y: Argv) {
  return y
    .options({ ...PASSPHRASE_OPTIONS, ...EXPORT_PASSWORD_OPTION })
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
 * commit() (all or nothing). DIR with files: each file written beside its target, renamed over it by commit().
 * Files are created as soon as their names are known (reserve(), e.g. the keys while the KDF still runs), then
 * written with O_DSYNC (data on disk when the write returns) on the libuv pool as the build hands them over, while
 * the rest is still being built; commit() waits for them all, then renames, with one fsync per directory.
 */
async function openOutput(out: string) {
  const fs = await import("node:fs");
  const { basename, dirname, join } = await import("node:path");
  const { promisify } = await import("node:util");
  const [openFd, write, datasync, close] = [fs.open, fs.write, fs.fdatasync, fs.close].map((f) => promisify(f)) as [
    (p: string, flags: number, mode: number) => Promise<number>,
    (fd: number, b: Uint8Array, off: number, len: number) => Promise<{ bytesWritten: number }>,
    (fd: number) => Promise<void>,
    (fd: number) => Promise<void>,
  ];
  const tag = `${process.pid}-${Date.now().toString(36)}`;
  const syncDir = (d: string) => {
    try {
      const fd = fs.openSync(d, "r");
      try {
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      /* not supported here */
    }
  };
  const merge = fs.existsSync(out) && fs.readdirSync(out).length > 0;
  const stage = join(dirname(out), `.${basename(out)}.tmp-${tag}`);
  const path = merge ? (n: string) => join(out, `.${n}.tmp-${tag}`) : (n: string) => join(stage, n);
  if (!merge) {
    fs.mkdirSync(dirname(out), { recursive: true });
    fs.mkdirSync(stage, { mode: 0o755 });
    fs.chmodSync(stage, 0o755);
  }
  // O_DSYNC: each write returns once its data is on disk, as write + fdatasync would, in one trip to the pool.
  const { O_WRONLY, O_CREAT, O_EXCL, O_DSYNC } = fs.constants;
  const flags = O_WRONLY | O_CREAT | O_EXCL | (O_DSYNC ?? 0);
  const fds = new Map<string, Promise<number>>();
  const written = new Set<string>();
  const pending: Promise<unknown>[] = [];
  const track = <T>(p: Promise<T>) => (p.catch(() => {}), pending.push(p), p); // seen by commit() or abort()
  // The output exists from before the build (minutes for thousands of RSA keys): an interrupt must not leave it behind.
  const removeSync = () => {
    if (merge) for (const n of fds.keys()) fs.rmSync(path(n), { force: true });
    else fs.rmSync(stage, { recursive: true, force: true });
  };
  const settle = async () => {
    for (let n = 0; n < pending.length; n = pending.length) await Promise.allSettled(pending.slice(n));
  };
  const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  let closing = false;
  const onSignal = (sig: NodeJS.Signals) => {
    closing = true; // no new files; those the pool is still creating are waited for, then all removed
    void settle()
      .then(removeSync)
      .finally(() => process.kill(process.pid, sig)); // the listener is gone (once): the default action ends it
  };
  for (const sig of SIGNALS) process.once(sig, onSignal);
  const done = () => SIGNALS.forEach((sig) => process.off(sig, onSignal));
  const reserve = (name: string, mode: number) => {
    let fd = fds.get(name);
    if (!fd) {
      fd = closing ? Promise.reject(new Error("interrupted")) : openFd(path(name), flags, mode);
      fds.set(name, track(fd));
    }
    return fd;
  };
  return {
    reserve,
    write(f: { name: string; data: string | Uint8Array; mode: number }): void {
      written.add(f.name);
      const b = typeof f.data === "string" ? Buffer.from(f.data) : f.data;
      track(reserve(f.name, f.mode).then(async (fd) => {
        try {
          for (let off = 0; off < b.length; ) off += (await write(fd, b, off, b.length - off)).bytesWritten;
          if (O_DSYNC === undefined) await datasync(fd);
        } finally {
          await close(fd);
        }
      }));
    },
    async commit(): Promise<void> {
      for (let n = 0; n < pending.length; n = pending.length) await Promise.all(pending.slice(n));
      if (closing) await new Promise(() => {}); // an interrupt is removing the output; the process ends with it
      const unwritten = [...fds.keys()].filter((n) => !written.has(n));
      if (unwritten.length) throw new Error(`internal: ${unwritten.join(", ")} reserved but never written`);
      done();
      if (merge) {
        for (const n of fds.keys()) fs.renameSync(path(n), join(out, n));
        return syncDir(out);
      }
      syncDir(stage);
      if (fs.existsSync(out)) fs.rmdirSync(out);
      fs.renameSync(stage, out);
      syncDir(dirname(out));
    },
    async abort(): Promise<void> {
      await settle();
      for (const [n, fd] of fds) if (!written.has(n)) await fd.then(close, () => {});
      removeSync();
      done();
    },
  };
}

type Args = Awaited<ReturnType<typeof builder>["argv"]> & { depot?: string };

const exitCodeOf = (e: unknown) => (e as { exitCode?: number }).exitCode ?? 1;

export async function handler(a: Args) {
  const { EXPORT_PASSWORD_SOURCE, getPassphrase, printJson, readInputFile, UsageError } = await import("./common.js");
  if (a.out === undefined && process.stdout.isTTY)
    throw new UsageError(
      "refusing to write a tar archive to a terminal: pass --out DIR or pipe it, e.g. 'pki fixtures spec.yaml | tar xf -'",
    );
  if (a.spec === "" && process.argv.includes("-")) a.spec = "-"; // yargs reads a positional '-' (stdin) as ""
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
  // (pki.js has started it already for a JSON spec: cli/quick.ts; the cache and the salt are the process's.)
  const { deriveKey, processSalt } = await import("../lib/formats/kdf.js");
  const salt = processSalt();
  const kdf = a.passphrase === undefined && a.passphraseFile === undefined ? specKdf(spec) : undefined;
  if (kdf) deriveKey(kdf.passphrase, salt, kdf.iterations).catch(() => {});
  const { buildFixtures, checkWork, needsPassphrase, planFixtures } = await import("../lib/api/fixtures.js");
  let plan: ReturnType<typeof planFixtures>;
  const now = new Date();
  try {
    plan = planFixtures(spec, now);
    checkWork(plan, Boolean(a.yes)); // before a passphrase is asked for
  } catch (e) {
    // A malformed spec is a usage error (2), a value its checks refuse is not (1): the spec's error says which.
    throw Object.assign(new Error(`${a.spec}: ${(e as Error).message}`), { exitCode: exitCodeOf(e) });
  }
  let passphrase: string | undefined;
  // --passphrase / --passphrase-file win over the spec's passphrase, which wins over PKI_PASSPHRASE and the prompt.
  if (needsPassphrase(plan) && (a.passphrase !== undefined || a.passphraseFile !== undefined || !plan.passphrase)) {
    passphrase = await getPassphrase(a, "the fixture keys and keystores");
  }
  // The keystores' password: --export-password-file, else the spec's exportPassword, else "changeit" (never the
  // passphrase: lib/api/fixtures.ts).
  const exportPassword =
    a.exportPasswordFile === undefined
      ? undefined
      : await getPassphrase(a, "the fixture keystores", { source: EXPORT_PASSWORD_SOURCE });
  const { resolve } = await import("node:path");
  const out = a.out === undefined ? undefined : resolve(String(a.out));
  if (out) checkOutDir(out, UsageError);

  const tty = process.stderr.isTTY;
  const onProgress = tty
    ? (p: { keys: number; certs: number; total: number }) =>
        process.stderr.write(
          `\rkeys ${p.keys}/${p.total}, certificates ${p.certs}/${p.total}${p.certs === p.total ? "\n" : ""}`,
        )
    : undefined;
  const sink = out ? await openOutput(out) : undefined;
  // Every certificate and encrypted key exists before the build starts: creating ~400 files costs as much as building.
  for (const n of sink ? plan.nodes : []) {
    sink!.reserve(`${n.name}.crt`, 0o644);
    if (n.outputs.includes("pem")) sink!.reserve(`${n.name}.key`, 0o600);
  }
  let set: Awaited<ReturnType<typeof buildFixtures>>;
  try {
    set = await buildFixtures(spec, {
      // the plan made above, unless a passphrase prompt made its "now" stale
      ...(Date.now() - now.getTime() < 1000 ? { now, plan } : {}),
      passphrase, exportPassword, onProgress, yes: Boolean(a.yes), salt, keyPairs: false,
      onFile: sink && ((f) => sink.write(f)),
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
