// Property-based: valid names, IPs and domains round-trip into a certificate's SAN exactly (checked on the
// DER bytes); anything else is refused with an InputError, never another exception. In-process, no CLI.
import test from "ava";
import fc from "fast-check";
import { isIP } from "node:net";
import { checkDomain, checkIp, checkName, InputError, NAME_RULE } from "../dist/lib/x509/validate.js";
import { decodePunycode } from "../dist/lib/x509/punycode.js";
import { run } from "./_helpers.js";
import { checkCsr, createCsr, createRootCertificate, issueCertificate, OID_SAN, sansOf } from "../dist/lib/x509/cert.js";
import { generateKeyPair } from "../dist/lib/x509/keys.js";
import { x509 } from "../dist/lib/x509/peculiar.js";

const RUNS = { numRuns: 300 };

// ---- valid inputs, built from their parts (so the expected bytes are known independently) ----

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => ({ text: b.join("."), bytes: b }));

/** 8 groups (zeros likely), written in one of the legal textual forms: full, zero-padded, upper case, '::' over any zero run, dotted tail. */
const ipv6 = fc.record({
  groups: fc.array(fc.oneof(fc.constant(0), fc.nat(0xffff)), { minLength: 8, maxLength: 8 }),
  pad: fc.boolean(), upper: fc.boolean(), dotted: fc.boolean(), cut: fc.nat(),
}).map(({ groups, pad, upper, dotted, cut }) => {
  const bytes = groups.flatMap((g) => [g >> 8, g & 0xff]);
  let parts = groups.map((g) => (pad ? g.toString(16).padStart(4, "0") : g.toString(16)));
  if (dotted) parts = [...parts.slice(0, 6), `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`];
  const runs = [];
  for (let i = 0; i < parts.length; i++) for (let j = i; j < parts.length && groups[j] === 0 && !(dotted && j >= 6); j++) runs.push([i, j + 1]);
  let text = parts.join(":");
  if (runs.length && cut % 3) {
    const [i, j] = runs[cut % runs.length];
    text = `${parts.slice(0, i).join(":")}::${parts.slice(j).join(":")}`;
  }
  return { text: upper ? text.toUpperCase() : text, bytes };
});

// LDH labels; "xn--" ones are A-labels only if their Punycode decodes (the A-label test below covers those).
const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/).filter((l) => !/^xn--/.test(l));
const domain = fc.record({
  labels: fc.array(label, { minLength: 0, maxLength: 3 }),
  tld: fc.stringMatching(/^[a-z]{2,8}$/),
  wildcard: fc.boolean(), upper: fc.boolean(), dot: fc.boolean(),
}).map(({ labels, tld, wildcard, upper, dot }) => {
  // A wildcard needs at least two labels after "*." ("*.com" is refused).
  const canonical = (wildcard && labels.length ? "*." : "") + [...labels, tld].join(".");
  const text = (upper ? canonical.toUpperCase() : canonical) + (dot ? "." : "");
  return { text, canonical };
});

/** DER TLVs in `buf` (one level): [{ tag, body }]. Written here so the check does not trust the library that encoded. */
function tlvs(buf) {
  const out = [];
  for (let i = 0; i < buf.length;) {
    const tag = buf[i++];
    let len = buf[i++];
    if (len & 0x80) { const n = len & 0x7f; len = 0; for (let k = 0; k < n; k++) len = len * 256 + buf[i++]; }
    out.push({ tag, body: buf.subarray(i, i + len) });
    i += len;
  }
  return out;
}

/** The SAN of a certificate as raw GeneralNames, straight from the DER: dNSName [2] strings and iPAddress [7] octets. */
function rawSans(cert) {
  const ext = cert.extensions.find((e) => e.type === OID_SAN);
  const [seq] = tlvs(Buffer.from(ext.value));
  if (seq.tag !== 0x30) throw new Error("the SAN extension is not a SEQUENCE");
  const names = tlvs(seq.body);
  return {
    dns: names.filter((n) => n.tag === 0x82).map((n) => n.body.toString("latin1")),
    ip: names.filter((n) => n.tag === 0x87).map((n) => [...n.body]),
  };
}

