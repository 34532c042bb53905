// A round-robin HTTPS load balancer in front of several `pki acme serve` nodes, as an operator's haproxy or nginx in
// HTTP mode: TLS ends here (a certificate openssl makes for 127.0.0.1), and each request goes to the next node on a
// connection of its own, so consecutive requests of one client land on different nodes. A node that refuses the
// connection (down) is skipped, as a balancer's retry does; one that dies mid-request gives the client a 502.
import https from "node:https";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { openssl } from "./_helpers.js";

/** Starts the balancer on a free port of 127.0.0.1; `nodes()` gives the nodes' ports at the moment of a request. */
export async function startBalancer(t, dir, nodes, nodeCa) {
  const f = (n) => join(dir, n);
  const r = await openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-days", "2", "-keyout", f("lb.key"), "-out", f("lb.crt"), "-subj", "/CN=fleet balancer",
    "-addext", "subjectAltName=IP:127.0.0.1"]);
  if (r.code !== 0) throw new Error(`openssl: ${r.stderr}`);
  const served = []; // { node, method, path, status }
  let next = 0;
  const forward = (req, body, res, tries) => {
    const ports = nodes();
    const node = next++ % ports.length;
    const up = https.request(
      { host: "127.0.0.1", port: ports[node], method: req.method, path: req.url, headers: req.headers, ca: nodeCa,
        agent: false },
      (ur) => {
        served.push({ node, method: req.method, path: req.url, status: ur.statusCode });
        res.writeHead(ur.statusCode, ur.headers);
        ur.pipe(res);
      },
    );
    up.on("error", (e) => {
      if (e.code === "ECONNREFUSED" && tries > 1) return forward(req, body, res, tries - 1);
      served.push({ node, method: req.method, path: req.url, status: 502 });
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end("bad gateway\n");
    });
    up.end(body);
  };
  const server = https.createServer({ cert: readFileSync(f("lb.crt")), key: readFileSync(f("lb.key")) }, (req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => forward(req, Buffer.concat(chunks), res, nodes().length));
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return { port: server.address().port, caFile: f("lb.crt"), served };
}
