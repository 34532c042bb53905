// `pki acme serve` as a child process on free ports, for the ACME tests (certbot, lego, acme-client, raw JWS).
import { spawn } from "node:child_process";
import http from "node:http";
import https from "node:https";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { exportJWK, exportPKCS8, FlattenedSign, generateKeyPair } from "jose";
import { depotOf, freePort, newDepot, openssl, PKI, pki } from "./_helpers.js";
import { blobFile, readDepot, records } from "./_depot-read.js";

export { freePort }; // test/_helpers.js

/**
 * What the ACME tests read of the depot beyond the server goes through these helpers, the same on a depot.db
 * depot and a PostgreSQL one: the record store opened read-only (test/_depot-read.js), no passphrase.
 */
export const isDb = (dir) => existsSync(join(dir, ".pki", "depot.db")) || existsSync(join(dir, "depot-url"));

// The *-pg.test.js files run the same tests on a PostgreSQL depot: postgresDepots(cluster) makes newDepot create a
// database on that cluster each and init it as `pki --depot postgresql://...`; the URL is kept in DIR/depot-url,
// which depotOf and pki() follow (test/_helpers.js useDepotMaker).
export { depotOf, newDepot };
export { postgresDepots } from "./_postgres.js";

/** A PEM file of the depot entry NAME's certificate (the CA by default), for openssl, curl, lego, certbot. */
export async function depotCert(dir, name = "ca") {
  return blobFile(depotOf(dir), name, join(dir, `depot-${name}.pem`));
}

/** The depot's entries (as `pki list --json` gives them, with their acme account and order). */
export async function depotEntries(dir) {
  return readDepot(depotOf(dir), async (tx) => {
    const out = [];
    for await (const e of tx.list()) out.push(e);
    return out;
  });
}

/**
 * What the ACME state and the depot hold, to compare before and after bad input: every record (test/_depot-read.js
 * records(): entries, blobs, CRLs, ACME objects, the EAB keys named), on layout 1 and depot.db alike (depot.db's
 * nonces change with every answer, as a layout-1 server's memory does).
 */
export const acmeSnapshot = (dir, o) => records(depotOf(dir), o);

/** The depot's ACME records of `kind` ("accounts", "orders", "authz"), as the server keeps them. */
export async function acmeRecords(dir, kind) {
  return readDepot(depotOf(dir), async (tx) => {
    const out = [];
    for await (const o of tx.acmeList(kind)) out.push(o);
    return out;
  });
}

/** Whether the depot records each serial (hex) as issued. */
export async function serialsRecorded(dir, serials) {
  return readDepot(depotOf(dir), async (tx) => {
    for (const x of serials) if (!(await tx.hasSerial(x))) return false;
    return true;
  });
}

/** `pki list --json`. */
export async function listJson(dir) {
  const r = await pki(dir, ["list", "--json"], { env: { PKI_DEPOT: depotOf(dir) } });
  if (r.code !== 0) throw new Error(`pki list --json failed: ${r.stderr}`);
  return JSON.parse(r.out);
}

/** A fresh CRL of the root (PEM), by `pki crl`. */
export async function crlPem(t, dir) {
  const r = await pki(dir, ["crl", "--passphrase-file", "pass"], { env: { PKI_DEPOT: depotOf(dir) } });
  t.is(r.code, 0, r.stderr);
  return r.stdout;
}

/** A TCP port free right now on 127.0.0.1. */

/**
 * Starts `pki acme serve` on depot `dir` (passphrase file `pass`); resolves once it prints its directory URL.
 * Returns { url, port, log(), stop() }; stopped at the end of the test. `extraEnv` is added to its environment.
 */
