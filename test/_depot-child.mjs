// Runs openDepot operations in a process of its own (a PKCS#11 module reads SOFTHSM2_CONF once per process).
// argv: depot dir, passphrase, then JSON [[op, ...args], ...]; prints a JSON array of results, or { error }.
import { openDepot } from "../dist/store/depot/index.js";

const [dir, passphrase, ops] = process.argv.slice(2);
const out = [];
let d;
try {
  const prompt = process.env.CHILD_PIN ? async () => process.env.CHILD_PIN : undefined;
  d = await openDepot({ depot: dir, passphrase, ...(prompt ? { pkcs11: { prompt } } : {}) });
  for (const [op, ...args] of JSON.parse(ops)) {
    const r = await d[op](...args);
    out.push(op === "crl" ? { ...r, der: undefined } : r);
  }
  console.log(JSON.stringify({ results: out }));
} catch (e) {
  console.log(JSON.stringify({ error: e.message, name: e.constructor.name, results: out }));
  process.exitCode = 1;
} finally {
  await d?.close();
}
