// A CA whose key is in a PKCS#11 token on a postgresql:// depot (issue 25): the schema holds the token's URI in the
// key's place and no key or PIN; pki issue signs in the token; openssl verifies what it issued.
import test from "ava";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { openssl, PASS, pki, tempDir } from "./_helpers.js";
import { MODULE, softhsm } from "./_softhsm.js";
import { useCluster } from "./_postgres.js";

const pg = useCluster(test);

test("pki init --ca-key pkcs11: on a postgresql:// depot; issue signs in the token; no row holds a key or the PIN",
  async (t) => {
    const hsm = await softhsm(t);
    const dir = tempDir(t);
    const db = await pg.db();
    const url = pg.url(db, { query: "?schema=hsm" });
    const env = { ...hsm.env, PKI_PASSPHRASE: PASS, PKI_PKCS11_PIN: hsm.pin };
    const init = await pki(dir, ["--depot", url, "init", "--ca-key", hsm.uri("object=fleet-ca")], { env });
    t.is(init.code, 0, init.stderr);
    const issued = await pki(dir, ["--depot", url, "issue", "web", "web.test"], { env });
    t.is(issued.code, 0, issued.stderr);
    const status = await pki(dir, ["--depot", url, "status", "ca", "--json"], { env });
    t.regex(JSON.parse(status.out).keyUri,
      new RegExp(`^pkcs11:token=pki-ca;id=(%[0-9a-f]{2}){20};object=fleet-ca\\?module-path=${MODULE}$`));
    const chain = await pki(dir, ["--depot", url, "chain", "web"], { env });
    t.is(chain.code, 0, chain.stderr);
    const pems = chain.out.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n/g);
    t.is(pems.length, 2);
    writeFileSync(join(dir, "web.crt"), pems[0]);
    writeFileSync(join(dir, "ca.crt"), pems[1]);
    const v = await openssl(["verify", "-x509_strict", "-CAfile", join(dir, "ca.crt"), join(dir, "web.crt")]);
    t.is(v.code, 0, v.stderr);
    // every row of the schema, as text: the PIN is nowhere; the root's key row is the token's URI
    const rows = await pg.psql("SELECT string_agg(t::text, ' ') FROM hsm.blobs t", db);
    t.false(rows.includes(Buffer.from(hsm.pin).toString("hex")) || rows.includes(hsm.pin));
    const all = await pg.psql("SELECT string_agg(t::text, ' ') FROM hsm.entries t", db);
    t.false(all.includes(hsm.pin));
    const key = await pg.psql("SELECT encode(data, 'hex') FROM hsm.blobs WHERE name = 'ca' AND kind = 'key'", db);
    t.true(Buffer.from(key, "hex").includes(Buffer.from("pkcs11:token=pki-ca;id=")));
  });
