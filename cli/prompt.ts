/** No-echo passphrase prompt on the terminal. */
export function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    stdin.setRawMode(true); // before the question: nothing typed may echo
    process.stderr.write(question);
    let value = "";
    stdin.resume();
    stdin.setEncoding("utf8");
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.removeListener("data", onData);
      process.stderr.write("\n");
      if (err) reject(err); else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n") return done();
        if (ch === "\u0003") return done(new Error("interrupted"));
        if (ch === "\u0004") return done(new Error("no passphrase entered"));
        if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on("data", onData);
  });
}

/**
 * A yes/no question on the terminal (stderr), answered with a line the terminal echoes and edits: only "y" or "yes"
 * is yes; an empty answer or end of input (Ctrl-D) is no, and Ctrl-C stops pki as anywhere.
 */
export async function confirm(question: string): Promise<boolean> {
  const { createInterface } = await import("node:readline");
  process.stderr.write(question);
  const rl = createInterface({ input: process.stdin, terminal: false });
  return new Promise((resolve) => {
    let answer: string | undefined;
    rl.once("line", (line) => {
      answer = line;
      rl.close();
    });
    rl.once("close", () => {
      if (answer === undefined) process.stderr.write("\n");
      resolve(/^\s*y(es)?\s*$/i.test(answer ?? ""));
    });
  });
}

/** How many answers a checked prompt takes, as sudo, ssh and gpg do. */
export const PROMPT_TRIES = 3;

/**
 * A no-echo prompt whose answer must pass `verify`: a wrong passphrase (WrongPassphraseError) asks again, up to
 * PROMPT_TRIES times; the last refusal is the command's error. An empty answer is `empty()`, at once.
 */
export async function promptChecked(
  question: string,
  verify: (p: string) => Promise<unknown>,
  empty: () => Error,
): Promise<string> {
  const { WrongPassphraseError } = await import("../lib/formats/pkcs8.js");
  for (let attempt = 1; ; attempt++) {
    const p = await promptHidden(question);
    if (!p) throw empty();
    try {
      await verify(p);
      return p;
    } catch (e) {
      if (!(e instanceof WrongPassphraseError) || attempt === PROMPT_TRIES) throw e;
      process.stderr.write(`Wrong passphrase, try again (${attempt + 1} of ${PROMPT_TRIES}).\n`);
    }
  }
}
