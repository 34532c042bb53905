// `pki list` and `pki status` stream the depot's entries: the root first, then by name as the record store's index
// orders it, byte by byte (`B` before `a`), whatever the caller's locale (docs/records.md "Order"): a depot of
// 100,000 entries is never sorted in memory, and two machines list one depot alike.
import test from "ava";
import { cheapDepot } from "./_lifecycle.js";
import { pki, pkiOk } from "./_helpers.js";

test("pki list and status order names byte by byte, the root first, under every locale", async (t) => {
  t.timeout(180_000);
  const dir = await cheapDepot(t);
  const names = ["B", "a", "A1", "aa", "z", "_x", "x-y", "x.y", "x_y", "E10", "e9", "0z", "ab"];
  for (const n of names) await pkiOk(t, dir, ["new-cert", "--passphrase-file", "pass", n]);
  const bytes = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b));
  const want = ["ca", ...[...names].sort(bytes)];
  t.deepEqual(want.slice(0, 4), ["ca", "0z", "A1", "B"], "upper case before lower case: not a locale's order");
  for (const LANG of ["C.UTF-8", "en_US.UTF-8", "da_DK.UTF-8"]) {
    const env = { LANG, LC_ALL: "", LC_MESSAGES: "" };
    const list = await pki(dir, ["list", "--json"], { env });
    t.deepEqual(JSON.parse(list.out).map((e) => e.name), want, `list, LANG=${LANG}`);
    const status = await pki(dir, ["status", "--json"], { env });
    t.deepEqual(JSON.parse(status.out).map((e) => e.name), want, `status, LANG=${LANG}`);
    const table = await pki(dir, ["list"], { env });
    t.deepEqual(table.out.trim().split("\n").slice(1).map((l) => l.split(/\s+/)[0]), want, `list table, LANG=${LANG}`);
  }
});
