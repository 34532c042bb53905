#!/usr/bin/env bash
# The etcd security guide's curl commands, verbatim, against `pki serve` on 127.0.0.1:PORT.
#
#   scripts/seed-curl.sh [PORT]          (default 6060; run it where the exported files are)
#
# Files: ca.crt, $SERVER.crt + key, $CLIENT.crt + key. SERVER and CLIENT default to "server1"
# and "client1", the names of the README's quickstart (NAME.key.insecure is preferred over
# NAME.key); SERVER=server CLIENT=client for the guide's own names. An encrypted server key is
# unlocked by pki serve from PKI_PASSPHRASE or PKI_PASSPHRASE_FILE. PKI is the command that runs
# pki (default: pki).
# Exits 0 when every command behaves as the guide says, 1 otherwise.
set -u
PORT=${1:-6060}
PKI=${PKI:-pki}
SERVER=${SERVER:-server1}
CLIENT=${CLIENT:-client1}
URL="https://127.0.0.1:$PORT/v1/versions"
keyof() { if [ -f "$1.key.insecure" ]; then echo "$1.key.insecure"; else echo "$1.key"; fi; }
SKEY=$(keyof "$SERVER") CKEY=$(keyof "$CLIENT")
for f in ca.crt "$SERVER.crt" "$SKEY" "$CLIENT.crt" "$CKEY"; do
  [ -r "$f" ] || { echo "seed-curl: $f not found in $PWD (see the header of $0)" >&2; exit 2; }
done

LOG=$(mktemp) PID=
stop() { if [ -n "$PID" ]; then kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; PID=; fi; }
trap 'stop; rm -f "$LOG"' EXIT

serve() { # serve ARGS...: start pki serve, wait for its ready line
  echo "== pki serve $*"
  # shellcheck disable=SC2086 # PKI may be "node dist/cli/pki.js"
  $PKI serve --port "$PORT" "$@" >"$LOG" 2>&1 &
  PID=$!
  for _ in $(seq 100); do
    grep -q '^serving ' "$LOG" && return 0
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$LOG" >&2; echo "seed-curl: pki serve did not start" >&2; exit 1
}

FAILS=0
expect() { # expect served|rejected CURL-ARGS...
  local want=$1 out rc got; shift
  echo "\$ curl $*"
  out=$(curl -sS --max-time 20 "$@" 2>&1); rc=$?
  if [ $rc -eq 0 ] && [ "$out" = '["v1"]' ]; then got=served; else got=rejected; fi
  echo "  $out"
  if [ "$got" = "$want" ]; then echo "  -> $got (curl exit $rc): as the guide says"; else echo "  -> $got (curl exit $rc): WRONG, expected $want"; FAILS=$((FAILS + 1)); fi
}

serve --certfile "$SERVER.crt" --keyfile "$SKEY"
expect served --cacert ca.crt -L "$URL"
stop

serve --certfile "$SERVER.crt" --keyfile "$SKEY" --cafile ca.crt
expect rejected --cacert ca.crt -L "$URL"
expect served --cacert ca.crt --cert "$CLIENT.crt" --key "$CKEY" -L "$URL"
stop

echo "== $([ $FAILS -eq 0 ] && echo "all as the guide says" || echo "$FAILS command(s) did not behave as the guide says")"
[ $FAILS -eq 0 ]
