# Shared by the admin CLI tests, sourced after `set -euo pipefail` and `bin=PATH/TO/govesb`:
#   source admin_cli_lib.sh NAME
# makes $work (a temporary directory named after NAME, removed on exit) and a new data directory
# $data with its database $db, and defines:
#   fail MESSAGE...   print FAIL: MESSAGE and exit 1
#   admin ARGS...     govesb admin --data-dir $data ARGS
#   dump              the database as SQL text
#   expect_error EXIT_CODE NEEDLE ARGS...
#                     `admin ARGS` fails with EXIT_CODE; exit 1 also means "error: <reason>"
#                     (containing NEEDLE) on stderr and nothing on stdout; either way the database
#                     is unchanged
work=$(mktemp -d "/tmp/govesb-$1-XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v jq >/dev/null || fail "jq is needed: scripts/setup installs it"
command -v sqlite3 >/dev/null || fail "sqlite3 (the CLI) is needed: scripts/setup installs it"
data=$work/data
"$bin" init --data-dir "$data" >/dev/null
db=$data/govesb.db
admin() { "$bin" admin --data-dir "$data" "$@"; }
dump() { sqlite3 "$db" .dump; }

expect_error() {
  local want=$1 needle=$2
  shift 2
  local before rc=0
  before=$(dump)
  admin "$@" </dev/null >"$work/out" 2>"$work/err" || rc=$?
  [ "$rc" -eq "$want" ] || fail "$* exited $rc, not $want: $(cat "$work/err")"
  if [ "$want" -eq 1 ]; then
    grep -q "^error: .*$needle" "$work/err" || fail "$*: stderr was: $(cat "$work/err")"
    [ ! -s "$work/out" ] || fail "$*: printed on stdout: $(cat "$work/out")"
  fi
  [ "$(dump)" = "$before" ] || fail "$* changed the database"
}
