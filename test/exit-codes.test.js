// The README's exit-status rule, command by command: 2 for a usage error (the command line, or a fixtures spec,
// malformed in itself), 1 for everything else (a value the checks refuse, a duplicate or unknown name, ...).
// Each refusal is one line on stderr and leaves the depot as it was.
import test from "ava";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { COMMANDS, nameOf, positionalsOf } from "../dist/cli/commands.js";
import { prepareArgs } from "../dist/cli/argv.js";
import { optionTable } from "../dist/cli/option-table.js";
import { issue, newDepot, openssl, pki, snapshot } from "./_helpers.js";

/** Runs `pki ARGS` in the depot's dir and checks the code, the one line and that nothing changed. */
async function refused(t, dir, args, code, re) {
  const before = snapshot(join(dir, ".pki"));
  const r = await pki(dir, args, { timeout: 60_000 });
  const what = `pki ${args.map((a) => (a === "" ? '""' : a)).join(" ")}`;
  t.is(r.code, code, `${what}: ${r.stderr}`);
  t.regex(r.stderr, /^pki: [^\n]+\n$/, `${what}: one line`);
  if (re) t.regex(r.stderr, re, what);
  t.deepEqual(snapshot(join(dir, ".pki")), before, `${what}: the depot is unchanged`);
}

/** Runs the cases a few at a time (the machine is shared; each is its own process). */
async function walk(cases, fn, width = 3) {
  const queue = [...cases];
  await Promise.all(Array.from({ length: width }, async () => {
    while (queue.length) await fn(queue.shift());
  }));
}

/** Stand-ins for a command's positionals: its first choice, else a name. */
function standIns(m) {
  const t = optionTable(m);
  return positionalsOf(m).filter((p) => p.required).map((p) => String(t.choices[p.name]?.[0] ?? "x"));
}
/** Options a command demands (yargs' demandOption), so that a case reaches what it tests. */
const DEMANDED = { import: ["--from", "etcd-ca"] };

test("every command's usage errors exit 2: unknown option, missing or extra argument, empty values, choices", async (t) => {
  const dir = await newDepot(t);
  const cases = [];
  for (const m of COMMANDS) {
    const name = nameOf(m);
    const t2 = optionTable(m);
    const pos = positionalsOf(m);
    const demanded = DEMANDED[name] ?? [];
    const base = [name, ...standIns(m), ...demanded];
    cases.push([[...base, "--no-such-option"], /unknown option --no-such-option/]);
    if (pos.some((p) => p.required)) cases.push([[name], /^pki: missing [A-Z]+/]);
    if (!pos.some((p) => p.variadic)) {
      const all = pos.map((p) => String(t2.choices[p.name]?.[0] ?? "x"));
      cases.push([[name, ...all, "extra", ...demanded], /unexpected argument/]);
    }
    pos.forEach((p, i) => {
      if (p.variadic) return;
      const args = [name, ...standIns(m), ...demanded];
      args[1 + i] = "";
      cases.push([args, t2.choices[p.name] ? /Invalid values/ : new RegExp(`^pki: empty ${p.name.toUpperCase()}: `)]);
    });
    for (const [o, choices] of Object.entries(t2.choices)) {
      if (pos.some((p) => p.name === o)) cases.push([[name, "bogus"], /Invalid values/]);
      else cases.push([[...base, `--${o}`, choices.every((c) => typeof c === "number") ? "1" : "bogus"], /Invalid values/]);
    }
    // An empty value, as '--opt ""' and as a bare '--opt' at the end (every option: the next test).
    const values = t2.long.filter((o) => !t2.flags.has(o) && !/pass(phrase|word)$/.test(o) && !t2.choices[o]);
    if (values.length) {
      cases.push([[...base, `--${values[0]}`, ""], new RegExp(`^pki: empty --${values[0]}: `)]);
      cases.push([[...base, `--${values.at(-1)}`], new RegExp(`^pki: empty --${values.at(-1)}: `)]);
    }
  }
  t.true(cases.length > 100, `${cases.length} cases`);
  await walk(cases, ([args, re]) => refused(t, dir, args, 2, re));
});

test("an empty value of any option of any command is refused before yargs reads it, naming the option", (t) => {
  for (const m of COMMANDS) {
    const t2 = optionTable(m);
    const base = [nameOf(m), ...standIns(m), ...(DEMANDED[nameOf(m)] ?? [])];
    for (const o of t2.long.filter((o) => !t2.flags.has(o) && !/pass(phrase|word)$/.test(o))) {
      for (const args of [[...base, `--${o}`, ""], [...base, `--${o}=`], [...base, `--${o}`]]) {
        const e = t.throws(() => prepareArgs(args), undefined, args.join(" "));
        t.is(e?.name, "UsageError", args.join(" "));
        t.is(e?.message, `empty --${o}: give it a value (an unset shell variable?), or leave it out`);
      }
      t.notThrows(() => prepareArgs([...base, `--${o}`, "--help"]), "help is help");
    }
  }
});

