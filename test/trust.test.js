// `pki trust`: the real system store (update-ca-certificates), an NSS db (certutil) and the JDK's cacerts (keytool),
// judged by curl, Python, certutil and a Java client with no CA flags. These tests change machine-wide state (CI runs
// as root on a throwaway machine): they run serially, hold the trust tests' lock (_trust.js) while they look at or
// change the system store, and put back every byte they changed.
import test from "ava";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PKI, curl, issue, newDepot, pki, pkiOk, run, tempDir } from "./_helpers.js";
import { blobFile } from "./_state.js";
import { serve } from "./_serve.js";
import { cacertsPath, guardSystem, lockTrustTests, nssHome } from "./_trust.js";

const CLIENT_JAVA = fileURLToPath(new URL("java/HttpsGet.java", import.meta.url));
const sha = (p) => (existsSync(p) ? createHash("sha256").update(readFileSync(p)).digest("hex") : null);
/** Each file's sha256, mode and owner: "as before" means all three. */
const hashes = (files) =>
  Object.fromEntries(
    files.map((f) => [
      f,
      existsSync(f) ? `${sha(f)} ${statSync(f).mode.toString(8)} ${statSync(f).uid}:${statSync(f).gid}` : null,
    ]),
  );


const python = (url) =>
  run("python3", [
    "-c",
    "import ssl,sys,urllib.request as u; print(u.urlopen(sys.argv[1], context=ssl.create_default_context(), timeout=20).read().decode())",
    url,
  ]);

test.serial(
  "install: curl, Python, NSS (C,,) and Java trust the CA with no flags; uninstall: curl exits 60 and every store is byte-identical",
  async (t) => {
    const files = await guardSystem(t, 8 * 60_000);
    const home = await nssHome(t);
    const nssdb = join(home, ".pki", "nssdb");
    // The db belongs to a user while root installs (sudo keeping HOME): uninstall must leave it theirs, 0600.
    await run("chown", ["-R", "nobody:nogroup", join(home, ".pki")]);
    files.push(...["cert9.db", "key4.db", "pkcs11.txt"].map((f) => join(nssdb, f)));
    const env = { HOME: home, XDG_STATE_HOME: "" };
    const dir = await newDepot(t, ["--permit-ip", "127.0.0.0/8", "--permit-domain", "localhost"]);
    await issue(t, dir, "server1", ["--ip", "127.0.0.1", "--domain", "localhost"]);
    const s = serve(t, dir, ["--name", "server1", "--no-client-auth", "--passphrase-file", "pass"]);
    const url = `https://127.0.0.1:${await s.ready}/v1/versions`;
    const before = hashes(files);
    const state = async () =>
      JSON.parse((await pkiOk(t, dir, ["trust", "status", "--json"], { env })).out).cas.filter((r) => r.ca === "ca");

    t.deepEqual(
      (await state()).map((r) => [r.store, r.trusted]),
      [
        ["system", false],
        ["nss", false],
        ["java", false],
      ],
    );
    t.is((await curl([url])).code, 60, "curl does not trust the CA yet");

    const inst = await pkiOk(t, dir, ["trust", "install"], { env });
    t.notRegex(inst.stderr, /no name constraints/, "the root is constrained: no warning");
    t.regex(inst.stderr, /ca: installed in the system store/);
    t.regex(inst.stderr, /ca: installed in the nss store/);
    const fp = (await state())[0].sha256;
    t.deepEqual(
      (await state()).map((r) => [r.store, r.trusted]),
      [
        ["system", true],
        ["nss", true],
        ["java", true],
      ],
    );

    const c = await curl([url]);
    t.is(c.code, 0, c.stderr);
    t.is(c.out, `["v1"]`);
    const py = await python(url);
    t.is(py.code, 0, py.stderr);
    t.regex(py.out, /\["v1"\]/);
    const list = await run("certutil", ["-L", "-d", `sql:${nssdb}`]);
    t.regex(list.out, new RegExp(`^pki-${fp}\\s+C,,\\s*$`, "m"));
    const java = await run("java", [CLIENT_JAVA, url], { timeout: 180_000 });
    t.is(java.code, 0, java.stderr);
    t.regex(java.out, /^200 \["v1"\]/);

    const installed = hashes(files);
    const again = await pkiOk(t, dir, ["trust", "install"], { env });
    t.regex(again.stderr, /ca: already trusted by the system store/);
    t.deepEqual(hashes(files), installed, "a second install changes nothing");

    const un = await pkiOk(t, dir, ["trust", "uninstall"], { env });
    t.regex(un.stderr, /ca: removed from the system store/);
    t.regex(un.stderr, /ca: removed from the nss store/);
    t.is((await curl([url])).code, 60, "after uninstall curl refuses again");
    t.not((await python(url)).code, 0);
    t.not((await run("java", [CLIENT_JAVA, url], { timeout: 180_000 })).code, 0);
    t.deepEqual(hashes(files), before, "bundle, NSS db and cacerts are byte-identical to before");
    t.deepEqual(
      (await state()).map((r) => [r.store, r.trusted]),
      [
        ["system", false],
        ["nss", false],
        ["java", false],
      ],
    );
    t.deepEqual(
      readdirSync("/usr/local/share/ca-certificates").filter((n) => n.startsWith("pki-")),
      [],
    );
  },
);

