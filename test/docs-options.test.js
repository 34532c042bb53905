// README.md and docs/*.md agree with --help: every `pki ...` line of their code blocks (and inline `pki CMD ...`
// code) names a command pki has and options that command's yargs builder declares (the table `pki CMD --help`
// prints from), and every choice list written as `--opt a|b|c` is the builder's.
import test from "ava";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { COMMANDS, nameOf } from "../dist/cli/commands.js";
import { optionTable } from "../dist/cli/option-table.js";
import { ROOT } from "./_helpers.js";

const DOCS = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
const tables = new Map(COMMANDS.map((m) => [nameOf(m), optionTable(m)]));
const top = optionTable();

/** The code blocks' lines of a markdown text, and its inline code spans that start with `pki `, numbered. */
function codeLines(text) {
  const out = [];
  let inside = false;
  text.split("\n").forEach((line, i) => {
    if (/^\s*```/.test(line)) inside = !inside;
    else if (inside) out.push([i + 1, line]);
    // inline: only where a command or an option follows (`pki Root CA` is a name, not a command)
    else for (const [, span, word] of line.matchAll(/`(pki ([^\s`]+)[^`]*)`/g))
      if (tables.has(word) || word.startsWith("-")) out.push([i + 1, span.replace(/\\\|/g, "|")]);
  });
  return out;
}

/** Each `pki ...` command of a line that starts with one (`a && b`, `a | b` and `a; b` hold several), as words. */
function pkiCommands(line) {
  // scripts/bench's report header ("pki bench — DATE, nproc ...") is output, not a command
  if (!/^\s*(sudo\s+)?pki\s/.test(line) || /^pki bench — /.test(line)) return [];
  const code = line.replace(/\s#.*$/, "");
  return code.split(/\s(?:&&|\|\||\||;)\s/).map((s) => s.trim().replace(/^sudo\s+/, ""))
    .filter((s) => s.startsWith("pki ")).map((s) => s.match(/"[^"]*"|'[^']*'|\S+/g).slice(1));
}

/** What is wrong with `pki WORDS` as the builders see it, or undefined. */
function problem(words) {
  let i = 0;
  while (i < words.length && words[i].startsWith("-")) i += words[i] === "--depot" ? 2 : 1;
  const command = words[i];
  const t = command === undefined ? top : tables.get(command);
  if (!t) return `unknown command "${command}"`;
  for (const w of [...words.slice(0, i), ...words.slice(i + 1)]) {
    if (w === "--" || w === "-") break;
    const long = /^--([a-z][a-z0-9-]*)(=|$)/.exec(w);
    if (long) {
      const name = long[1].startsWith("no-") && t.flags.has(long[1].slice(3)) ? long[1].slice(3) : long[1];
      if (!t.names.has(name) && !(command && name === "depot" && tables.get(command).names.has("depot")))
        return `pki ${command ?? ""} has no option --${long[1]}`;
    } else if (/^-[a-zA-Z]$/.test(w) && !t.names.has(w[1])) return `pki ${command ?? ""} has no option ${w}`;
  }
  return undefined;
}

test("every option in the docs' code blocks is one the command declares", (t) => {
  let checked = 0;
  const problems = [];
  for (const doc of DOCS) {
    for (const [n, line] of codeLines(readFileSync(join(ROOT, doc), "utf8"))) {
      for (const words of pkiCommands(line)) {
        checked++;
        const p = problem(words);
        if (p) problems.push(`${doc}:${n}: ${p}: ${line.trim()}`);
      }
    }
  }
  t.deepEqual(problems, []);
  t.true(checked > 100, `${checked} pki command lines checked`);
});

test("every choice list the docs write as `--opt a|b|c` is the builder's", (t) => {
  let checked = 0;
  for (const doc of DOCS) {
    const text = readFileSync(join(ROOT, doc), "utf8");
    for (const [, opt, list] of text.matchAll(/`--([a-z][a-z0-9-]*) ([A-Za-z0-9-]+(?:\\?\|[A-Za-z0-9-]+)+)`/g)) {
      const written = list.split(/\\?\|/).sort();
      const declared = [...tables.values()].map((tb) => tb.choices[opt]).filter(Boolean).map((c) => c.map(String).sort());
      checked++;
      t.true(declared.length > 0, `${doc}: --${opt} has no choices in any command`);
      t.true(declared.some((d) => d.join("|") === written.join("|")),
        `${doc}: --${opt} ${written.join("|")}, but --help says ${declared.map((d) => d.join("|")).join(" / ")}`);
    }
  }
  t.true(checked >= 3, `${checked} choice lists checked`);
});
