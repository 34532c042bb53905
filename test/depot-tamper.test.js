// The depot API cross-checks what it reads at the point of use: a certificate row swapped for another (edited
// with the real sqlite3 shell) is not revoked or renewed under the recorded serial, and a CA key swapped for
// another key of the depot never signs. Each is one DepotError line, and the depot stays byte-identical.
import test from "ava";
import { join } from "node:path";
import { PASS } from "./_helpers.js";
import { sqlite } from "./_records.js";
import { depotFiles, DepotError, openDepot, openNew } from "./_depot.js";

const swap = (to, from, kind) =>
  `UPDATE blobs SET data = (SELECT data FROM blobs WHERE name = '${from}' AND kind = '${kind}' AND serial = '') ` +
  `WHERE name = '${to}' AND kind = '${kind}' AND serial = ''`;

test("a swapped certificate row: revoke and renew refuse, naming both serials", async (t) => {
  const { depot, d } = await openNew(t);
  const web = await d.issue("web", { domains: ["web.example"] });
  const api = await d.issue("api", { domains: ["api.example"] });
  await d.close();
  await sqlite(t, join(depot, "depot.db"), swap("web", "api", "cert"));
  const d2 = await openDepot({ depot, passphrase: PASS });
  t.teardown(() => d2.close());
  const before = depotFiles(depot);
  for (const op of [() => d2.revoke("web"), () => d2.renew("web")]) {
    const e = await t.throwsAsync(op(), { instanceOf: DepotError });
    const want = `the certificate of "web" has serial ${api.serial}, not the recorded ${web.serial}`;
    t.is(e.message, `${want}: run 'pki doctor'`);
  }
  t.deepEqual(depotFiles(depot), before);
});

test("a CA key swapped for another key of the depot: nothing is signed with it", async (t) => {
  const { depot, d } = await openNew(t);
  await d.issue("web", { domains: ["web.example"] });
  await d.close();
  await sqlite(t, join(depot, "depot.db"), swap("ca", "web", "key"));
  const d2 = await openDepot({ depot, passphrase: PASS }); // the passphrase opens it: it is the depot's
  t.teardown(() => d2.close());
  const before = depotFiles(depot);
  for (const op of [() => d2.issue("x", { domains: ["x.example"] }), () => d2.crl()]) {
    const e = await t.throwsAsync(op(), { instanceOf: DepotError });
    t.is(e.message, "the key of the root CA does not match its certificate: refusing to use it");
  }
  t.deepEqual(depotFiles(depot), before);
});
