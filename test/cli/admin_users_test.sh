#!/usr/bin/env bash
# Accounts of the admin API and portal through the real binary, as an operator creates the first
# ones: `admin user add|list|update|disable|enable|reset-password`, with --json and in
# text. A one-time password is printed once and stored only as a scrypt hash; every change is
# an admin action; bad input exits 1 with "error: ..." and changes nothing.
# Usage: admin_users_test.sh PATH/TO/govesb
set -euo pipefail
bin=$1
# shellcheck source=admin_cli_lib.sh
source "$(dirname "$0")/admin_cli_lib.sh" admin-users-test
sql() { sqlite3 "$db" "$1"; }

admin institution add --code RITA --name "Registration Agency" --json >/dev/null

# ---- the first operator: a one-time password, printed once ----
admin user add --role operator --email Op@EGA.go.tz --name "Bus Operator" --json \
  >"$work/op.json" 2>"$work/op.err"
jq -e '.email == "op@ega.go.tz" and .role == "operator" and .name == "Bus Operator" and
  .institution == null and .must_change_password == true and .enabled == true and
  (.one_time_password | length) >= 16' "$work/op.json" >/dev/null ||
  fail "user add: $(cat "$work/op.json")"
grep -q "shown only once" "$work/op.err" || fail "no warning: $(cat "$work/op.err")"
otp=$(jq -r .one_time_password "$work/op.json")
[ "$(sql "SELECT substr(password_hash, 1, 13) FROM users WHERE email = 'op@ega.go.tz'")" = \
  'scrypt$15$8$1' ] || fail "the password is not an scrypt hash"
dump | grep -qF "$otp" && fail "the one-time password is stored"

# ---- a password from stdin: not printed, need not be changed ----
printf 'a long chosen password\n' |
  admin user add --role auditor --email audit@nao.go.tz --password-stdin --json >"$work/a.json"
jq -e '.must_change_password == false and (has("one_time_password") | not)' "$work/a.json" \
  >/dev/null || fail "--password-stdin: $(cat "$work/a.json")"
dump | grep -qF "a long chosen password" && fail "the chosen password is stored"

admin user add --role institution-admin --email admin@rita.go.tz --institution RITA --json \
  2>/dev/null | jq -e '.institution == "RITA"' >/dev/null || fail "institution-admin"

# ---- bad input: exit 1, nothing changed ----
expect_error 1 "operator, institution-admin or auditor" user add --role boss --email b@ega.go.tz
expect_error 1 "e-mail" user add --role auditor --email not-an-address
expect_error 1 "exists" user add --role auditor --email OP@ega.go.tz
expect_error 1 "give its code" user add --role institution-admin --email x@rita.go.tz
expect_error 1 "no institution" user add --role institution-admin --email x@rita.go.tz \
  --institution NOPE
expect_error 1 "has none" user add --role auditor --email x@rita.go.tz --institution RITA
expect_error 1 "no password on stdin" user add --role auditor --email x@ega.go.tz \
  --password-stdin
before=$(dump)
printf 'short\n' | admin user add --role auditor --email x@ega.go.tz --password-stdin \
  >/dev/null 2>"$work/err" && fail "a short password was accepted"
grep -q "^error: .*at least 12" "$work/err" || fail "short password: $(cat "$work/err")"
[ "$(dump)" = "$before" ] || fail "a refused password changed the database"
expect_error 1 "last enabled operator" user disable --email op@ega.go.tz
expect_error 1 "no user" user disable --email nobody@ega.go.tz
expect_error 2 "" user add --email x@ega.go.tz

# ---- list, disable, enable, reset-password ----
admin user list --json | jq -e 'length == 3 and ([.[].email] | sort) ==
  ["admin@rita.go.tz", "audit@nao.go.tz", "op@ega.go.tz"] and
  all(.[]; has("password_hash") | not)' >/dev/null || fail "list: $(admin user list --json)"
admin user list | grep -q '^admin@rita.go.tz .*institution-admin *RITA' ||
  fail "text list: $(admin user list)"
admin user disable --email audit@nao.go.tz --json | jq -e '.enabled == false' >/dev/null ||
  fail "disable"
admin user enable --email audit@nao.go.tz --json | jq -e '.enabled == true' >/dev/null ||
  fail "enable"
admin user reset-password --email audit@nao.go.tz --json 2>/dev/null >"$work/reset.json"
jq -e '.must_change_password == true and (.one_time_password | length) >= 16' \
  "$work/reset.json" >/dev/null || fail "reset-password: $(cat "$work/reset.json")"
dump | grep -qF "$(jq -r .one_time_password "$work/reset.json")" &&
  fail "the reset password is stored"

# ---- update: role, institution, display name; bad changes refused, nothing changed ----
admin institution add --code EGA --name "e-Government Authority" --json >/dev/null
expect_error 1 "give what changes" user update --email audit@nao.go.tz
expect_error 1 "operator, institution-admin or auditor" user update --email audit@nao.go.tz \
  --role boss
expect_error 1 "give its code" user update --email audit@nao.go.tz --role institution-admin
expect_error 1 "no institution with the code 'NOPE'" user update --email audit@nao.go.tz \
  --role institution-admin --institution NOPE
expect_error 1 "has none" user update --email audit@nao.go.tz --institution RITA
expect_error 1 "last enabled operator" user update --email op@ega.go.tz --role auditor
expect_error 1 "no user" user update --email nobody@ega.go.tz --role auditor
# The same values again: nothing changes, nothing is recorded.
expect_error 0 "" user update --email audit@nao.go.tz --role auditor
admin user update --email audit@nao.go.tz --role institution-admin --institution EGA \
  --display-name "National Audit" --json | jq -e '.role == "institution-admin" and
  .institution == "EGA" and .name == "National Audit"' >/dev/null || fail "update --json"
admin user update --email admin@rita.go.tz --role auditor | grep -q "^role: *auditor$" ||
  fail "update in text"
[ "$(sql "SELECT COALESCE(institution_id, 'none') FROM users WHERE email = 'admin@rita.go.tz'")" \
  = none ] || fail "leaving institution-admin keeps the institution"
sql "SELECT detail FROM admin_actions WHERE action = 'user.update' ORDER BY id LIMIT 1" |
  jq -e '.before.role == "auditor" and .after.role == "institution-admin" and
  .after.institution == "EGA" and .after.name == "National Audit"' >/dev/null ||
  fail "user.update detail: $(sql "SELECT detail FROM admin_actions WHERE action = 'user.update'")"

# ---- every change is an admin action of the CLI's operator, without a secret ----
[ "$(sql "SELECT group_concat(action, ' ') FROM (SELECT action FROM admin_actions
  WHERE object LIKE 'user:%' ORDER BY id)")" = \
  "user.add user.add user.add user.disable user.enable user.reset-password user.update \
user.update" ] ||
  fail "actions: $(sql 'SELECT action, object FROM admin_actions')"
[ "$(sql "SELECT COUNT(*) FROM admin_actions WHERE object LIKE 'user:%' AND via = 'cli'
  AND account LIKE 'cli:%'")" = 8 ] || fail "the actions' actor"
sql "SELECT detail FROM admin_actions" | grep -qE "scrypt|$otp|one_time" &&
  fail "a secret in an admin action"
echo "cli.admin_users: ok"
