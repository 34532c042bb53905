// http-01 validations of `pki acme serve` each open a connection of their own: a kept-alive one could be closed by
// the responder's idle timeout just as it is reused (ECONNRESET under load), and one name's validation must not
// ride on a connection made for another's.
import test from "ava";
import acme from "acme-client";
import http from "node:http";
import https from "node:https";
import { readFileSync } from "node:fs";
import { depotCert, newDepot, readyOrder, startAcme } from "./_acme.js";

test("http-01: every validation request comes on a new connection, also to a responder keeping them open", async (t) => {
  t.timeout(120_000);
  const dir = await newDepot(t);
  const tokens = new Map();
  const sockets = [];
  const server = http.createServer((req, res) => {
    sockets.push(req.socket);
    const ka = tokens.get(req.url.split("/").pop());
    res.writeHead(ka ? 200 : 404).end(ka ?? "");
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => { server.closeAllConnections(); server.close(); });
  const names = ["a.fresh.test", "b.fresh.test", "c.fresh.test"];
  const s = await startAcme(t, dir, ["--allow", "*.fresh.test", "--http-01-port", String(server.address().port),
    "--resolve", names.map((n) => `${n}=127.0.0.1`).join(",")]);
  acme.axios.defaults.httpsAgent = new https.Agent({ ca: readFileSync(await depotCert(dir)) });
  const c = new acme.Client({ directoryUrl: s.url, accountKey: await acme.crypto.createPrivateEcdsaKey() });
  await c.createAccount({ termsOfServiceAgreed: true });
  for (const name of names) await readyOrder(c, tokens, { type: "dns", value: name });
  t.true(sockets.length >= names.length, `${sockets.length} validation requests`);
  t.is(new Set(sockets).size, sockets.length, "no connection carried two validations");
});
