// RFC 7512 PKCS#11 URIs as pki reads and writes them (lib/pkcs11/uri.ts): the attributes pki acts on, strictly.
import test from "ava";
import {
  checkKeyUri, formatPkcs11Uri, isPkcs11Uri, parsePkcs11Uri, redactedUri,
} from "../dist/lib/pkcs11/uri.js";
import { InputError } from "../dist/lib/x509/validate.js";

const MOD = "/usr/lib/softhsm/libsofthsm2.so";

test("the issue's URI: token and object in the path, module and PIN file in the query", (t) => {
  const u = parsePkcs11Uri(`pkcs11:token=pki-ca;object=root-ca?module-path=${MOD}&pin-source=file:/etc/pki/pin`);
  t.deepEqual(u, { token: "pki-ca", object: "root-ca", modulePath: MOD, pinSource: "/etc/pki/pin" });
  t.is(formatPkcs11Uri(u), `pkcs11:token=pki-ca;object=root-ca?module-path=${MOD}&pin-source=file:/etc/pki/pin`);
});

test("id is bytes (percent-encoded or plain), slot-id a number, serial and labels text; names are case-blind", (t) => {
  const u = parsePkcs11Uri("pkcs11:serial=0a1b;SLOT-ID=7;id=%73%32%ff;object=my%20ca%e2%82%ac;Token=a%3bb");
  t.deepEqual(u, {
    serial: "0a1b", slotId: 7, id: new Uint8Array([0x73, 0x32, 0xff]), object: "my ca€", token: "a;b",
  });
  t.deepEqual(parsePkcs11Uri("pkcs11:id=s2").id, new Uint8Array([0x73, 0x32]));
  // printed back: every id byte encoded, the ';' and the space in labels encoded, in a fixed order
  t.is(formatPkcs11Uri(u), "pkcs11:token=a%3bb;serial=0a1b;slot-id=7;id=%73%32%ff;object=my%20ca%e2%82%ac");
  t.deepEqual(parsePkcs11Uri(formatPkcs11Uri(u)), u);
});

test("pin-source as file:/p, file:///p or a plain absolute path; pin-value kept apart", (t) => {
  for (const src of ["file:/run/pin", "file:///run/pin", "file://localhost/run/pin", "/run/pin", "file:%2frun/pin"])
    t.is(parsePkcs11Uri(`pkcs11:token=t;object=k?pin-source=${src}`).pinSource, "/run/pin", src);
  t.is(parsePkcs11Uri("pkcs11:token=t;object=k?pin-value=12%2634").pinValue, "12&34");
});

test("the redacted form drops pin-value and keeps the rest (pin-source names a file, not the PIN)", (t) => {
  const u = parsePkcs11Uri(`pkcs11:token=t;id=%01;object=k?module-path=${MOD}&pin-value=sekret`);
  const r = redactedUri(u);
  t.is(r, `pkcs11:token=t;id=%01;object=k?module-path=${MOD}`);
  t.false(r.includes("sekret"));
  t.true(formatPkcs11Uri(u).includes("pin-value=sekret"));
  t.is(u.pinValue, "sekret", "the parsed URI itself is left alone");
  const f = parsePkcs11Uri(`pkcs11:token=t;object=k?pin-source=file:/p%20in&module-path=${MOD}`);
  t.is(redactedUri(f), `pkcs11:token=t;object=k?module-path=${MOD}&pin-source=file:/p%20in`);
});

const refused = [
  ["https://example.com/key", /is not a PKCS#11 URI/],
  ["pkcs11:token=a;token=b", /gives token twice/],
  ["pkcs11:token=a?pin-value=1&pin-value=2", /gives pin-value twice/],
  ["pkcs11:token=a;TOKEN=b", /gives token twice/],
  ["pkcs11:token=a;manufacturer=SoftHSM", /attribute "manufacturer" is not one pki uses/],
  ["pkcs11:token=a;x-vendor=1", /attribute "x-vendor" is not one pki uses/],
  ["pkcs11:token=a;type=private", /"type" is not one pki uses: pki finds the private key/],
  ["pkcs11:token=a?module-name=softhsm2", /"module-name" is not one pki uses: name the library with module-path/],
  ["pkcs11:token=a;module-path=/x.so", /module-path belongs after the '\?'/],
  ["pkcs11:token=a?object=k", /object belongs before the '\?'/],
  ["pkcs11:id=%zz", /id "%zz" has a '%' not followed by two hex digits/],
  ["pkcs11:id=%4", /id "%4" has a '%' not followed by two hex digits/],
  ["pkcs11:object=my ca", /object "my ca" has a character to percent-encode/],
  ["pkcs11:object=a/b", /object "a\/b" has a character to percent-encode/],
  ["pkcs11:token=a?module-path=/x&y", /has "y", not NAME=VALUE/],
  ["pkcs11:token=", /token is empty/],
  ["pkcs11:token=a;;object=b", /an empty attribute/],
  ["pkcs11:token=a;", /an empty attribute/],
  ["pkcs11:=a", /"=a", not NAME=VALUE/],
  ["pkcs11:slot-id=-1", /slot-id "-1" is not a number/],
  ["pkcs11:slot-id=0x1", /slot-id "0x1" is not a number/],
  ["pkcs11:object=%ff", /object "%ff" is not printable UTF-8 text/],
  ["pkcs11:object=a%00b", /is not printable UTF-8 text/],
  ["pkcs11:token=a?module-path=libsofthsm2.so", /module-path "libsofthsm2.so" must be an absolute path/],
  ["pkcs11:token=a?pin-source=pin.txt", /pin-source "pin.txt" must be an absolute path/],
  ["pkcs11:token=a?pin-source=|/usr/bin/pinentry", /pin-source .* must be a file \(file:\/path\/to\/pin\)/],
  ["pkcs11:token=a?pin-source=https://x/pin", /pin-source .* must be a file/],
  ["pkcs11:token=a?pin-source=/p&pin-value=1", /both pin-source and pin-value: give one/],
];

for (const [uri, message] of refused) {
  test(`refused in one line: ${uri}`, (t) => {
    const e = t.throws(() => parsePkcs11Uri(uri), { instanceOf: InputError });
    t.regex(e.message, message);
    t.false(e.message.includes("\n"));
  });
}

test("a malformed pin-value is refused without echoing it", (t) => {
  for (const pin of ["se%zzcret", "se cret", "se%ffcret"]) {
    const e = t.throws(() => parsePkcs11Uri(`pkcs11:token=a?pin-value=${pin}`), { instanceOf: InputError });
    t.regex(e.message, /pin-value/);
    t.false(e.message.includes("cret"), e.message);
  }
});

test("a CA key's URI names a library, a token and a key", (t) => {
  const ok = parsePkcs11Uri(`pkcs11:serial=1;id=%01?module-path=${MOD}`);
  t.is(checkKeyUri(ok), ok);
  t.throws(() => checkKeyUri(parsePkcs11Uri("pkcs11:token=a;object=k")), { message: /names no library/ });
  t.throws(() => checkKeyUri(parsePkcs11Uri(`pkcs11:object=k?module-path=${MOD}`)), { message: /names no token/ });
  t.throws(() => checkKeyUri(parsePkcs11Uri(`pkcs11:token=a?module-path=${MOD}`)), { message: /names no key/ });
  t.true(isPkcs11Uri("PKCS11:token=a"));
  t.false(isPkcs11Uri("/etc/pki/ca.key"));
});
