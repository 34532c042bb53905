// `pki list` and `pki status` order names as String#localeCompare does under the caller's locale; in the C, POSIX
// and English locales store/view.ts computes that order itself (ICU's root collation) rather than load ICU's
// collator, so both are checked against localeCompare: the function on random names, the CLI under two locales.
import test from "ava";
import fc from "fast-check";
import { rootOrder } from "../dist/store/view.js";
import { cheapDepot } from "./_lifecycle.js";
import { pki, pkiOk, run } from "./_helpers.js";

const CHARS = "aAbBeEzZ09_-.".split("");

test("rootOrder orders names exactly as ICU's root and English collations do", (t) => {
  const collators = ["und", "en-US", "en-GB"].map((l) => new Intl.Collator(l));
  const name = fc.array(fc.constantFrom(...CHARS), { maxLength: 6 }).map((a) => a.join(""));
  fc.assert(
    fc.property(name, name, (a, b) => collators.every((c) =>
       Math.sign(rootOrder(a, b)) === Math.sign(c.compare(a, b)))),
    { numRuns: 20_000 },
  );
  t.pass();
});

test("pki list and status order names as localeCompare does under the locale they run in", async (t) => {
  t.timeout(180_000);
  const dir = await cheapDepot(t);
  // No two names may differ only in case.
  const names = ["B", "a", "A1", "aa", "z", "_x", "x-y", "x.y", "x_y", "E10", "e9", "0z"];
  for (const n of names) await pkiOk(t, dir, ["new-cert", "--passphrase-file", "pass", n]);
  for (const LANG of ["C.UTF-8", "en_US.UTF-8", "da_DK.UTF-8"]) {
    const env = { LANG, LC_ALL: "", LC_MESSAGES: "" };
    const js = `console.log(JSON.stringify(${JSON.stringify(names)}.sort((a, b) => a.localeCompare(b))))`;
    const want = ["ca", ...JSON.parse((await run(process.execPath, ["-e", js], { env: { ...process.env, ...env } })).out)];
    const list = await pki(dir, ["list", "--json"], { env });
    t.deepEqual(JSON.parse(list.out).map((e) => e.name), want, `list, LANG=${LANG}`);
    const status = await pki(dir, ["status", "--json"], { env });
    t.deepEqual(JSON.parse(status.out).map((e) => e.name), want, `status, LANG=${LANG}`);
  }
  const da = ["aa", "z"].sort((a, b) => new Intl.Collator("da").compare(a, b));
  t.deepEqual(da, ["z", "aa"], "Danish sorts aa after z: the locale really differs from the root order");
});
