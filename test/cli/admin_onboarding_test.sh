#!/usr/bin/env bash
# Onboarding through the real binary: `admin institution rename|suspend|resume`,
# `admin api describe|schema|disable|enable` and `admin topic disable|enable`, with --json; bad input exits 1 with "error: ..." and
# changes nothing; `api list --json` keeps its members and gains the catalogue's.
# Usage: admin_onboarding_test.sh PATH/TO/govesb
set -euo pipefail
bin=$1
work=$(mktemp -d /tmp/govesb-admin-onboarding-test-XXXXXX)
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
  local needle=$1
  shift
  local before rc=0
  before=$(dump)
  admin "$@" >"$work/out" 2>"$work/err" || rc=$?
  [ "$rc" -eq 1 ] || fail "$* exited $rc, not 1: $(cat "$work/err")"
  grep -q "^error: .*$needle" "$work/err" || fail "$*: stderr was: $(cat "$work/err")"
  [ "$(dump)" = "$before" ] || fail "$* changed the database"
}

# First contact: only `init` and `serve` create a data directory. Every other command refuses a
# missing one, names the absolute path it looked at and says how to point at the right one.
nowhere=$work/elsewhere/govesb-data
for cmd in "admin esb-key" "admin institution list" "audit verify"; do
  rc=0
  # shellcheck disable=SC2086
  (cd "$work" && "$bin" $cmd --data-dir elsewhere/govesb-data) >"$work/out" 2>"$work/err" || rc=$?
  [ "$rc" -eq 1 ] || fail "$cmd on a missing data directory exited $rc, not 1"
  grep -q "no bus data directory at $nowhere" "$work/err" || fail "$cmd: $(cat "$work/err")"
  grep -q "govesb init --data-dir DIR" "$work/err" || fail "$cmd: no hint: $(cat "$work/err")"
  [ ! -e "$work/elsewhere" ] || fail "$cmd created a data directory"
done
mkdir -p "$nowhere"  # an empty directory is not a bus's either
"$bin" admin --data-dir "$nowhere" esb-key 2>"$work/err" && fail "esb-key on an empty directory"
grep -q "no bus data directory at $nowhere" "$work/err" || fail "empty dir: $(cat "$work/err")"
[ -z "$(ls -A "$nowhere")" ] || fail "esb-key wrote into an empty directory"
made=$("$bin" init --data-dir "$nowhere" --json)
[ "$(jq -r .created <<<"$made")" = true ] || fail "init: $made"
[ "$(jq -r .data_dir <<<"$made")" = "$nowhere" ] || fail "init path: $made"
again=$("$bin" init --data-dir "$nowhere" --key-curve prime256v1 --json)
[ "$(jq -r .created <<<"$again")" = false ] || fail "init again: $again"
[ "$(jq -r .public_key <<<"$again")" = "$(jq -r .public_key <<<"$made")" ] ||
  fail "init again changed the bus key"
[ "$("$bin" admin --data-dir "$nowhere" esb-key --json | jq -r .public_key)" = \
  "$(jq -r .public_key <<<"$made")" ] || fail "esb-key after init is not init's key"
[ "$(stat -c %a "$nowhere/keys")" = 700 ] || fail "init: the keys directory is not 0700"

