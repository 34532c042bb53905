// A SoftHSM2 token of its own for each test: a private SOFTHSM2_CONF and token directory, so tests never share a
// token or a slot. pkcs11-tool (OpenSC) reads the token as an operator would.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run, tempDir } from "./_helpers.js";

export const MODULE = "/usr/lib/softhsm/libsofthsm2.so";
export const PIN = "123456";
export const SO_PIN = "654321";

/** A fresh token labelled `label` (PIN `pin`); `env` carries its SOFTHSM2_CONF to every process that opens it. */
export async function softhsm(t, { label = "pki-ca", pin = PIN } = {}) {
  const dir = tempDir(t, "pki-hsm-");
  mkdirSync(join(dir, "tokens"), { mode: 0o700 });
  const conf = join(dir, "softhsm2.conf");
  writeFileSync(conf, `directories.tokendir = ${join(dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  const env = { ...process.env, SOFTHSM2_CONF: conf };
  const args = ["--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", SO_PIN];
  const init = await run("softhsm2-util", args, { env });
  if (init.code !== 0) t.fail(`softhsm2-util --init-token: ${init.stderr}`);
  const tool = (args) => run("pkcs11-tool", ["--module", MODULE, "--token-label", label, ...args], { env });
  const uri = (path, query = "") => `pkcs11:token=${label};${path}?module-path=${MODULE}${query}`;
  return { dir, env, label, pin, tool, uri };
}

/** pkcs11-tool --list-objects, split into objects: one { kind, label, id, text } per object. */
export async function listObjects(hsm) {
  const r = await hsm.tool(["--login", "--pin", hsm.pin, "--list-objects"]);
  if (r.code !== 0) throw new Error(r.stderr);
  return r.out.split(/\n(?=\S)/).filter((s) => /Object;/.test(s)).map((text) => ({
    kind: /^(\w+ Key) Object/.exec(text)?.[1] ?? text.split(";")[0],
    label: /label:\s*(.*)/.exec(text)?.[1]?.trim(),
    id: /ID:\s*(\S*)/.exec(text)?.[1],
    text,
  }));
}
