/**
 * Command-line habits yargs lacks: "did you mean" for options (yargs suggests commands only, and only by
 * edit distance), and option values that start with '-' ('--not-before -2d', '--passphrase-file -',
 * '--domain -a.example'), which yargs-parser would read as flags. Runs before yargs, on the raw words.
 */
import { UsageError } from "./common.js";
import { COMMANDS, nameOf, positionalsOf, type CommandModule } from "./commands.js";
import { kebab, optionTable, type OptionTable } from "./option-table.js";

/** Optimal string alignment distance: one typo, including a swap of neighbours, counts 1. */
export function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** Candidates that start with `word`, else those within a typo or two of it. */
export function suggest(word: string, candidates: string[]): string[] {
  const prefixed = word.length >= 2 ? candidates.filter((c) => c.startsWith(word)) : [];
  if (prefixed.length) return prefixed.slice(0, 3);
  const limit = word.length <= 3 ? 1 : 2;
  return candidates.map((c) => [c, distance(word, c)] as const).filter(([, d]) => d <= limit)
    .sort((x, y) => x[1] - y[1]).map(([c]) => c).slice(0, 3);
}

const didYouMean = (s: string[]) => (s.length ? `: did you mean ${s.join(" or ")}?` : "");

/** A negative duration or number, or '-' (stdin): an option's value, never a flag of pki's. */
const DASH_VALUE = /^-(\d.*)?$/;
/** After an option that takes a value, a word with one leading '-' is that value ('--domain -a.example'). */
const DASH_WORD = /^-(?!-)/;

export interface Prepared { args: string[]; command?: CommandModule }

/** Checks every option against the command's own and joins '--opt -value' into '--opt=-value'. */
export function prepareArgs(args: string[]): Prepared {
  const at = commandIndex(args);
  const before = at < 0 ? args : args.slice(0, at);
  const dd = args.indexOf("--");
  if (at < 0 || (dd >= 0 && dd < at)) return { args: checkOptions(before, optionTable(), "pki") };
  const word = args[at];
  const command = COMMANDS.find((m) => nameOf(m) === word);
  if (!command) {
    const names = COMMANDS.map(nameOf);
    throw new UsageError(`unknown command "${word}"${didYouMean(suggest(word, names))} (see 'pki --help')`);
  }
  const table = optionTable(command);
  // Options before the command (`pki --depot DIR list`) go after it, where yargs looks for them.
  return {
    args: [
      word,
      ...checkOptions(before, table, `pki ${word}`),
      ...checkOptions(args.slice(at + 1), table, `pki ${word}`),
    ],
    command,
  };
}

/** An empty value ('--ip ""', a bare '--ip', 'pki rm "$UNSET"') never means "none" or "the default": it is refused. */
const emptyValue = (what: string) =>
  new UsageError(`empty ${what}: give it a value (an unset shell variable?), or leave it out`);
/** An empty secret gets the passphrase checks' own words (getPassphrase). */
const SECRET = /pass(phrase|word)$/;

/**
 * Refuses an empty positional, naming it; runs on yargs' arguments (options are judged on the words, below). Only an
 * empty word makes one: yargs also gives "" for '-' (stdin), which is no empty value.
 */
export function checkEmptyArguments(a: Record<string, unknown>, m: CommandModule, words: string[]): void {
  if (!words.includes("")) return;
  const empty = (v: unknown) => v === "" || (Array.isArray(v) && v.includes(""));
  const p = positionalsOf(m).find((x) => empty(a[x.name]));
  if (p) throw emptyValue((p.variadic ? p.name.replace(/s$/, "") : p.name).toUpperCase());
}

/** Where the command is: the first word that is not an option, nor the value of a leading --depot (etcd-ca's habit). */
function commandIndex(args: string[]): number {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--") return -1;
    if (args[i] === "--depot") i++;
    else if (!args[i].startsWith("-")) return i;
  }
  return -1;
}

function checkOptions(words: string[], t: OptionTable, where: string): string[] {
  const out: string[] = [];
  const help = words.some((w) => /^(--help|-h)$/.test(w));
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (w === "--") return [...out, ...words.slice(i)];
    if (w.startsWith("--")) {
      const eq = w.indexOf("=");
      const name = kebab(w.slice(2, eq < 0 ? undefined : eq));
      const bare = name.startsWith("no-") && t.flags.has(name.slice(3)) ? name.slice(3) : name;
      if (!t.names.has(bare)) {
        const hint = didYouMean(suggest(bare, t.long).map((s) => `--${s}`));
        throw new UsageError(`unknown option --${name} for '${where}'${hint} (see '${where} --help')`);
      }
      const next = words[i + 1];
      const value = eq >= 0 ? w.slice(eq + 1) : next === undefined || next.startsWith("--") ? "" : next;
      if (!t.flags.has(bare) && value === "" && !SECRET.test(bare) && !help) throw emptyValue(`--${bare}`);
      if (eq < 0 && !t.flags.has(bare) && next !== undefined && DASH_WORD.test(next)) {
        out.push(`${w}=${next}`);
        i++;
        continue;
      }
    } else if (w.startsWith("-") && w.length > 1 && !DASH_VALUE.test(w)) {
      for (const c of w.slice(1).split("=")[0]) {
        if (!t.names.has(c)) throw new UsageError(`unknown option -${c} for '${where}' (see '${where} --help')`);
      }
    }
    out.push(w);
  }
  return out;
}
