#!/usr/bin/env bash
# Regenerates test/fixtures/layout1/: a layout-1 depot (index.json and files) made by this release's pki, for the
# upgrade test (test/records-layout1.test.js). Run `npm run build` first. Every key in it is sealed with the
# passphrase in test/fixtures/layout1.pass ("layout1 fixture passphrase"), at 1,000 PBKDF2 iterations
# (PKI_TEST_ONLY_KDF_ITERATIONS: the tests that open it set the same). It holds a root, an intermediate, leaves
# with DNS, IP, URI and email SANs, a renewal (history), a rekey (a replaced key), revocations of a current and a
# past certificate, CRLs of both CAs, an rm'd entry, an entry signed from a CSR made by openssl (external key),
# an EAB key, and an ACME account, order and authorization from a real lego run against `pki acme serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
out=test/fixtures/layout1
work=$(mktemp -d)
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
export PKI_TEST_ONLY_KDF_ITERATIONS=1000 PKI_DEPOT="$work/depot" PKI_PASSPHRASE_FILE=test/fixtures/layout1.pass
printf 'layout1 fixture passphrase\n' > "$PKI_PASSPHRASE_FILE"
pki() { node dist/bin/pki.js "$@"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
serial_of() { node -e 'const i = require(process.argv[1]); console.log(i.entries[process.argv[2]].serial)' \
  "$PKI_DEPOT/index.json" "$1"; }

pki init --common-name "Layout1 Fixture Root" --organization "pki fixtures"
pki init --intermediate inter --common-name "Layout1 Fixture Intermediate"
pki issue web web.example www.web.example 127.0.0.1 ::1 --server
pki issue api --issuer inter --domain api.example --uri spiffe://example.org/ns/api --email ops@example.org
pki issue client1 --client --key-type rsa --key-bits 2048
pki issue db --issuer inter --domain db.example
old_web=$(serial_of web)
pki renew web                                   # history: web's first certificate
pki renew db --rekey                            # history with the replaced key (and CSR)
pki revoke client1 --reason keyCompromise       # a current certificate revoked
pki revoke web --serial "$old_web" --reason superseded   # a past certificate revoked
pki issue gone --domain gone.example
pki revoke gone
pki rm gone                                     # removed: its certificate stays on the root's CRL
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ext.key" \
  -subj /CN=external.example -addext subjectAltName=DNS:external.example -out "$work/ext.csr" 2>/dev/null
pki sign external --csr "$work/ext.csr"         # external key: a certificate and CSR, no key in the depot
pki acme eab add team >/dev/null

# ACME: one account, order and authorization, through lego against pki acme serve.
http=$(free_port)
port=$(free_port)
pki acme serve --port "$port" --allow '*.acme.test' --http-01-port "$http" --resolve web.acme.test=127.0.0.1 \
  > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do grep -q 'ACME directory:' "$work/serve.log" && break; sleep 0.1; done
url=$(grep -o 'ACME directory: [^ ]*' "$work/serve.log" | cut -d' ' -f3)
LEGO_CA_CERTIFICATES="$PKI_DEPOT/ca.crt" lego --accept-tos --email ops@acme.test --server "$url" \
  --path "$work/lego" --http --http.port "127.0.0.1:$http" -d web.acme.test run >/dev/null 2>&1
kill "$server"; wait "$server" 2>/dev/null || true; server=

pki crl > /dev/null
pki crl > /dev/null                             # the root's CRL number 2
pki crl --issuer inter > /dev/null
pki doctor >/dev/null
rm -rf "$out" && mkdir -p "$out"
(cd "$PKI_DEPOT" && tar cf - --exclude=lock --exclude='lock.break' .) | tar xf - -C "$out"
echo "wrote $out: $(ls "$out/certs" | wc -l) files in certs/, $(ls "$out/history" | wc -l) in history/"