test("valid IPs and domains round-trip into the certificate's SAN exactly", async (t) => {
  const caKeys = await generateKeyPair();
  const leafKeys = await generateKeyPair();
  const notAfter = new Date(Date.now() + 86_400_000);
  const issuerCert = await createRootCertificate({ subject: { commonName: "prop CA" }, keys: caKeys, notAfter });
  await fc.assert(fc.asyncProperty(
    fc.array(fc.oneof(ipv4, ipv6), { maxLength: 4 }), fc.array(domain, { maxLength: 4 }),
    async (ips, domains) => {
      fc.pre(ips.length + domains.length > 0);
      const sans = { ips: ips.map((i) => checkIp(i.text)), domains: domains.map((d) => checkDomain(d.text)) };
      t.deepEqual(sans.domains, domains.map((d) => d.canonical));
      for (const ip of sans.ips) t.is(checkIp(ip), ip, "canonical forms are fixed points");
      // As new-cert and sign do: the SANs go into a CSR, sign re-checks them from the CSR, then issues.
      const csr = await createCsr({ commonName: "prop" }, sans, leafKeys);
      const fromCsr = await checkCsr(new x509.Pkcs10CertificateRequest(csr.rawData));
      t.deepEqual(fromCsr, sans);
      const issued = await issueCertificate({ subject: csr.subjectName, publicKey: csr.publicKey, sans: fromCsr, issuerCert, issuerKeys: caKeys, notAfter, profile: { kind: "leaf" } });
      const cert = new x509.X509Certificate(issued.rawData); // what a peer parses
      const raw = rawSans(cert);
      t.deepEqual(raw.dns, domains.map((d) => d.canonical));
      t.deepEqual(raw.ip, ips.map((i) => i.bytes));
      // Read back through the library (as `pki sign` re-checks a CSR), the canonical text is the same.
      t.deepEqual(sansOf(cert).ips.map(checkIp), sans.ips);
      return true;
    }), RUNS);
});

// ---- anything at all: refused with an InputError, or accepted with a well-formed result ----

const anyText = fc.oneof(
  fc.string({ unit: fc.constantFrom(..."aZ09.-_/\\ :%*\n\t\u0000é日\u202e\ufffd", "..", "xn--"), maxLength: 80 }),
  fc.string({ unit: "binary", maxLength: 80 }),
  fc.string({ unit: "grapheme", maxLength: 30 }),
  fc.string({ unit: fc.constantFrom(..."0123456789abcdefABCDEFg.:%"), maxLength: 45 }),
  fc.string({ unit: fc.constantFrom(..."abz019-*._"), maxLength: 300 }),
);

/** Runs `f(s)`; an error must be an InputError whose message is one line. */
function refusedOrOk(t, f, s) {
  try { return f(s); } catch (e) {
    t.true(e instanceof InputError, `${JSON.stringify(s)}: ${e}`);
    t.false(e.message.includes("\n"));
    return undefined;
  }
}

