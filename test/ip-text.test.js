// lib/x509/validate.ts checks IP addresses by node:net's rules without loading node:net: here node:net is the judge,
// over hand-picked edge cases and thousands of generated near-addresses (an IPv6 zone is refused by pki).
import test from "ava";
import { isIPv4, isIPv6 } from "node:net";
import { checkIp, isIPv4Text, isIPv6Text } from "../dist/lib/x509/validate.js";

const EDGES = [
  "", "0.0.0.0", "255.255.255.255", "256.0.0.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.04", "1..2.3",
  " 1.2.3.4", "1.2.3.4 ", "+1.2.3.4", "1.2.3.-4", "١.٢.٣.٤", "0x1.2.3.4", "::", ":::", "::1", "1::", "1::2::3",
  ":1::2", "1::2:", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::", "::1:2:3:4:5:6:7",
  "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8", "12345::", "g::1", "FFFF::ffff", "::ffff:1.2.3.4", "::1.2.3.4",
  "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", "1:2:3:4:5::1.2.3.4", "1:2:3:4:5:6::1.2.3.4", "::ffff:1.2.3",
  "::ffff:1.2.3.04", "1.2.3.4::", "1.2::3", "a:1.2.3.4", ":1.2.3.4", "fe80::1%eth0", "::ffff:1.2.3.4%1", "[::1]",
  "::1/128", "0:0:0:0:0:0:0:0", "0000:0000::", "00000::",
];

function oracle(s) {
  return { v4: isIPv4(s), v6: isIPv6(s) && !s.includes("%") };
}

/** Near-addresses: groups, separators and tails drawn from a small alphabet, so that valid and invalid both occur. */
function* generated(n) {
  let seed = 0x9e3779b9;
  const rnd = (k) => ((seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) % k);
  const pick = (xs) => xs[rnd(xs.length)];
  const hex = () => pick(["0", "1", "a", "F", "ff", "0db8", "ffff", "12345", "g", "", "00000"]);
  const dec = () =>
    pick(["0", "1", "9", "10", "99", "100", "199", "200", "249", "250", "255", "256", "300", "01", "001", ""]);
  const v4 = () => Array.from({ length: pick([3, 4, 4, 4, 5]) }, dec).join(".");
  for (let i = 0; i < n; i++) {
    if (rnd(4) === 0) { yield v4(); continue; }
    const parts = Array.from({ length: rnd(10) }, hex);
    if (rnd(2)) parts.splice(rnd(parts.length + 1), 0, "");
    if (rnd(3) === 0) parts.splice(rnd(parts.length + 1), 0, "");
    let s = parts.join(":");
    if (rnd(4) === 0) s += (s.endsWith(":") ? "" : ":") + v4();
    if (rnd(20) === 0) s += pick(["%eth0", "%", " ", "/64"]);
    yield s;
  }
}

test("IPv4 and IPv6 text: the same verdicts as node:net's isIPv4 and isIPv6 (zones refused)", (t) => {
  let valid = 0;
  const seen = new Set();
  for (const s of [...EDGES, ...generated(40_000)]) {
    if (seen.has(s)) continue;
    seen.add(s);
    const want = oracle(s);
    if (isIPv4Text(s) !== want.v4 || isIPv6Text(s) !== want.v6) {
      const pki = `v4 ${isIPv4Text(s)}, v6 ${isIPv6Text(s)}`;
      t.fail(`${JSON.stringify(s)}: pki says ${pki}; node:net ${JSON.stringify(want)}`);
      return;
    }
    if (want.v4 || want.v6) valid++;
  }
  t.true(seen.size > 5_000, `only ${seen.size} distinct strings`);
  t.true(valid > 500, `only ${valid} valid addresses among ${seen.size}: the accepting paths are not reached`);
  t.pass();
});

test("checkIp keeps IPv4 as written and writes IPv6 in RFC 5952 form", (t) => {
  t.is(checkIp(" 10.0.0.5 "), "10.0.0.5");
  t.is(checkIp("2001:0DB8:0000:0000:0000:0000:0000:0001"), "2001:db8::1");
  t.is(checkIp("::ffff:1.2.3.4"), "::ffff:102:304");
  for (const bad of ["1.2.3", "fe80::1%eth0", "::g", "256.0.0.1"])
    t.throws(() => checkIp(bad), { message: /invalid IP address/ });
});