export async function startAcme(t, dir, args = [], port, extraEnv = {}) {
  port ??= await freePort();
  const env = { ...process.env, PKI_DEPOT: depotOf(dir), ...extraEnv };
  delete env.PKI_PASSPHRASE;
  const child = spawn(
    process.execPath,
    [PKI, "acme", "serve", "--passphrase-file", "pass", "--port", String(port), ...args],
    { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "",
    err = "";
  child.stderr.on("data", (d) => {
    err += d;
  });
  const exited = new Promise((r) => child.on("exit", (code, signal) => r({ code, signal })));
  const stop = async (sig = "SIGTERM") => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    return exited;
  };
  t.teardown(() => stop());
  const url = await new Promise((resolve, reject) => {
    child.stdout.on("data", (d) => {
      out += d;
      const m = /ACME directory: (\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    exited.then((x) => reject(new Error(`pki acme serve exited (${x.code}): ${err}`)));
  });
  return { url, port, args, child, log: () => err, stop };
}


/** Runs `pki doctor` and fails the test unless the depot is consistent. */
export async function doctorClean(t, dir) {
  const r = await pki(dir, ["doctor", "--passphrase-file", "pass"], { env: { PKI_DEPOT: depotOf(dir) } });
  t.is(r.code, 0, r.stderr + r.out);
  t.regex(r.stderr + r.out, /is consistent/);
}

/** Waits (up to 20 s) for the server's stderr to match `re`; fails with the log otherwise. */
export async function logged(s, re) {
  for (let i = 0; i < 200 && !re.test(s.log()); i++) await new Promise((r) => setTimeout(r, 100));
  if (!re.test(s.log())) throw new Error(`the server log never matched ${re}:\n${s.log()}`);
}

/** An http-01 responder for every token a test registers (tokens → key authorizations). */
export async function challengeServer(t) {
  const tokens = new Map();
  const port = await freePort();
  const server = http.createServer((req, res) => {
    const ka = tokens.get(req.url.split("/").pop());
    res.writeHead(ka ? 200 : 404).end(ka ?? "");
  });
  await new Promise((r) => server.listen(port, "127.0.0.1", r));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return { port, tokens };
}

/** With acme-client `c`: an order for `identifier` whose http-01 challenge is answered by `tokens` (challengeServer), once ready. */
export async function readyOrder(c, tokens, identifier) {
  const order = await c.createOrder({ identifiers: [identifier] });
  const [authz] = await c.getAuthorizations(order);
  const ch = authz.challenges.find((x) => x.type === "http-01");
  tokens.set(ch.token, await c.getChallengeKeyAuthorization(ch));
  await c.completeChallenge(ch);
  await c.waitForValidStatus(order);
  return order;
}

/** HTTPS to the server (trusting `ca`): { status, headers, json, text }. */
export function request(ca, url, { method = "POST", body, type = "application/jose+json" } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      { method, ca, headers: body === undefined ? {} : { "content-type": type } },
      (res) => {
        let data = "";
        res.on("data", (d) => {
          data += d;
        });
        res.on("end", () => {
          let json;
          try {
            json = JSON.parse(data);
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode, headers: res.headers, json, text: data });
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** A raw ACME client: signs with jose, keeps the last Replay-Nonce. */
export async function rawClient(ca, dirUrl) {
  const dir = (await request(ca, dirUrl, { method: "GET" })).json;
  const c = {
    dir,
    nonce: undefined,
    async freshNonce() {
      return (await request(ca, dir.newNonce, { method: "HEAD" })).headers["replay-nonce"];
    },
    async sign(url, payload, { key, kid, jwk, alg = "ES256", nonce, headerUrl, extra = {} }) {
      const bytes = payload === "" ? new Uint8Array() : new TextEncoder().encode(JSON.stringify(payload));
      const header = {
        alg,
        url: headerUrl ?? url,
        ...(nonce === null ? {} : { nonce: nonce ?? (await c.freshNonce()) }),
        ...(kid ? { kid } : { jwk }),
        ...extra,
      };
      return JSON.stringify(await new FlattenedSign(bytes).setProtectedHeader(header).sign(key));
    },
    async post(url, payload, o) {
      const r = await request(ca, url, { body: await c.sign(url, payload, o) });
      c.nonce = r.headers["replay-nonce"];
      return r;
    },
  };
  return c;
}

/** An ES256 account key: { key, jwk, pem }. */
export const newKey = async () => {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  return { key: privateKey, jwk: await exportJWK(publicKey), pem: await exportPKCS8(privateKey) };
};

/** openssl verify -x509_strict against the depot CA (and any chain the client saved), and the SANs exactly `names`. */
export async function checkIssued(t, dir, certFile, names, chainFile) {
  const v = await openssl([
    "verify",
    "-x509_strict",
    "-CAfile",
    await depotCert(dir),
    ...(chainFile ? ["-untrusted", chainFile] : []),
    certFile,
  ]);
  t.is(v.code, 0, v.stderr + v.out);
  const san = await openssl(["x509", "-in", certFile, "-noout", "-ext", "subjectAltName"]);
  t.deepEqual(san.out.split("\n")[1].trim().split(", ").sort(), names.map((n) => `DNS:${n}`).sort());
  return (await openssl(["x509", "-in", certFile, "-noout", "-serial"])).out
    .trim()
    .replace("serial=", "")
    .toLowerCase();
}
