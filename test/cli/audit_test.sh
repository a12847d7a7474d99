#!/usr/bin/env bash
# The evidence log through the real binary, as an operator uses it: exchanges with an API that
# keeps bodies, then `govesb audit` query, body, verify, archive, prove and check-proof, and a
# tampered archive found by verify. Usage: audit_test.sh PATH/TO/govesb
set -euo pipefail
bin=$1
work=$(mktemp -d /tmp/govesb-audit-test-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
data=$work/data

port=$("$bin" bench free-port)
setup=$("$bin" bench setup --data-dir "$data" --provider-url "http://127.0.0.1:$port/" --json)
profile=$(jq -r .consumer_profile <<<"$setup")
"$bin" admin api store-bodies BNCH01 on --data-dir "$data" --json | jq -e '.store_bodies == true' \
  >/dev/null || fail "store-bodies on"
if "$bin" admin api store-bodies BNCH01 sometimes --data-dir "$data" 2>/dev/null; then
  fail "a bad setting must be refused"
fi
"$bin" bench-provider --listen "127.0.0.1:$port" --key-file "$(jq -r .provider_key_file <<<"$setup")" \
  --esb-key "$(jq -r .esb_public_key <<<"$setup")" >"$work/provider.log" 2>&1 &
pids+=($!)
# Made before the bus starts: its redirect runs in the background, maybe after the wait below
# first reads the file (a missing file fails that read, and set -e ends the script).
: >"$work/bus.log"
"$bin" serve --plain-http --listen 127.0.0.1:0 --data-dir "$data" --log-level warn \
  >"$work/bus.log" 2>&1 &
bus=$!
pids+=($bus)
url=""
for _ in $(seq 100); do
  url=$(sed -n 's/^govesb: listening on //p' "$work/bus.log")
  [ -n "$url" ] && break
  sleep 0.05
done
[ -n "$url" ] || fail "the bus did not start: $(cat "$work/bus.log")"
"$bin" bench run --url "$url" --profile "$profile" --duration 1 --connections 2 --body-size 64 \
  --json >"$work/run.json" 2>/dev/null
[ "$(jq .ok "$work/run.json")" -gt 0 ] || fail "no exchange succeeded"
kill -TERM "$bus"
wait "$bus" || true  # shutdown seals the last records

# Query: every exchange has its four steps; pick one.
rid=$("$bin" audit query --data-dir "$data" --kind request --limit 1 --format jsonl | jq -r .requestId)
[ -n "$rid" ] && [ "$rid" != null ] || fail "audit query found no request"
steps=$("$bin" audit query --data-dir "$data" --request-id "$rid" --format jsonl | jq -r .kind | tr '\n' ' ')
[ "$steps" = "request delivery reply response " ] || fail "steps of $rid: $steps"

# Bodies: kept encrypted, readable with the bus's key, matching their records.
"$bin" audit body "$rid" --data-dir "$data" --json >"$work/body.json"
jq -e 'length == 2 and .[0].kind == "request" and .[1].kind == "reply"' "$work/body.json" \
  >/dev/null || fail "audit body: $(cat "$work/body.json")"
jq -e '.[0].data | contains("\"apiCode\":\"BNCH01\"")' "$work/body.json" >/dev/null ||
  fail "the request body is not the consumer's signed data"
command -v sqlite3 >/dev/null || fail "sqlite3 (the CLI) is needed: scripts/setup installs it"
ls "$data"/evidence-log/*.seg >/dev/null 2>&1 || fail "the live log has no segment file"
[ "$(grep -ac "$rid" "$data"/evidence-log/*.seg | awk -F: '{n += $NF} END {print n}')" = 1 ] ||
  fail "the live log does not hold $rid in one entry"
[ "$(sqlite3 "$data/govesb.db" "SELECT count(*) FROM evidence_index WHERE request_id = '$rid'")" = 1 ] ||
  fail "the sealed exchange $rid is not indexed"
if cat "$data"/evidence-log/*.seg | grep -aq '"pad":"abc'; then
  fail "a body is stored in the clear"
fi

# Verify, archive everything sealed, verify across the archive, prove from it.
"$bin" audit verify --data-dir "$data" | grep -q '^intact: ' || fail "verify before archiving"
"$bin" audit archive --data-dir "$data" --older-than 0 --json >"$work/archive.json"
jq -e '.records > 0 and (.files | length) == 1' "$work/archive.json" >/dev/null ||
  fail "archive: $(cat "$work/archive.json")"
file=$(jq -r '.files[0]' "$work/archive.json")
"$bin" audit verify --data-dir "$data" --json | jq -e '.intact == true' >/dev/null ||
  fail "verify across the archive"
n=$("$bin" audit query --data-dir "$data" --request-id "$rid" --format jsonl | wc -l)
[ "$n" -eq 4 ] || fail "query after archiving found $n records of $rid"
"$bin" audit body "$rid" --data-dir "$data" >/dev/null || fail "audit body after archiving"
"$bin" audit prove "$rid" --data-dir "$data" --out "$work/proof.json" 2>/dev/null
"$bin" audit check-proof "$work/proof.json" \
  --esb-key "$(jq -r .esb_public_key <<<"$setup")" | grep -q '^valid: ' || fail "check-proof"

# Tamper with the archive (a valid gzip file with one record altered): verify finds it.
gunzip -c "$data/evidence-archive/$file" | sed '3s/"latencyUs":[0-9]*/"latencyUs":1/' |
  gzip >"$work/forged.gz"
cp "$work/forged.gz" "$data/evidence-archive/$file"
if out=$("$bin" audit verify --data-dir "$data"); then fail "a tampered archive passed: $out"; fi
grep -q "^TAMPERED: .*$file" <<<"$out" || fail "verify did not name the archive: $out"
echo "audit CLI: ok ($(jq .records "$work/archive.json") records archived and verified)"