key=$("$bin" keygen --json | jq -r .public_key)
admin institution add --code RITA --name "Reg Agency" --json >/dev/null
cid=$(admin system add --institution RITA --name Births --public-key "$key" \
  --endpoint https://rita.example/esb --json 2>/dev/null | jq -r .client_id)
admin api add --provider "$cid" --code BRTHCRT --json >/dev/null
# system show says when its key and its secret last changed: at registration, so far.
shown=$(admin system show "$cid" --json)
jq -e '.key_changed_at == .created_at and .secret_changed_at == .created_at' <<<"$shown" \
  >/dev/null || fail "system show, the key and secret change times: $shown"

# Institutions.
[ "$(admin institution rename RITA --name "Registration Agency" --json | jq -r .name)" = \
  "Registration Agency" ] || fail "rename"
[ "$(admin institution suspend RITA --json | jq -r .suspended)" = true ] || fail "suspend"
[ "$(admin system show "$cid" --json | jq -r .credential_version)" = 2 ] || fail "tokens kept"
expect_error "already suspended" institution suspend RITA
[ "$(admin institution resume RITA --json | jq -r .suspended)" = false ] || fail "resume"
expect_error "institution 'NOPE' not found" institution suspend NOPE

# The catalogue.
echo '{"certificateNo":"B-1"}' >"$work/req.json"
echo '{"openapi":"3.0.3","info":{"title":"Births","version":"1"}}' >"$work/oa.json"
echo 'not json' >"$work/bad.json"
out=$(admin api describe BRTHCRT --title "Birth certificates" --description "By number" \
  --request-example "$work/req.json" --openapi "$work/oa.json" --json)
[ "$(jq -r .title <<<"$out")" = "Birth certificates" ] || fail "describe: $out"
[ "$(jq -r .has_openapi <<<"$out")" = true ] || fail "describe openapi: $out"
expect_error "the request example is not valid JSON" api describe BRTHCRT \
  --request-example "$work/bad.json"
expect_error "the OpenAPI document must be a JSON object" api describe BRTHCRT \
  --openapi "$work/req.json"
expect_error "nothing to change" api describe BRTHCRT
head -c 300000 /dev/zero | tr '\0' ' ' >"$work/big.json"
expect_error "larger than 256 KB" api describe BRTHCRT --openapi "$work/big.json"

[ "$(admin api disable BRTHCRT --json | jq -r .enabled)" = false ] || fail "disable"
expect_error "already disabled" api disable BRTHCRT
[ "$(admin api enable BRTHCRT --json | jq -r .enabled)" = true ] || fail "enable"

# Push topics are disabled and enabled the same way; the list shows the state.
admin topic add --publisher "$cid" --code BIRTHS --json >/dev/null
[ "$(admin topic disable BIRTHS --json | jq -r .enabled)" = false ] || fail "topic disable"
expect_error "push topic 'BIRTHS' is already disabled" topic disable BIRTHS
expect_error "topic 'NOPE' not found" topic enable NOPE
[ "$(admin topic list --json | jq -r '.[0].enabled')" = false ] || fail "topic list state"
admin topic list | grep -q "BIRTHS.*false" || fail "topic list (text) state: $(admin topic list)"
[ "$(admin topic enable BIRTHS --json | jq -r .enabled)" = true ] || fail "topic enable"

# `api list --json`: the old members unchanged, the catalogue's added.
# An API's contract: published from files, shown, refused with the place of the problem (the old
# one stays), removed.
cat >"$work/request.schema.json" <<'JSON'
{"type": "object", "required": ["certificateNo"],
 "properties": {"certificateNo": {"type": "string", "pattern": "^B-[0-9]+$"}}}
JSON
echo '{"type": "object", "required": ["name"]}' >"$work/response.schema.json"
out=$(admin api schema BRTHCRT --request "$work/request.schema.json" \
  --response "$work/response.schema.json" --json)
[ "$(jq -r .request_schema_sha256 <<<"$out")" = "$(sha256sum <"$work/request.schema.json" | cut -c1-64)" ] ||
  fail "api schema: $out"
shown=$(admin api schema BRTHCRT --show --json)
[ "$(jq -r .request_schema <<<"$shown")" = "$(cat "$work/request.schema.json")" ] ||
  fail "api schema --show: $shown"
admin api schema BRTHCRT --show | grep -q '"pattern": "^B-\[0-9\]+\$"' || fail "api schema --show (text)"
echo '{"properties": {"age": {"minimum": "0"}}}' >"$work/bad.schema.json"
expect_error "the request schema: #/properties/age/minimum: must be a number" \
  api schema BRTHCRT --request "$work/bad.schema.json"
python3 -c 'print("{\"description\": \"" + "x" * 262144 + "\"}")' >"$work/huge.schema.json"
expect_error "larger than 256 KB" api schema BRTHCRT --request "$work/huge.schema.json"
deep=$(printf '{"items":%.0s' $(seq 70))'{}'$(printf '}%.0s' $(seq 70))
echo "$deep" >"$work/deep.schema.json"
expect_error "the response schema: the schema is nested deeper than 64 levels" \
  api schema BRTHCRT --response "$work/deep.schema.json"
expect_error "nothing to do" api schema BRTHCRT
expect_error "contradict" api schema BRTHCRT --clear --request "$work/request.schema.json"
expect_error "give it alone" api schema BRTHCRT --show --clear
[ "$(admin api schema BRTHCRT --show --json | jq -r .request_schema)" = "$(cat "$work/request.schema.json")" ] ||
  fail "a refused schema replaced the published one"
cleared=$(admin api schema BRTHCRT --clear-response --json)
[ "$(jq -r .response_schema_sha256 <<<"$cleared")" = null ] || fail "--clear-response: $cleared"
[ "$(jq -r .request_schema_sha256 <<<"$cleared")" != null ] || fail "--clear-response: $cleared"
[ "$(admin api schema BRTHCRT --clear --json | jq -r .request_schema_sha256)" = null ] ||
  fail "--clear"

list=$(admin api list --json)
for member in code provider endpoint endpoint_override timeout_ms mode callback_endpoint \
  store_bodies rate_per_second rate_burst replay_policy created_at enabled title description \
  provider_name provider_institution provider_institution_name has_openapi \
  request_schema_sha256 response_schema_sha256; do
  jq -e ".[0] | has(\"$member\")" <<<"$list" >/dev/null || fail "api list lacks $member"
done
[ "$(jq -r '.[0].provider_institution_name' <<<"$list")" = "Registration Agency" ] ||
  fail "provider's institution: $list"

# A new secret moves the secret's change time, not the key's (whole seconds apart, to tell).
sleep 1.1
admin system rotate-secret "$cid" --json >/dev/null
shown=$(admin system show "$cid" --json)
jq -e '.secret_changed_at == .updated_at and .secret_changed_at > .created_at and
  .key_changed_at == .created_at' <<<"$shown" >/dev/null ||
  fail "system show after rotate-secret: $shown"

# Every change was recorded.
[ "$(sqlite3 "$db" "SELECT count(*) FROM admin_actions WHERE action IN ('institution.rename',
  'institution.suspend', 'institution.resume', 'api.describe', 'api.disable', 'api.enable',
  'topic.disable', 'topic.enable', 'api.contract')")" = 11 ] ||
  fail "actions not recorded"
echo PASS
