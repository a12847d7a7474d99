#!/usr/bin/env bash
# `govesb config check` and `govesb serve --config` through the real binary, as an operator
# uses them: a good file is OK (exit 0); a bad one gets every error with its file, line and key
# (exit 1), and `serve` with it starts nothing (exit 2, no data directory made, no port bound).
# Usage: config_test.sh PATH/TO/govesb
set -euo pipefail
bin=$1
work=$(mktemp -d /tmp/govesb-config-test-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# run EXPECTED_EXIT ARGS...: the output in $work/out and $work/err.
run() {
  local want=$1 rc=0
  shift
  "$bin" "$@" >"$work/out" 2>"$work/err" || rc=$?
  [ "$rc" -eq "$want" ] || fail "govesb $* exited $rc, not $want: $(cat "$work/out" "$work/err")"
}

cat >"$work/good.conf" <<CONF
# a bus on a port of its own
data-dir = $work/data
listen = 127.0.0.1:0
admin-listen = off
plain-http = true
token-ttl = 600     # ten minutes
log-level = "warn"
CONF
run 0 config check "$work/good.conf"
[ "$(cat "$work/out")" = "$work/good.conf: OK" ] || fail "config check printed: $(cat "$work/out")"
[ ! -s "$work/err" ] || fail "config check of a good file wrote on stderr: $(cat "$work/err")"
[ ! -e "$work/data" ] || fail "config check made the data directory"

cat >"$work/bad.conf" <<CONF
data-dir = $work/data
liste = 0.0.0.0:8443
token-ttl = 30
this line has no equals sign
plain-http = yes
retry-max-ms = 10
CONF
run 1 config check "$work/bad.conf"
expected="error: $work/bad.conf:2: unknown key 'liste' (did you mean 'listen'?)
error: $work/bad.conf:3: token-ttl: must be from 120 to 86400 (not 30)
error: $work/bad.conf:4: expected \`key = value\`, found 'this line has no equals sign'
error: $work/bad.conf:5: plain-http: 'yes' is not true or false"
[ "$(cat "$work/err")" = "$expected" ] || fail "config check of bad.conf printed:
$(cat "$work/err")"
[ ! -s "$work/out" ] || fail "config check of a bad file printed OK: $(cat "$work/out")"

# A file whose every line is good but whose settings conflict: the check serve makes after.
printf 'retry-base-ms = 2000\nretry-max-ms = 1000\n' >"$work/conflict.conf"
run 1 config check "$work/conflict.conf"
grep -qx "error: --retry-max-ms (1000) must be at least --retry-base-ms (2000)" "$work/err" ||
  fail "conflict.conf: $(cat "$work/err")"

run 1 config check "$work/absent.conf"
grep -qx "error: cannot read the configuration file $work/absent.conf: No such file or directory" \
  "$work/err" || fail "absent.conf: $(cat "$work/err")"
run 2 config
run 2 config check

# serve with the bad file: the same errors, and nothing starts.
run 2 serve --config "$work/bad.conf"
[ "$(cat "$work/err")" = "$expected" ] || fail "serve --config bad.conf printed:
$(cat "$work/err")"
[ ! -e "$work/data" ] || fail "serve made the data directory although its file has errors"
run 2 serve --config "$work/absent.conf" --data-dir "$work/data"
[ ! -e "$work/data" ] || fail "serve made the data directory without its configuration file"
echo "config: ok"
