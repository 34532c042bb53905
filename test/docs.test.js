// Docs that run: every ```sh block of README.md and docs/*.md, in order, one bash per document, in a fresh
// temporary directory. The preamble below is what the README promises a reader has (see "Docs that run"):
// `pki` from this build on PATH, HOME in the temp dir, PKI_PASSPHRASE_FILE=~/.config/pki/passphrase (0600).
// A block that cannot run here is ```text with the reason beside it.
import test from "ava";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PKI, ROOT, run, tempDir } from "./_helpers.js";

const LONG = 15 * 60_000; // tens of pki runs per document: minutes on a loaded 2-core machine
const DOCS = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) => `docs/${f}`)];

/** The fenced blocks of a markdown file: language, first line number, body. */
function blocks(file) {
  const lines = readFileSync(join(ROOT, file), "utf8").split("\n");
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)/.exec(lines[i]);
    if (!open) continue;
    const start = i;
    while (++i < lines.length && !/^```\s*$/.test(lines[i]));
    out.push({ lang: open[1], line: start + 1, body: lines.slice(start + 1, i).join("\n") });
  }
  return out;
}

// README.md's own set-up line writes the passphrase file (and is checked for it); other documents start with it.
const PREAMBLE = (tmp, doc) => `set -eo pipefail
export HOME=${JSON.stringify(join(tmp, "home"))} PATH=${JSON.stringify(join(tmp, "bin"))}:"$PATH"
unset PKI_PASSPHRASE PKI_DEPOT PKI_P12_PASSWORD PKI_JKS_PASSWORD PKI_PASSPHRASE_FILE
${doc === "README.md" ? "" : "mkdir -p ~/.config/pki && (umask 077 && echo 'the doc test passphrase' > ~/.config/pki/passphrase)\n"}\
export PKI_PASSPHRASE_FILE=~/.config/pki/passphrase
cd ${JSON.stringify(join(tmp, "work"))}
`;

test("docs: shell examples are ```sh (run here) or ```text (with a reason), never an unrun ```bash/```shell", (t) => {
  for (const doc of DOCS) {
    for (const b of blocks(doc)) t.false(["bash", "shell", "console", "zsh"].includes(b.lang), `${doc}:${b.line}: \`\`\`${b.lang}`);
  }
});

test("docs: no command hides in an indented code block, which the doc test would not run", (t) => {
  for (const doc of DOCS) {
    const lines = readFileSync(join(ROOT, doc), "utf8").split("\n");
    let fenced = false;
    lines.forEach((l, i) => {
      if (/^```/.test(l)) fenced = !fenced;
      else if (!fenced) t.notRegex(l, /^ {4,}(\$ )?(pki|curl|openssl|keytool|npm|npx) /, `${doc}:${i + 1}`);
    });
  }
});

for (const doc of DOCS) {
  const sh = blocks(doc).filter((b) => b.lang === "sh");
  if (!sh.length) continue;
  test(`docs: every sh block of ${doc} runs, in order`, async (t) => {
    t.timeout(LONG);
    const tmp = tempDir(t, "pki-doc-");
    for (const d of ["home", "bin", "work"]) mkdirSync(join(tmp, d));
    writeFileSync(join(tmp, "bin", "pki"), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(PKI)} "$@"\n`, { mode: 0o755 });
    const script = PREAMBLE(tmp, doc) + sh.map((b) => `echo "::: ${doc}:${b.line}" >&2\n${b.body}\n`).join("");
    writeFileSync(join(tmp, "doc.sh"), script);
    const r = await run("bash", [join(tmp, "doc.sh")], { cwd: tmp, timeout: LONG, env: { ...process.env } });
    const at = [...r.stderr.matchAll(/^::: (.*)$/gm)].pop()?.[1];
    if (doc === "README.md") {
      const pass = join(tmp, "home", ".config", "pki", "passphrase");
      t.is(statSync(pass).mode & 0o777, 0o600, "the set-up line writes the passphrase file 0600");
      t.true(readFileSync(pass, "utf8").trim().length >= 24, "a long random passphrase");
    }
    t.is(r.code, 0, `the block at ${at} failed (exit ${r.code}):\n${r.stderr.split("\n").slice(-15).join("\n")}`);
    // `a && b` hides a failing `a` from set -e: an error line from pki counts too, unless the block expects
    // one (`cmd || echo ...`).
    for (const part of r.stderr.split(/^(?=::: )/m).slice(1)) {
      const where = /^::: (.*)/.exec(part)[1];
      const block = sh.find((b) => `${doc}:${b.line}` === where);
      const errors = part.split("\n").filter((l) => /^pki: (?!warning:)/.test(l));
      if (!block.body.includes("||")) t.deepEqual(errors, [], `the block at ${where} printed an error`);
    }
  });
}
