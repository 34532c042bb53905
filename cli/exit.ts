import { fileProblem } from "./common.js";

/** How pki ends on an error: one line on stderr, exit 2 for usage errors, 1 otherwise; a closed stdout is no error. */
export function fail(msg: string, code = 1): never {
  process.stderr.write(`pki: ${msg.trim().replace(/\s*\n\s*/g, " ")}\n`);
  process.exit(code);
}

/** A reader that went away (`pki list | head -1`) is not an error: stop quietly. */
export const isEpipe = (e: unknown) => (e as NodeJS.ErrnoException)?.code === "EPIPE";

export function watchStdout(): void {
  process.stdout.on("error", (e) => (isEpipe(e) ? process.exit(0) : fail(e.message)));
}

/** Ends the process for an error a command threw. */
export function failWith(e: unknown): never {
  if (isEpipe(e)) process.exit(0);
  if (process.env.PKI_DEBUG) console.error(e);
  const name = (e as Error)?.name, code = (e as { exitCode?: number }).exitCode;
  fail(systemError(e) ?? (e as Error)?.message ?? String(e), code ?? (name === "UsageError" ? 2 : 1));
}

/** A file-system error no command worded ("ENOENT: no such file or directory, mkdir 'x'"), in words. */
function systemError(e: unknown): string | undefined {
  const { syscall, path, code } = (e ?? {}) as NodeJS.ErrnoException;
  if (!syscall || !path || !code) return undefined;
  return `cannot ${syscall} ${path}: ${fileProblem(e)}`;
}
