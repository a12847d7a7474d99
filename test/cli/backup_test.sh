#!/usr/bin/env bash
# Backups, restores and data-directory format versions through the real binary, as an operator
# uses them: `govesb backup` while the bus serves signed exchanges, `govesb restore` (checked,
# then into a new directory), `govesb audit verify` and `govesb serve` on the result; damaged,
# truncated and non-empty targets refused; a directory without its format file stamped, one of
# a future format refused and left alone. Usage: backup_test.sh PATH/TO/govesb
set -euo pipefail
bin=$1
work=$(mktemp -d /tmp/govesb-backup-test-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v sqlite3 >/dev/null || fail "sqlite3 (the CLI) is needed: scripts/setup installs it"
data=$work/data

port=$("$bin" bench free-port)
setup=$("$bin" bench setup --data-dir "$data" --provider-url "http://127.0.0.1:$port/" --json)
profile=$(jq -r .consumer_profile <<<"$setup")
"$bin" bench-provider --listen "127.0.0.1:$port" --key-file "$(jq -r .provider_key_file <<<"$setup")" \
  --esb-key "$(jq -r .esb_public_key <<<"$setup")" >"$work/provider.log" 2>&1 &
pids+=($!)

# start_bus DIR LOG: sets $bus and $url.
start_bus() {
  # Made before the bus starts: its redirect runs in the background, maybe after the wait below
  # first reads the file (a missing file fails that read, and set -e ends the script).
  : >"$2"
  "$bin" serve --plain-http --listen 127.0.0.1:0 --data-dir "$1" >"$2" 2>&1 &
  bus=$!
  pids+=($bus)
  url=""
  for _ in $(seq 200); do
    url=$(sed -n 's/^govesb: listening on //p' "$2")
    [ -n "$url" ] && return 0
    kill -0 "$bus" 2>/dev/null || break
    sleep 0.05
  done
  fail "the bus did not start on $1: $(cat "$2")"
}
stop_bus() {
  kill -TERM "$bus"
  wait "$bus" || true
}

# A backup while exchanges flow: the bus goes on serving, the backup holds what its database
# had committed.
start_bus "$data" "$work/bus.log"
"$bin" bench run --url "$url" --profile "$profile" --duration 2 --connections 2 --body-size 64 \
  --rate 300 --warmup 0.2 --pool 2000 --json >"$work/run.json" 2>/dev/null &
load=$!
for _ in $(seq 200); do
  n=$(sqlite3 "$data/govesb.db" "SELECT committed_through FROM evidence_commit_state" 2>/dev/null || echo 0)
  [ "${n:-0}" -ge 40 ] && break
  sleep 0.05
done
[ "${n:-0}" -ge 40 ] || fail "no evidence was committed under load"
"$bin" backup --data-dir "$data" --out "$work/bus.tar.gz" --json >"$work/backup.json"
wait "$load"
jq -e '.ok > 0 and .ok == .requests' "$work/run.json" >/dev/null ||
  fail "exchanges failed while the backup ran: $(cat "$work/run.json")"
stop_bus
through=$(jq .evidence_through "$work/backup.json")
[ "$through" -ge 40 ] || fail "the backup holds evidence up to $through only"
[ "$(stat -c %a "$work/bus.tar.gz")" = 600 ] || fail "the backup is readable by others"
if "$bin" backup --data-dir "$data" --out "$work/bus.tar.gz" 2>"$work/err"; then
  fail "an existing backup file was overwritten"
fi
grep -q "already exists" "$work/err" || fail "no reason given: $(cat "$work/err")"

# Checked, restored, verified, served.
"$bin" restore --in "$work/bus.tar.gz" --check | grep -q "is whole" || fail "restore --check"
"$bin" restore --in "$work/bus.tar.gz" --data-dir "$work/restored" >/dev/null
[ "$(stat -c %a "$work/restored")" = 700 ] || fail "the restored directory is not 0700"
[ "$(stat -c %a "$work/restored/keys/esb-keys.json")" = 600 ] || fail "the key is not 0600"
cmp -s "$data/keys/esb-keys.json" "$work/restored/keys/esb-keys.json" ||
  fail "the bus key differs"
"$bin" audit verify --data-dir "$work/restored" --json >"$work/verify.json" ||
  fail "audit verify on the restored directory: $(cat "$work/verify.json")"
[ "$(jq .records "$work/verify.json")" = "$through" ] ||
  fail "the restored log has $(jq .records "$work/verify.json") records, the backup $through"
start_bus "$work/restored" "$work/restored.log"
"$bin" bench run --url "$url" --profile "$profile" --duration 1 --connections 1 --body-size 64 --rate 100 \
  --json >"$work/run2.json" 2>/dev/null
[ "$(jq .ok "$work/run2.json")" -gt 0 ] || fail "the restored bus served nothing"
stop_bus
"$bin" audit verify --data-dir "$work/restored" | grep -q '^intact: ' ||
  fail "audit verify after serving the restored directory"

# Damaged, truncated, non-empty: refused, nothing written.
size=$(stat -c %s "$work/bus.tar.gz")
cp "$work/bus.tar.gz" "$work/bad.tar.gz"
at=$((size / 2))
# Sixteen bytes garbled (one changed bit of a deflate stream can, rarely, change nothing).
printf 'damaged-by-test!' | dd of="$work/bad.tar.gz" bs=1 seek="$at" conv=notrunc status=none
cmp -s "$work/bus.tar.gz" "$work/bad.tar.gz" && fail "the copy was not changed"
if "$bin" restore --in "$work/bad.tar.gz" --data-dir "$work/r1" 2>"$work/err"; then
  fail "a damaged backup was restored"
fi
grep -q "damaged" "$work/err" || fail "damaged: $(cat "$work/err")"
[ ! -e "$work/r1" ] || fail "a damaged backup wrote something"
head -c $((size - 100)) "$work/bus.tar.gz" >"$work/short.tar.gz"
if "$bin" restore --in "$work/short.tar.gz" --data-dir "$work/r2" 2>"$work/err"; then
  fail "a truncated backup was restored"
fi
grep -q "truncated" "$work/err" || fail "truncated: $(cat "$work/err")"
[ ! -e "$work/r2" ] || fail "a truncated backup wrote something"
mkdir "$work/r3" && echo mine >"$work/r3/notes"
if "$bin" restore --in "$work/bus.tar.gz" --data-dir "$work/r3" 2>"$work/err"; then
  fail "a non-empty directory was restored into"
fi
grep -q "is not empty" "$work/err" || fail "non-empty: $(cat "$work/err")"
[ "$(ls "$work/r3")" = notes ] || fail "the non-empty target was changed"

# The previous release's directory (no format file, the bus key alone in
# keys/esb-private-key.b64): stamped as format 1 at start, migrated to this release's format
# (the key moves into the key ring), and it works with the same key.
key_before=$("$bin" admin --data-dir "$work/restored" esb-key --current)
jq -r '.keys[0].private_key' "$work/restored/keys/esb-keys.json" \
  >"$work/restored/keys/esb-private-key.b64"
chmod 600 "$work/restored/keys/esb-private-key.b64"
rm "$work/restored/format" "$work/restored/keys/esb-keys.json"
start_bus "$work/restored" "$work/legacy.log"
stop_bus
grep -q "made before data-directory format versions were recorded" "$work/legacy.log" ||
  fail "the stamping was not logged: $(cat "$work/legacy.log")"
grep -q "migrating from format version 1 to 2: the bus signing key moves" "$work/legacy.log" ||
  fail "the migration was not logged: $(cat "$work/legacy.log")"
[ "$(head -1 "$work/restored/format")" = "govesb-data-dir 2" ] || fail "not migrated"
[ ! -e "$work/restored/keys/esb-private-key.b64" ] || fail "the old key file stayed"
[ "$("$bin" admin --data-dir "$work/restored" esb-key --current)" = "$key_before" ] ||
  fail "the bus key changed in the migration"

# A future format: refused by serve and by every command, the directory left as it is.
printf 'govesb-data-dir 99\nwritten-by govesb 9.9.9\n' >"$work/restored/format"
before=$(cd "$work/restored" && find . -type f -exec sha256sum {} + | sort)
if "$bin" serve --plain-http --listen 127.0.0.1:0 --data-dir "$work/restored" >"$work/future.log" 2>&1; then
  fail "serve ran on a directory of a future format"
fi
grep -q "format version 99 (written by govesb 9.9.9).*use a govesb at least as new" "$work/future.log" ||
  fail "serve's refusal: $(cat "$work/future.log")"
if "$bin" audit verify --data-dir "$work/restored" 2>"$work/err"; then fail "audit ran on it"; fi
grep -q "format version 99" "$work/err" || fail "audit's refusal: $(cat "$work/err")"
if "$bin" backup --data-dir "$work/restored" --out "$work/future.tar" 2>"$work/err"; then
  fail "backup took it"
fi
after=$(cd "$work/restored" && find . -type f -exec sha256sum {} + | sort)
[ "$before" = "$after" ] || fail "a refused directory was changed"
echo "backup CLI: ok (evidence up to record $through backed up under load, restored, verified)"