test("usage errors are 2 and refused values 1 in every command that had them the other way round", async (t) => {
  const dir = await newDepot(t);
  await issue(t, dir, "server1");
  await openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
    join(dir, "own.key"), "-out", join(dir, "own.csr"), "-subj", "/CN=own", "-addext", "subjectAltName=DNS:own.example"]);
  const p = ["--passphrase-file", "pass"];
  const usage = [
    [["revoke", "--reason", "stolen", "server1"], /^pki: unknown revocation reason "stolen": use one of unspecified, /],
    [["new-cert", ...p, "--key-type", "dsa", "x"], /Invalid values: Argument: key-type/],
    [["new-cert", ...p, "--server", "--client", "x"], /^pki: --server and --client conflict: choose one\n$/],
    [["issue", ...p, "--client", "--peer", "x"], /^pki: --client and --peer conflict: choose one\n$/],
    [["sign", ...p, "--ip", "10.0.0.1", "server1"], /^pki: --ip\/--domain\/--uri\/--email with sign need --csr/],
    [["renew", ...p, "--csr", "own.csr", "--rekey", "server1"], /^pki: --csr conflicts with --rekey/],
    [["new-cert", ...p, "--csr", "own.csr", "--ca", "x"], /^pki: --csr conflicts with --ca/],
    [["sign", ...p, "--csr", "own.csr", "--intermediate", "x"], /^pki: --intermediate with an external key/],
  ];
  const failures = [
    [["issue", ...p, "server1"], /^pki: "server1" already exists in the depot\n$/],
    [["new-cert", ...p, "server1"], /^pki: "server1" already exists in the depot\n$/],
    [["init", ...p, "--intermediate", "server1"], /^pki: "server1" already exists in the depot\n$/],
    [["new-cert", ...p, "--ip", "1.2.3", "x"], /^pki: invalid IP address "1\.2\.3"/],
    // a value may start with '-' (the README): it is the option's value, which the checks then refuse
    [["new-cert", ...p, "--domain", "-a.example", "x"], /^pki: invalid domain "-a\.example"/],
    [["issue", ...p, "--domain", "-a.example", "x"], /^pki: invalid domain "-a\.example"/],
    [["sign", ...p, "--not-before", "-2x", "server1"], /invalid/],
    [["revoke", "nosuch"], /unknown name "nosuch"/],
    [["check", "--url", "http://127.0.0.1:1", "--cacert", "ca.crt"], /^pki: --url must be https:\/\//],
    [["serve", "--port", "70000"], /^pki: invalid --port 70000: expected 0-65535\n$/],
    [["acme", "serve", "--port", "70000"], /^pki: invalid --port 70000: expected 0-65535\n$/],
  ];
  await walk(usage, ([args, re]) => refused(t, dir, args, 2, re));
  await walk(failures, ([args, re]) => refused(t, dir, args, 1, re));
});

test("a fixtures spec follows the same rule: malformed is 2, a refused value or a duplicate name is 1", async (t) => {
  const dir = await newDepot(t);
  const cases = [
    ['cas: [{name: r}]\ncerts: [{name: a, ip: "1.2.3"}]\n', 1, /^pki: s\.yaml: certs\[0\]\.ip: invalid IP address "1\.2\.3"/],
    ["cas: [{name: r}]\ncerts: [{name: a, domain: -a.example}]\n", 1, /certs\[0\]\.domain: invalid domain/],
    ["cas: [{name: r}]\ncerts: [{name: r}]\n", 1, /certs\[0\]\.name: duplicate name "r"/],
    ["cas: [{name: r}]\ncerts: [{name: a, issuer: nosuch}]\n", 1, /certs\[0\]\.issuer: unknown CA "nosuch"/],
    ['cas: [{name: r}]\ncerts: [{name: a, ip: ""}]\n', 2, /certs\[0\]\.ip: must be a non-empty string/],
    ['cas: [{name: r}]\ncerts: [{name: a, domain: ["a.example", ""]}]\n', 2, /certs\[0\]\.domain\[1\]: must be a non-empty/],
    ["cas: [{name: r}]\ncerts: [{name: a, bogus: 1}]\n", 2, /certs\[0\]\.bogus: unknown key/],
    ["cas: [{name: r}]\ncerts: [{name: a, usage: both}]\n", 2, /certs\[0\]\.usage: unknown usage "both"/],
    ["cas: [{name: r, expires: 1d, notAfter: 2d}]\n", 2, /cas\[0\]\.notAfter: give either expires or notAfter/],
  ];
  for (const [spec, code, re] of cases) {
    writeFileSync(join(dir, "s.yaml"), `passphrase: x\n${spec}`);
    await refused(t, dir, ["fixtures", "--out", "o", "s.yaml"], code, re);
  }
});
