// Runs pki on a real pseudo-terminal (python3's pty module, test/_pty.py): stdin, stdout and stderr a terminal.
import { join } from "node:path";
import { PKI, ROOT, run } from "./_helpers.js";

/**
 * `pki ARGS` on a terminal: each time `prompt` (a regular expression) shows once more, the next of `answers` is
 * typed as given (say "\r" for Enter); past them, Ctrl-D when `eof`. Resolves to { code, out, prompts }.
 */
export async function onPty(args, { prompt, answers = [], eof = false, env, cwd }) {
  const spec = JSON.stringify({ prompt, answers, eof });
  const r = await run("python3", [join(ROOT, "test", "_pty.py"), spec, process.execPath, PKI, ...args], { env, cwd });
  if (r.code !== 0) throw new Error(`the pty driver failed: ${r.stderr}`);
  return JSON.parse(r.out);
}

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** `pki ARGS` in the depot of `dir` (passphrase from DIR/pass), typing `answer` once `wait` shows. */
export function onTerminal(t, dir, args, answer = "", wait = "[y/N] ") {
  const env = { ...process.env, PKI_DEPOT: join(dir, ".pki"), PKI_PASSPHRASE_FILE: join(dir, "pass") };
  return onPty(args, { prompt: escape(wait), answers: answer ? [answer] : [], env, cwd: dir });
}
