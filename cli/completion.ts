/**
 * `pki completion [bash|zsh]`: a static completion script (commands, each command's options, the choices
 * of options that have them, file names otherwise). Static, so a TAB never starts node.
 */
import type { Argv } from "yargs";
import { nameOf, positionalsOf, type CommandModule } from "./command-spec.js";
import { optionTable } from "./option-table.js";

export const command = "completion [shell]";
export const describe =
  'print a shell completion script: eval "$(pki completion bash)" in ~/.bashrc (or zsh in ~/.zshrc)';

export function builder(y: Argv) {
  return y
    .positional("shell", {
      type: "string",
      choices: ["bash", "zsh"],
      describe: "the shell (default: the one in $SHELL, else bash)",
    })
    .example("$0 completion bash > ~/.local/share/bash-completion/completions/pki", "completion in every new bash")
    .example("echo 'eval \"$(pki completion zsh)\"' >> ~/.zshrc", "completion in every new zsh");
}

/** `commands`: the table pki runs (commands.ts passes it in: importing it here would be an import circle). */
export function handler(a: { shell?: string }, commands: CommandModule[]) {
  const shell = a.shell ?? (/zsh$/.test(process.env.SHELL ?? "") ? "zsh" : "bash");
  process.stdout.write(script(shell as "bash" | "zsh", commands));
}

const words = (xs: string[]) => xs.join(" ").replace(/[^\w ./-]/g, "");

export function script(shell: "bash" | "zsh", COMMANDS: CommandModule[]): string {
  const top = optionTable();
  const cases: string[] = [];
  const choices = new Map<string, string[]>();
  for (const m of COMMANDS) {
    const t = optionTable(m);
    // A NAME already in the depot (new-cert makes a new one: nothing to complete).
    const names = nameOf(m) !== "new-cert" && positionalsOf(m).some((p) => p.name === "name") ? "; names=1" : "";
    const vals = t.long.filter((o) => !t.flags.has(o)).map((o) => `--${o}`);
    cases.push(`    ${nameOf(m)}) opts="${words(t.long.map((o) => `--${o}`))}" vals="${words(vals)}"${names} ;;`);
    for (const [o, cs] of Object.entries(t.choices)) if (t.long.includes(o)) choices.set(o, cs.map(String));
  }
  const choiceCases = [...choices].map(
    ([o, cs]) => `    --${o}) COMPREPLY=($(compgen -W "${words(cs)}" -- "$cur")); return ;;`,
  );
  const body = `# pki completion for ${shell} (from 'pki completion ${shell}')
  _pki_names() { # the depot's names, as 'pki list' prints them (its first column; a name is [A-Za-z0-9._-])
  command pki list 2>/dev/null | awk 'NR > 1 && $1 ~ /^[A-Za-z0-9._-]+$/ { print $1 }'
  }
  _pki() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} cmd= opts vals names= i
  for ((i = 1; i < COMP_CWORD; i++)); do
  case \${COMP_WORDS[i]} in -*) ;; *) cmd=\${COMP_WORDS[i]}; break ;; esac
  done
  if [ -z "$cmd" ]; then
  COMPREPLY=($(compgen -W "${words(COMMANDS.map(nameOf))} ${words(top.long.map((o) => `--${o}`))}" -- "$cur"))
  return
  fi
  case $prev in
  ${choiceCases.join("\n")}
  --issuer|--parent|--client|--revoked-client) COMPREPLY=($(compgen -W "$(_pki_names)" -- "$cur")); return ;;
  esac
  case $cmd in
  ${cases.join("\n")}
  *) opts= vals= ;;
  esac
  if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  elif [ -n "$names" ] && [[ " $vals " != *" $prev "* ]]; then COMPREPLY=($(compgen -W "$(_pki_names)" -- "$cur"))
  else COMPREPLY=($(compgen -f -- "$cur")); fi
  }
  complete -o filenames -F _pki pki
  `;
  return shell === "zsh"
    ? `autoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n${body}`
    : body;
}
