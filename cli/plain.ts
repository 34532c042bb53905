/**
 * The read-only commands in their plain forms (`pki list [--json]`, `pki status [NAME] [--json] [--warn D]`,
 * `pki chain [NAME] [--no-root]`, each with `--depot DIR`) run without yargs, which is most of pki's start-up.
 * Anything else (help, a repeated, misspelt or unusual option) is left to main.ts, which words every error.
 */
interface Form { flags: string[]; values: string[]; positional: boolean; defaults: Record<string, unknown> }
const FORMS: Record<string, Form> = {
  list: { flags: ["json"], values: [], positional: false, defaults: {} },
  status: { flags: ["json"], values: ["warn"], positional: true, defaults: { warn: "30d" } },
  chain: { flags: ["root", "no-root"], values: [], positional: true, defaults: { root: true } },
};

/** The command and its arguments as yargs would give them, or undefined when yargs must parse them. */
export function plainCommand(args: string[]): { name: string; argv: Record<string, unknown> } | undefined {
  const [name, ...rest] = args;
  const form = Object.hasOwn(FORMS, name) ? FORMS[name] : undefined;
  if (!form) return undefined;
  const argv: Record<string, unknown> = { ...form.defaults, _: [name], $0: "pki" };
  const seen = new Set<string>();
  for (let i = 0; i < rest.length; i++) {
    const w = rest[i];
    const m = /^--([a-z][a-z-]*)(?:=(.*))?$/.exec(w);
    if (m) {
      const [, opt, val] = m;
      if (seen.has(opt.replace(/^no-/, ""))) return undefined;
      seen.add(opt.replace(/^no-/, ""));
      if (opt === "depot" || form.values.includes(opt)) {
        const v = val ?? rest[++i];
        if (!v || v.startsWith("-")) return undefined;
        argv[opt] = v;
      } else if (val === undefined && form.flags.includes(opt)) {
        if (opt.startsWith("no-")) argv[opt.slice(3)] = false;
        else argv[opt] = true;
      } else return undefined;
    } else if (w === "" || w.startsWith("-") || !form.positional || argv.name !== undefined) return undefined;
    else argv.name = w;
  }
  return { name, argv };
}

export async function runPlain(c: { name: string; argv: Record<string, unknown> }): Promise<void> {
  const { failWith, watchStdout } = await import("./exit.js");
  if (c.name === "chain") watchStdout(); // list and status write with cli/out.ts: no stdout stream to watch
  const modules = {
    list: () => import("./list.js"),
    status: () => import("./status.js"),
    chain: () => import("./chain.js"),
  };
  try {
    const m = await modules[c.name as keyof typeof modules]();
    await m.handler(c.argv as never);
  } catch (e) {
    failWith(e);
  }
}