test("names: accepted exactly when they match [A-Za-z0-9._-]{1,64}, do not start with '.' and hold no '..'", (t) => {
  const rule = (s) => /^[A-Za-z0-9._-]{1,64}$/.test(s) && !s.startsWith(".") && !s.includes("..");
  fc.assert(fc.property(fc.oneof(anyText, fc.stringMatching(/^[A-Za-z0-9._-]{1,70}$/)), (s) => {
    const r = refusedOrOk(t, checkName, s);
    if (rule(s)) t.is(r, s);
    else {
      t.is(r, undefined, JSON.stringify(s));
      t.throws(() => checkName(s), { instanceOf: InputError, message: new RegExp(NAME_RULE.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")) });
    }
    return true;
  }), { numRuns: 2000 });
});

test("IPs: any string is refused or becomes a canonical address; near-misses are refused", (t) => {
  fc.assert(fc.property(anyText, (s) => {
    const r = refusedOrOk(t, checkIp, s);
    if (r !== undefined) {
      t.not(isIP(r), 0);
      t.is(r, r.toLowerCase());
      t.is(checkIp(r), r);
    }
    return true;
  }), { numRuns: 2000 });
  const nearMiss = fc.oneof(
    ipv4.chain((a) => fc.integer({ min: 0, max: 3 }).chain((i) => fc.integer({ min: 256, max: 9999 }).map((v) => a.bytes.map((b, k) => (k === i ? v : b)).join(".")))),
    ipv4.map((a) => a.bytes.slice(0, 3).join(".")),
    ipv4.map((a) => `${a.text}.1`),
    ipv6.map((a) => `${a.text}:g`),
    ipv6.map((a) => `${a.text}%eth0`),
    fc.array(fc.nat(0xffff), { minLength: 9, maxLength: 9 }).map((g) => g.map((x) => x.toString(16)).join(":")),
  );
  fc.assert(fc.property(nearMiss, (s) => {
    t.throws(() => checkIp(s), { instanceOf: InputError, message: /^invalid IP address / }, s);
    return true;
  }), RUNS);
});

test("domains: any string is refused or becomes a lower-case LDH name (or *.wildcard) of at most 253 characters", (t) => {
  const ldh = /^(\*\.)?[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;
  fc.assert(fc.property(fc.oneof(anyText, domain.map((d) => d.text)), (s) => {
    const r = refusedOrOk(t, checkDomain, s);
    if (r !== undefined) {
      t.regex(r, ldh);
      t.true(r.length <= 253);
      t.false(/^\d+$/.test(r.split(".").pop()), "a numeric last label would read as an IP");
      t.is(checkDomain(r), r);
    }
    return true;
  }), { numRuns: 2000 });
  // IDNs become punycode (the form a certificate must carry).
  t.is(checkDomain("Bücher.example"), "xn--bcher-kva.example");
  t.is(checkDomain("*.例え.テスト"), "*.xn--r8jz45g.xn--zckzah");
});

test("A-labels: an xn-- label passes only if it decodes by RFC 3492 to a U-label that encodes back to it", (t) => {
  // Node 24's domainToASCII passes these through unchanged; each must be refused on every Node version.
  const bad = {
    "xn--zz.com": "does not decode", "xn--a.com": "does not decode", "xn--.com": "empty",
    "xn--abc-.com": "decodes to plain ASCII", "xn--ab-1ca.com": "a no-break space, which IDNA maps to a space",
    "xn--ber-ska.com": "'Über': IDNA lower-cases it", "xn--uber-vwc.com": "'u' + U+0308: not in NFC",
  };
  for (const [d, why] of Object.entries(bad)) t.throws(() => checkDomain(d), { instanceOf: InputError }, `${d}: ${why}`);
  t.is(checkDomain("xn--ber-goa.com"), "xn--ber-goa.com");
  t.is(checkDomain("XN--Bcher-KVA.Example"), "xn--bcher-kva.example");
  t.is(checkDomain("*.xn--r8jz45g.xn--zckzah"), "*.xn--r8jz45g.xn--zckzah");
});

test("Punycode decoding agrees with Python's codec: its encodings of any text, and any string of Punycode digits", async (t) => {
  const unicode = fc.string({ unit: fc.oneof(fc.constantFrom(..."abz09-"), fc.integer({ min: 0x80, max: 0x10ffff })
    .filter((c) => c < 0xd800 || c > 0xdfff).map((c) => String.fromCodePoint(c))), minLength: 1, maxLength: 20 });
  const texts = fc.sample(unicode, 500);
  // Python reads a leading "-" as the delimiter; RFC 3492 (and node's old punycode.js) as a bad digit.
  const digits = fc.sample(fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,40}$/), 1500);
  const code = `import codecs, json, sys
def dec(s):
    try: return codecs.decode(s.encode(), "punycode")
    except UnicodeError: return None
inp = json.load(sys.stdin)
print(json.dumps({"enc": [codecs.encode(s, "punycode").decode() for s in inp["texts"]],
                  "dec": [dec(s) for s in inp["digits"]]}))`;
  const r = await run("python3", ["-c", code], { input: JSON.stringify({ texts, digits }) });
  t.is(r.code, 0, r.stderr);
  const py = JSON.parse(r.out);
  texts.forEach((s, i) => t.is(decodePunycode(py.enc[i]), s, py.enc[i]));
  let decoded = 0;
  digits.forEach((s, i) => {
    const surrogate = py.dec[i] !== null && /[\ud800-\udfff]/u.test(py.dec[i]);
    t.is(decodePunycode(s), surrogate ? undefined : (py.dec[i] ?? undefined), s);
    if (py.dec[i] !== null) decoded++;
  });
  t.true(decoded > 100 && decoded < digits.length - 100, `both kinds among the random strings (${decoded} decode)`);
});
