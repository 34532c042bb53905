// The KDF head start (store/keys/early-kdf.ts): a key command starts the depot's PBKDF2 from the depot's own salt
// before its modules load and before it checks its arguments, on depot.db as on layout 1. Seen without timing:
// a preloaded script records each pbkdf2 call node's crypto gets, and a command refused for its NAME (it never
// opens the depot) has derived once all the same. depot.db is a new input to that early reader, so it is read as
// the command reads it: a hostile or damaged depot.db gets no head start (no derivation at all), the command's
// own one-line error, and no file changed or left behind (not even an empty -wal or -shm).
import test from "ava";
import { spawn } from "node:child_process";
import {
  chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, renameSync, writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { PASS, PKI, pkiOk, run, snapshot, tempDir } from "./_helpers.js";
import { sqlite } from "./_records.js";
import { layout1Depot } from "./_state.js";

const ITER = "1000"; // PKI_TEST_ONLY_KDF_ITERATIONS: the count init writes and the only test count pki accepts
const env = { PKI_TEST_ONLY_KDF_ITERATIONS: ITER, PKI_PASSPHRASE: "", PKI_PASSPHRASE_FILE: "" };
const SPY = [
  "const c = require('node:crypto'), pbkdf2 = c.pbkdf2, calls = [];",
  "c.pbkdf2 = function (p, s, n, ...rest) { calls.push(n); return pbkdf2.call(this, p, s, n, ...rest); };",
  "process.on('exit', () => require('node:fs').writeFileSync(process.env.SPY_OUT, JSON.stringify(calls)));",
].join("\n");

/**
 * A depot of `format` (depot.db, or layout 1 from the fixture) with its passphrase in DIR/pass. `hint: false`
 * removes depot.db's kdf.json, so that the head start reads depot.db itself.
 */
async function depot(t, format, { hint = true } = {}) {
  let dir;
  if (format === "db") {
    dir = tempDir(t);
    writeFileSync(join(dir, "pass"), PASS + "\n");
    await pkiOk(t, dir, ["init", "--passphrase-file", "pass"], { env });
    if (!hint) rmSync(join(dir, ".pki", "kdf.json"));
  } else dir = layout1Depot(t);
  t.is(readdirSync(join(dir, ".pki")).includes("depot.db"), format === "db");
  writeFileSync(join(dir, "spy.cjs"), SPY);
  return dir;
}

/** `pki ARGS` with the spy preloaded: its result and the iteration count of every PBKDF2 it ran. */
async function spied(dir, args) {
  const out = join(dir, `calls-${Math.random().toString(36).slice(2)}.json`);
  const r = await run(process.execPath, ["-r", join(dir, "spy.cjs"), PKI, ...args], {
    cwd: dir,
    timeout: 60_000, // a reader that ran a hostile view would never finish
    env: { ...process.env, ...env, PKI_DEPOT: join(dir, ".pki"), SPY_OUT: out },
  });
  const calls = existsSync(out) ? JSON.parse(readFileSync(out, "utf8")) : "none recorded (killed)";
  rmSync(out, { force: true });
  return { ...r, calls };
}

/** The depot's files: contents and modes (snapshot), and every name in it (an empty -wal or -shm too). */
const state = (dir) => ({ files: snapshot(join(dir, ".pki")), names: readdirSync(join(dir, ".pki")).sort() });

/** One `pki: ` line matching `re`, exit 1, and the depot as it was; the PBKDF2 counts the command ran. */
async function refused(t, dir, args, re, what) {
  const before = state(dir);
  const r = await spied(dir, args);
  t.is(r.signal, null, `${what}: pki did not finish`);
  t.is(r.code, 1, `${what}: ${r.stderr}`);
  t.regex(r.stderr, /^pki: [^\n]*\n$/, `${what}: one line`);
  t.regex(r.stderr, re, what);
  t.deepEqual(state(dir), before, `${what}: the depot changed`);
  return r.calls;
}

const P = ["--passphrase-file", "pass"];
const BAD_NAME = ["issue", ...P, "bad!name", "x.example"];
const ISSUE = ["issue", ...P, "fresh", "fresh.example"];
const NAME_ERROR = /^pki: invalid name "bad!name"/;

test("a key command derives the depot's key before it checks its arguments, on depot.db as on layout 1", async (t) => {
  for (const format of ["db", "layout1"]) {
    const dir = await depot(t, format);
    for (const args of [BAD_NAME, ["crl", ...P, "--issuer", "bad!name"], ["export", ...P, "--insecure", "bad!name"]]) {
      const what = `${format}: pki ${args.join(" ")}`;
      const before = state(dir);
      const r = await spied(dir, args);
      t.not(r.code, 0, r.stderr);
      t.regex(r.stderr, /^pki: [^\n]*bad!name[^\n]*\n$/, what);
      t.deepEqual(r.calls, [Number(ITER)], `${what}: the KDF ran once, before the name was refused`);
      t.deepEqual(state(dir), before, `${what}: the depot changed`);
    }
    // A passphrase to hand is what makes it start: none, no derivation (the command would prompt).
    t.deepEqual((await spied(dir, ["issue", "--passphrase-file", "-", "bad!name"])).calls, [], format);
    // And the command derives once in all: the head start is the command's own derivation, not a second one.
    const ok = await spied(dir, ISSUE);
    t.is(ok.code, 0, ok.stderr);
    t.deepEqual(ok.calls, [Number(ITER)], format);
  }
});

test("depot.db: a hostile or damaged one gets no head start and the command's own one-line error", async (t) => {
  const dir = await depot(t, "db", { hint: false });
  const db = join(dir, ".pki", "depot.db");
  const saved = readFileSync(db);
  const restore = () => writeFileSync(db, saved);
  const edits = [
    // counts the early reader must refuse as the command does: 2^31 (minutes of CPU), and one below the floor
    ["UPDATE depot SET kdf_iterations = 2147483648", /depot\.db is damaged: depot\.kdf\.iterations /],
    ["UPDATE depot SET kdf_iterations = 99999", /depot\.db is damaged: depot\.kdf\.iterations /],
    ["UPDATE depot SET kdf_salt = 'c2hvcnQ='", /depot\.db is damaged: depot\.kdf\.salt /],
    ["DELETE FROM depot", /depot\.db/],
    // a view in place of the depot table that never ends: only the exact schema is ever queried
    ["DROP TABLE depot; CREATE VIEW depot AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) " +
      `SELECT 1 AS id, 'AAAAAAAAAAAAAAAAAAAAAA==' AS kdf_salt, ${ITER} AS kdf_iterations FROM c WHERE x = 0`,
    /depot\.db is damaged: its schema has a changed or foreign view/],
  ];
  /**
   * Refused for its name, the command never reads the depot: nothing may be derived. Then the command's own error
   * for the damage, which it may find after checking the passphrase against the CA key (never with a hostile count).
   */
  const check = async (re, what) => {
    t.deepEqual(await refused(t, dir, BAD_NAME, NAME_ERROR, what), [], `${what}: a head start was taken`);
    const calls = await refused(t, dir, ISSUE, re, what);
    t.true(calls.every((n) => n === Number(ITER)), `${what}: derived with ${calls}`);
  };
  for (const [sql, re] of edits) {
    await sqlite(t, db, sql);
    await check(re, sql);
    restore();
  }
  writeFileSync(db, saved.subarray(0, 4096));
  await check(/depot\.db is truncated/, "truncated");
  writeFileSync(db, Buffer.alloc(saved.length, 0x41));
  await check(/depot\.db is not a database/, "garbage");
  restore();
  renameSync(db, join(dir, "elsewhere.db"));
  symlinkSync(join(dir, "elsewhere.db"), db);
  await check(/depot\.db is a symbolic link/, "a link");
  rmSync(db);
  renameSync(join(dir, "elsewhere.db"), db);
  // Put back, the same depot gets its head start again: the refusals above were the damage, not a missing path.
  const r = await spied(dir, BAD_NAME);
  t.regex(r.stderr, NAME_ERROR);
  t.deepEqual(r.calls, [Number(ITER)]);
});

/** The real sqlite3 shell, holding depot.db open once it has written a row (a WAL with a frame beside it). */
async function holder(t, db) {
  const shell = spawn("sqlite3", [db], { stdio: ["pipe", "pipe", "inherit"] });
  t.teardown(() => shell.kill("SIGKILL"));
  shell.stdin.write("INSERT INTO nonces VALUES ('held', 0);\nSELECT 'written';\n");
  await new Promise((resolve, reject) => {
    shell.stdout.on("data", (d) => String(d).includes("written") && resolve());
    shell.on("exit", () => reject(new Error("sqlite3 exited")));
  });
  return shell;
}

test("depot.db held open by another process, or left with its WAL by one that died: head start, nothing touched",
  async (t) => {
    const dir = await depot(t, "db", { hint: false });
    const shell = await holder(t, join(dir, ".pki", "depot.db"));
    const check = async (what) => {
      const before = state(dir);
      t.deepEqual(before.names, ["depot.db", "depot.db-shm", "depot.db-wal"], what);
      const r = await spied(dir, BAD_NAME);
      t.regex(r.stderr, NAME_ERROR, what);
      t.deepEqual(r.calls, [Number(ITER)], `${what}: no head start`);
      t.deepEqual(state(dir), before, `${what}: the depot changed (a WAL checkpointed or removed?)`);
    };
    await check("held open");
    shell.kill("SIGKILL");
    await new Promise((resolve) => shell.once("exit", resolve));
    await check("left behind");
    // The command itself takes the WAL's row as SQLite does, and the depot works on.
    const ok = await spied(dir, ISSUE);
    t.is(ok.code, 0, ok.stderr);
  });

// The head start is worth most when it starts first: depot.db's row is read by CommonJS code required from pki.js,
// before node sets up its ES-module loader for the command's chunks. Seen from node's own record of its internal
// modules at the moment PBKDF2 is called (and at exit, where the chunks have set it up). Node 24 sets the loader up
// for every CommonJS script, an empty one too: there the record says nothing and only node 20's run can fail.
test("depot.db: the KDF starts before node's ES-module loader is set up", async (t) => {
  const dir = await depot(t, "db");
  const loader = JSON.stringify("NativeModule internal/modules/esm/loader");
  const has = `process.moduleLoadList.includes(${loader})`;
  writeFileSync(join(dir, "spy.cjs"), [
    `const c = require('node:crypto'), pbkdf2 = c.pbkdf2, calls = [];`,
    `c.pbkdf2 = function (...a) { calls.push(${has}); return pbkdf2.apply(this, a); };`,
    `const out = () => JSON.stringify([...calls, ${has}]);`,
    "process.on('exit', () => require('node:fs').writeFileSync(process.env.SPY_OUT, out()));",
  ].join("\n"));
  writeFileSync(join(dir, "empty.cjs"), "");
  const out = join(dir, "empty.json");
  await run(process.execPath, ["-r", join(dir, "spy.cjs"), join(dir, "empty.cjs")], {
    cwd: dir, env: { ...process.env, SPY_OUT: out },
  });
  const [emptyHasLoader] = JSON.parse(readFileSync(out, "utf8"));
  // crl, whose chunks set up the loader after the KDF has started (issue, new-cert and sign are all CommonJS:
  // startup.test.js)
  const r = await spied(dir, ["crl", ...P]);
  t.is(r.code, 0, r.stderr);
  t.is(r.calls.length, 2, "one derivation");
  t.true(r.calls[1], "the command's chunks set up the ES-module loader (else this test judges nothing)");
  if (emptyHasLoader) t.log("this node sets up its ES-module loader for any CommonJS script: nothing to judge");
  else t.false(r.calls[0], "the KDF started after the ES-module loader was set up");
});

// kdf.json (store/records/kdf-hint.ts) holds depot.db's parameters beside it, so the head start reads no database.
// It is untrusted as every depot file is: one that is hostile, damaged, a link, writable by others or another
// depot's never gives a wrong key or a hostile count; the head start falls back to depot.db's row, or is lost.
test("kdf.json: the KDF starts before the SQLite driver loads; a bad kdf.json costs at most the head start",
  async (t) => {
    const dir = await depot(t, "db");
    const pki = join(dir, ".pki"), hint = join(pki, "kdf.json");
    const sql = "SELECT json_object('salt', kdf_salt, 'iterations', kdf_iterations) FROM depot";
    const row = await sqlite(t, join(pki, "depot.db"), sql);
    t.deepEqual(JSON.parse(readFileSync(hint, "utf8")), JSON.parse(row), "init wrote depot.db's parameters");
    t.is(statSync(hint).mode & 0o777, 0o600);
    const driver = "Object.keys(require.cache).some((f) => /better_sqlite3|sqlite-early/.test(f))";
    writeFileSync(join(dir, "spy.cjs"), [
      "const c = require('node:crypto'), pbkdf2 = c.pbkdf2, calls = [];",
      `c.pbkdf2 = function (p, s, n, ...r) { calls.push([n, s.toString('base64'), ${driver}]);`,
      "  return pbkdf2.call(this, p, s, n, ...r); };",
      "process.on('exit', () => require('node:fs').writeFileSync(process.env.SPY_OUT, JSON.stringify(calls)));",
    ].join("\n"));
    const { salt } = JSON.parse(row);
    const r = await spied(dir, BAD_NAME);
    t.regex(r.stderr, NAME_ERROR);
    t.deepEqual(r.calls, [[Number(ITER), salt, false]], "one derivation, with depot.db's salt, no driver loaded yet");

    const other = "AAAAAAAAAAAAAAAAAAAAAA==";
    const cases = [
      ["a count of 2^31", JSON.stringify({ salt, iterations: 2 ** 31 })],
      ["a count below the floor", JSON.stringify({ salt, iterations: 99999 })],
      ["a short salt", JSON.stringify({ salt: "c2hvcnQ=", iterations: Number(ITER) })],
      ["not JSON", "{"],
      ["too large", JSON.stringify({ salt, iterations: Number(ITER), pad: "x".repeat(5000) })],
    ];
    const viaDb = [[Number(ITER), salt, true]]; // passed over: depot.db's row gives the head start
    for (const [what, text] of cases) {
      writeFileSync(hint, text);
      t.deepEqual((await spied(dir, BAD_NAME)).calls, viaDb, what);
    }
    writeFileSync(hint, JSON.stringify({ salt, iterations: Number(ITER) }));
    chmodSync(hint, 0o620);
    t.deepEqual((await spied(dir, BAD_NAME)).calls, viaDb, "writable by its group");
    chmodSync(hint, 0o600);
    writeFileSync(join(dir, "elsewhere.json"), JSON.stringify({ salt, iterations: Number(ITER) }));
    rmSync(hint);
    symlinkSync(join(dir, "elsewhere.json"), hint);
    t.deepEqual((await spied(dir, BAD_NAME)).calls, viaDb, "a link");
    rmSync(hint);

    // Another depot's parameters: a derivation wasted, and the command's own with depot.db's, which signs.
    writeFileSync(hint, JSON.stringify({ salt: other, iterations: Number(ITER) }), { mode: 0o600 });
    const before = readFileSync(hint);
    const ok = await spied(dir, ISSUE);
    t.is(ok.code, 0, ok.stderr);
    t.deepEqual(ok.calls.map(([n, s]) => [n, s]), [[Number(ITER), other], [Number(ITER), salt]]);
    t.deepEqual(readFileSync(hint), before, "a command leaves kdf.json as it is");
    const doctorEnv = { ...process.env, PKI_TEST_ONLY_KDF_ITERATIONS: ITER, PKI_DEPOT: pki };
    const doctor = await run(process.execPath, [PKI, "doctor"], { cwd: dir, env: doctorEnv });
    t.is(doctor.code, 1, doctor.stderr);
    t.regex(doctor.stdout + doctor.stderr, /kdf\.json: does not hold depot\.db's KDF parameters/);
    const fix = await run(process.execPath, [PKI, "doctor", "--fix"], { cwd: dir, env: doctorEnv });
    t.is(fix.code, 0, fix.stderr);
    t.deepEqual(JSON.parse(readFileSync(hint, "utf8")), JSON.parse(row), "doctor --fix wrote depot.db's parameters");
    t.deepEqual((await spied(dir, BAD_NAME)).calls, [[Number(ITER), salt, false]], "and the head start is back");
  });