test.serial(
  "an unconstrained root: install warns and suggests constraints; uninstall after another change keeps that change",
  async (t) => {
    t.timeout(4 * 60_000);
    const home = await nssHome(t);
    const nssdb = join(home, ".pki", "nssdb");
    const env = { HOME: home, XDG_STATE_HOME: "" };
    const dir = await newDepot(t);
    const inst = await pkiOk(t, dir, ["trust", "install", "--stores", "nss"], { env });
    t.regex(inst.stderr, /warning: the CA "ca" has no name constraints.*--permit-domain/);
    // Someone else adds a CA to the same db: uninstall must not roll that back.
    const other = await newDepot(t);
    const add = await run("certutil", [
      "-A",
      "-d",
      `sql:${nssdb}`,
      "-t",
      "C,,",
      "-n",
      "someone-else",
      "-i",
      await blobFile(other, "ca"),
    ]);
    t.is(add.code, 0, add.stderr);
    const un = await pkiOk(t, dir, ["trust", "uninstall", "--stores", "nss"], { env });
    t.regex(un.stderr, /changed by others since install: only pki's entry was removed/);
    const list = (await run("certutil", ["-L", "-d", `sql:${nssdb}`])).out;
    t.regex(list, /someone-else/);
    t.notRegex(list, /pki-[0-9a-f]{64}/);
  },
);

test.serial("bad requests: one line, nothing changed", async (t) => {
  await lockTrustTests(t, 3 * 60_000); // cacerts must not change under it
  const dir = await newDepot(t);
  await issue(t, dir, "leaf1");
  const emptyHome = tempDir(t, "pki-home-");
  const env = { HOME: emptyHome, XDG_STATE_HOME: "" };
  const cases = [
    [["trust", "install", "--stores", "nss,bogus"], 2, /unknown trust store "bogus"/],
    [
      ["trust", "install", "--ca", "leaf1", "--stores", "nss"],
      1,
      /"leaf1" is not a CA: only CA certificates go into a trust store/,
    ],
    [["trust", "install", "--stores", "nss"], 1, /the nss trust store is not available: no NSS database found/],
    [["trust", "frobnicate"], 2, /Invalid values|choices/i],
  ];
  for (const [args, code, re] of cases) {
    const r = await pki(dir, args, { env });
    t.is(r.code, code, `${args.join(" ")}: ${r.stderr}`);
    t.regex(r.stderr, re);
    t.is(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
  const cacerts = await cacertsPath();
  const before = sha(cacerts);
  const wrong = await pki(dir, ["trust", "install", "--stores", "java"], {
    env: { ...env, PKI_CACERTS_PASSWORD: "wrong" },
  });
  t.is(wrong.code, 1);
  t.regex(wrong.stderr, /^pki: keytool -list failed: keytool error: .*password was incorrect\n$/);
  t.is(sha(cacerts), before);
  const st = await pkiOk(t, dir, ["trust", "status", "--json", "--stores", "nss,java"], { env });
  t.deepEqual(
    JSON.parse(st.out).unavailable.map((u) => u.store),
    ["nss"],
  );
  t.regex(JSON.parse(st.out).unavailable[0].reason, /no NSS database found/);
  t.regex(
    (await pkiOk(t, dir, ["trust", "status", "--stores", "nss"], { env })).out,
    /nss\s+unavailable\s+no NSS database found/,
  );
  t.false(existsSync(join(emptyHome, ".local")), "no state written");
});

test.serial(
  "without the rights a store needs: one line naming the store and the sudo command; no store changes, not even a writable one",
  async (t) => {
    const files = await guardSystem(t, 4 * 60_000);
    const home = await nssHome(t);
    const dir = await newDepot(t, ["--permit-domain", "example.test"]);
    const nssFiles = ["cert9.db", "key4.db", "pkcs11.txt"].map((f) => join(home, ".pki", "nssdb", f));
    await run("chown", ["-R", "nobody", dir, home]);
    const before = hashes([...files, ...nssFiles]);
    const asNobody = (args) =>
      run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--", process.execPath, PKI, ...args], {
        cwd: dir,
        env: { ...process.env, HOME: home, XDG_STATE_HOME: "", PKI_DEPOT: join(dir, ".pki") },
      });
    const r = await asNobody(["trust", "install", "--stores", "nss,system,java"]);
    t.is(r.code, 1, r.stderr);
    t.regex(
      r.stderr,
      /^pki: cannot change the system trust store: .* is not writable by this user; run 'sudo pki trust install --as-owner --stores system'/,
    );
    t.is(r.stderr.trim().split("\n").length, 1, r.stderr);
    t.deepEqual(hashes([...files, ...nssFiles]), before, "the NSS db it could write is untouched too");
    const st = await asNobody(["trust", "status", "--json"]);
    t.is(st.code, 0, st.stderr);
    t.deepEqual(
      JSON.parse(st.out).cas.map((x) => x.trusted),
      [false, false, false],
    );
  },
);
