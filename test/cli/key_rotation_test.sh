#!/usr/bin/env bash
# Bus key rotation and TLS reload through the real binary, as docs/key-rotation.md tells an
# operator: exchanges signed by the first key; `admin esb-key rotate` stages a new key that
# GET /esb-key publishes while the running bus goes on signing with the old one; `activate`
# switches the running bus within a second (no restart); the provider and the consumer are given
# the new key; exchanges go on; `audit verify` is intact across the rotation, a proof from
# before it checks with the old key given and not with the new one alone. Then `serve` with an
# operator's certificate reloads it on SIGHUP (openssl s_client sees the new one; a broken file
# is refused and the one before goes on serving). Usage: key_rotation_test.sh PATH/TO/govesb
set -euo pipefail
bin=$1
work=$(mktemp -d /tmp/govesb-rotation-test-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
data=$work/data
admin() { "$bin" admin --data-dir "$data" "$@"; }

port=$("$bin" bench free-port)
setup=$("$bin" bench setup --data-dir "$data" --provider-url "http://127.0.0.1:$port/" --json)
profile=$(jq -r .consumer_profile <<<"$setup")
key_file=$(jq -r .provider_key_file <<<"$setup")
old_key=$(admin esb-key --current)
[ "$old_key" = "$(jq -r .esb_public_key <<<"$setup")" ] || fail "esb-key --current is not the bus key"
[ "$(admin esb-key --json | jq -r .public_key)" = "$old_key" ] || fail "esb-key --json public_key"

start_provider() {  # KEY: the bus key the provider accepts
  "$bin" bench-provider --listen "127.0.0.1:$port" --key-file "$key_file" --esb-key "$1" \
    >>"$work/provider.log" 2>&1 &
  provider=$!
  pids+=($provider)
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.05
  done
  fail "the provider did not start"
}
exchanges() {  # runs a second of exchanges; prints how many succeeded
  "$bin" bench run --url "$url" --profile "$profile" --duration 1 --connections 2 --body-size 64 \
    --json 2>/dev/null | jq .ok
}
esb_key() { curl -sf "$url/esb-key"; }
wait_for_bus_key() {  # KEY: until GET /esb-key says the running bus signs with it (1 if not)
  for _ in $(seq 60); do
    [ "$(esb_key | jq -r .public_key)" = "$1" ] && return 0
    sleep 0.05
  done
  return 1
}
give_systems_key() {  # KEY: the provider and the consumer are given the bus key KEY
  kill "$provider"
  wait "$provider" 2>/dev/null || true
  start_provider "$1"
  jq --arg k "$1" '.esb_public_key = $k' "$profile" >"$work/profile.json"
  mv "$work/profile.json" "$profile"
}

start_provider "$old_key"
# Made before the bus starts: its redirect runs in the background, maybe after the wait below
# first reads the file (a missing file fails that read, and set -e ends the script).
: >"$work/bus.log"
"$bin" serve --plain-http --listen 127.0.0.1:0 --data-dir "$data" --checkpoint-interval 1 \
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
[ "$(exchanges)" -gt 0 ] || fail "no exchange succeeded with the first key"
rid_before=$("$bin" audit query --data-dir "$data" --kind request --limit 1 --format jsonl |
  jq -r .requestId)
esb_key | jq -e --arg k "$old_key" '.public_key == $k and (.keys | length) == 1 and
  .keys[0].status == "current" and (.key_id | length) == 64' >/dev/null ||
  fail "GET /esb-key before rotation: $(esb_key)"

# Staged: published, not signing; a second rotation is refused until it is activated.
admin esb-key rotate --curve prime256v1 --overlap 2h --json >"$work/rotate.json" 2>"$work/rotate.err"
new_key=$(jq -r .key.public_key "$work/rotate.json")
jq -e '.key.status == "staged" and .key.curve == "prime256v1" and .key.valid_from == null' \
  "$work/rotate.json" >/dev/null || fail "rotate: $(cat "$work/rotate.json")"
grep -q "esb-key activate" "$work/rotate.err" || fail "rotate says what comes next"
[ "$(admin esb-key --staged)" = "$new_key" ] || fail "esb-key --staged"
if admin esb-key rotate 2>"$work/err"; then fail "a second staged key"; fi
grep -q "staged already" "$work/err" || fail "second rotate: $(cat "$work/err")"
if admin esb-key activate --at 2001-01-01T00:00:00Z 2>"$work/err"; then fail "activated in the past"; fi
for _ in $(seq 60); do
  esb_key | jq -e '.keys | map(.status) == ["current", "staged"]' >/dev/null && break
  sleep 0.05
done
esb_key | jq -e --arg o "$old_key" --arg n "$new_key" '.public_key == $o and
  .keys[1].public_key == $n and .keys[1].status == "staged"' >/dev/null ||
  fail "GET /esb-key with a staged key: $(esb_key)"
[ "$(exchanges)" -gt 0 ] || fail "staging a key broke the exchanges"

# Activated: the running bus signs with it within a second, and says so.
admin esb-key activate >/dev/null 2>&1
wait_for_bus_key "$new_key" || fail "the running bus did not switch keys"
esb_key | jq -e --arg o "$old_key" '.keys[1].public_key == $o and .keys[1].status == "overlap" and
  (.keys[1].not_after | type) == "string"' >/dev/null || fail "the old key's overlap: $(esb_key)"
grep -q "bus keys: signing with key" "$work/bus.log" || fail "the switch was not logged"
# The systems are given the new key; exchanges go on.
give_systems_key "$new_key"
[ "$(exchanges)" -gt 0 ] || fail "no exchange succeeded with the new key"

# A third key at once, with no overlap: the second key retires at once. erase-retired erases its
# private part (not the first key's: that one is still in its overlap); the running bus reads
# the ring again and goes on with the third key; a second run has nothing to erase.
admin esb-key rotate --now --overlap 0 --json >"$work/rotate3.json" 2>/dev/null
third_key=$(jq -r .key.public_key "$work/rotate3.json")
grep -q '"private_key":"' "$data/keys/esb-keys.json" || fail "the ring file holds no private key"
admin esb-key erase-retired --json >"$work/erase.json"
jq -e --arg n "$new_key" '(.erased | length) == 1 and
  ([.keys[] | select(.private_key_erased) | .public_key]) == [$n] and
  ([.keys[] | select(.private_key_erased | not)] | length) == 2' "$work/erase.json" >/dev/null ||
  fail "erase-retired: $(cat "$work/erase.json")"
jq -e --arg n "$new_key" '.version == 2 and
  ([.keys[] | select(.private_key == null) | .public_key]) == [$n] and
  ([.keys[] | select(.private_key != null)] | length) == 2' "$data/keys/esb-keys.json" \
  >/dev/null || fail "the ring file after erase-retired"
admin esb-key erase-retired >"$work/erase2.txt"
grep -q "^erased: none" "$work/erase2.txt" || fail "a second erase-retired: $(cat "$work/erase2.txt")"
wait_for_bus_key "$third_key" || fail "the running bus did not take the third key"
give_systems_key "$third_key"
[ "$(exchanges)" -gt 0 ] || fail "no exchange succeeded after erase-retired"
kill -TERM "$bus"
wait "$bus" || true  # seals the last records with the new key

# The evidence log: intact across the rotation, checkpoints by both keys.
"$bin" audit verify --data-dir "$data" | grep -q '^intact: ' || fail "audit verify after rotation"
command -v sqlite3 >/dev/null || fail "sqlite3 (the CLI) is needed: scripts/setup installs it"
[ "$(sqlite3 "$data/govesb.db" "SELECT count(DISTINCT json_extract(body, '$.keyId'))
  FROM evidence_checkpoints")" = 3 ] || fail "the checkpoints do not name all three keys"
admin esb-key --all --json | jq -e '.keys | length == 3' >/dev/null || fail "esb-key --all"
# A proof from before the rotation: valid with the old key given (or both), not the new alone.
"$bin" audit prove "$rid_before" --data-dir "$data" --out "$work/proof.json" 2>/dev/null
"$bin" audit check-proof "$work/proof.json" --esb-key "$old_key" --esb-key "$new_key" |
  grep -q '^valid: ' || fail "check-proof with both keys"
printf '%s\n# the key before\n%s\n' "$new_key" "$old_key" >"$work/keys.txt"
"$bin" audit check-proof "$work/proof.json" --esb-key "@$work/keys.txt" | grep -q '^valid: ' ||
  fail "check-proof with a key history file"
if "$bin" audit check-proof "$work/proof.json" --esb-key "$new_key" >"$work/out"; then
  fail "a proof of the old key's checkpoint passed with the new key alone"
fi
grep -q "not signed by the bus key you gave" "$work/out" || fail "check-proof: $(cat "$work/out")"
# Every change is an admin action, moved into the evidence log.
"$bin" audit query --data-dir "$data" --kind admin --format jsonl | jq -r .code | sort |
  tr '\n' ' ' | grep -q "esb-key.activate esb-key.erase-private esb-key.rotate esb-key.rotate " ||
  fail "the rotations and the erasure are not in the evidence log (once each)"

# TLS reload on SIGHUP, with an operator's certificate.
command -v openssl >/dev/null || fail "openssl (the CLI) is needed"
cert() {  # DIR: a self-signed certificate for localhost
  mkdir -p "$1"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=localhost -keyout "$1/key.pem" -out "$1/cert.pem" 2>/dev/null
}
fingerprint() { openssl x509 -noout -fingerprint -sha256 -in "$1"; }
served() {
  openssl s_client -connect "127.0.0.1:$tls_port" </dev/null 2>/dev/null |
    openssl x509 -noout -fingerprint -sha256
}
cert "$work/one"
cert "$work/two"
cp "$work/one/cert.pem" "$work/one/key.pem" "$work"
: >"$work/tls.log"  # made before the bus starts, as bus.log above
"$bin" serve --listen 127.0.0.1:0 --data-dir "$work/tls-data" --tls-cert "$work/cert.pem" \
  --tls-key "$work/key.pem" --admin-listen off >"$work/tls.log" 2>&1 &
tls_bus=$!
pids+=($tls_bus)
tls_port=""
for _ in $(seq 100); do
  tls_port=$(sed -n 's/^govesb: listening on https:\/\/127.0.0.1://p' "$work/tls.log")
  [ -n "$tls_port" ] && break
  sleep 0.05
done
[ -n "$tls_port" ] || fail "the TLS bus did not start: $(cat "$work/tls.log")"
[ "$(served)" = "$(fingerprint "$work/one/cert.pem")" ] || fail "not the first certificate"
cp "$work/two/cert.pem" "$work/two/key.pem" "$work"
kill -HUP "$tls_bus"
for _ in $(seq 60); do
  grep -q "TLS: reloaded" "$work/tls.log" && break
  sleep 0.05
done
kill -0 "$tls_bus" 2>/dev/null || fail "SIGHUP ended the bus: $(cat "$work/tls.log")"
[ "$(served)" = "$(fingerprint "$work/two/cert.pem")" ] || fail "not the new certificate after SIGHUP"
echo "not a key" >"$work/key.pem"
kill -HUP "$tls_bus"
for _ in $(seq 60); do
  grep -q "TLS: the certificate was not reloaded" "$work/tls.log" && break
  sleep 0.05
done
grep -q "TLS: the certificate was not reloaded" "$work/tls.log" || fail "a broken key was not refused"
[ "$(served)" = "$(fingerprint "$work/two/cert.pem")" ] || fail "a broken file replaced the certificate"
kill -TERM "$tls_bus"
wait "$tls_bus" || fail "the TLS bus did not stop cleanly"
echo "key rotation CLI: ok (rotated under a running bus, a retired key's private part erased, audit intact; TLS reloaded on SIGHUP)"
