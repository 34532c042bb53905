// Runs one store/keys operation in a process of its own (a PKCS#11 module reads SOFTHSM2_CONF once per process):
// argv: op ("make" | "open"), URI, spec JSON, and data to sign (base64). Prints JSON; an error as { error, name }.
import { makeTokenCaKey, openTokenCaKey, closeTokens } from "../dist/store/keys/index.js";
import { signerOf } from "../dist/lib/x509/build.js";

const [op, uri, spec, data] = process.argv.slice(2);
try {
  const prompt = process.env.CHILD_PROMPT ? async () => process.env.CHILD_PROMPT : undefined;
  const warnings = [];
  const o = { prompt, warn: (m) => warnings.push(m) };
  const key = op === "make" ? await makeTokenCaKey(uri, JSON.parse(spec), o) : await openTokenCaKey(uri, o);
  const signer = signerOf(key.spec, key.privateKey);
  const sigs = (data ? data.split(",") : []).map((d) => signer.sign(Buffer.from(d, "base64")).toString("base64"));
  if (process.env.CHILD_DESTROY) key.destroy();
  else key.close();
  await closeTokens();
  console.log(JSON.stringify({
    uri: key.uri, spec: key.spec, spki: key.spki.toString("base64"), sigs,
    algorithm: signer.algorithm.toString("hex"), warnings,
  }));
} catch (e) {
  console.log(JSON.stringify({ error: e.message, name: e.constructor.name }));
  process.exitCode = 1;
}
