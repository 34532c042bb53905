// Several real `pki trust` processes at once, on different depots (some of a second real user, with --as-owner),
// against the real system store: pki's machine-wide lock serialises them, so the CA bundle ends with every root it
// had exactly once. And the bundle check: an update-ca-certificates run that leaves a bundle with every root twice
// (what two runs at once did) is caught before anything is recorded, and the bundle before is put back.
import test from "ava";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { newDepot, pki, run } from "./_helpers.js";
import { bundleCounts, guardSystem, makeUser, pemBody, rootHome, systemState } from "./_trust.js";
import { blobFile } from "./_state.js";

/** Every certificate of `expected` (a Map of counts) is in the bundle exactly that often, and nothing else is. */
function assertBundle(t, expected, what) {
  const now = bundleCounts();
  const wrong = [...new Set([...now.keys(), ...expected.keys()])].filter((k) => now.get(k) !== expected.get(k));
  t.is(wrong.length, 0, `${what}: ${wrong.length} certificates not there exactly as expected (bundle: ${now.size})`);
}
const plus = (m, ...bodies) => new Map([...m, ...bodies.map((b) => [b, 1])]);

const title = "install and uninstall from several depots at once: every root once, and the store as before";
test.serial(title, async (t) => {
  const files = await guardSystem(t, 10 * 60_000);
  const user = await makeUser(t);
  const before = systemState(files);
  const jksList = async () => {
    const r = await run("keytool", ["-list", "-cacerts", "-storepass", "changeit"]);
    t.is(r.code, 0, r.stderr);
    return r.out;
  };
  const jksBefore = await jksList();
  const roots = bundleCounts();
  t.true(roots.size > 50 && [...roots.values()].every((n) => n === 1), "the machine's bundle: each root once");
  const depots = [];
  for (let i = 0; i < 4; i++) depots.push(await newDepot(t, ["--permit-domain", `d${i}.example.test`]));
  // Read before the chown below: this process reads its own depots, as their user would.
  const body = await Promise.all(depots.map(async (d) => pemBody(await blobFile(d, "ca"))));
  // Two of them are the second user's, installed by root with --as-owner, as the README says.
  for (const d of depots.slice(2)) await run("chown", ["-R", `${user.uid}:${user.gid}`, d]);
  const env = { HOME: rootHome(t), XDG_STATE_HOME: "" };
  const trust = (i, action) => pki(depots[i], ["trust", action, "--as-owner", "--stores", "system,java"], { env });
  const all = async (ops) => {
    const rs = await Promise.all(ops.map(([i, action]) => trust(i, action)));
    rs.forEach((r, k) => t.is(r.code, 0, `${ops[k].join(" ")}: ${r.stderr}`));
  };

  await all([[0, "install"], [1, "install"], [2, "install"]]);
  assertBundle(t, plus(roots, body[0], body[1], body[2]), "after three installs at once");
  await all([[0, "uninstall"], [3, "install"], [1, "uninstall"]]);
  assertBundle(t, plus(roots, body[2], body[3]), "after two uninstalls and an install at once");
  await all([[2, "uninstall"], [3, "uninstall"]]);
  assertBundle(t, roots, "after the last two uninstalls at once");
  const after = systemState(files);
  // cacerts: the JKS file keytool rewrites; its bytes are put back only by an uninstall nobody interleaved with,
  // else its entries (aliases, dates, fingerprints) are.
  delete before[files[1]];
  delete after[files[1]];
  t.deepEqual(after, before, "anchors, links and the bundle as before");
  t.is(await jksList(), jksBefore, "cacerts holds the entries it held");
});

const title2 = "a bundle the store tool doubled is refused before it is recorded: the bundle before is put back";
test.serial(title2, async (t) => {
  const files = await guardSystem(t, 6 * 60_000);
  // The real update-ca-certificates, then what a second run at the same moment did to its output: every root twice.
  const bin = rootHome(t);
  mkdirSync(join(bin, "bin"));
  const wrapper = join(bin, "bin", "update-ca-certificates");
  const real = (await run("sh", ["-c", "command -v update-ca-certificates"])).out.trim();
  writeFileSync(
    wrapper,
    `#!/bin/sh\n"${real}" "$@" || exit\n` +
      `b=/etc/ssl/certs/ca-certificates.crt\ncat "$b" "$b" > "$b.x" && mv "$b.x" "$b"\n`,
  );
  chmodSync(wrapper, 0o755);
  const home = rootHome(t);
  const env = { HOME: home, XDG_STATE_HOME: "", PATH: `${join(bin, "bin")}:${process.env.PATH}` };
  const dir = await newDepot(t, ["--permit-domain", "example.test"]);
  const before = systemState(files);
  const r = await pki(dir, ["trust", "install", "--stores", "system"], { env });
  t.is(r.code, 1, r.stderr);
  t.regex(
    r.stderr,
    new RegExp(
      "^pki: update-ca-certificates left a bad /etc/ssl/certs/ca-certificates\\.crt " +
        "\\(\\d+ certificates appear more often than before; .*\\): the previous bundle was put back\n$",
    ),
  );
  t.deepEqual(systemState(files), before, "the bundle, anchors and links as before");
  const st = await pki(dir, ["trust", "status", "--json", "--stores", "system"], {
    env: { HOME: home, XDG_STATE_HOME: "" },
  });
  t.deepEqual(
    JSON.parse(st.out).cas.map((c) => [c.trusted, c.byPki]),
    [[false, false]],
    "nothing recorded",
  );
});
