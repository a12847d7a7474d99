#!/usr/bin/env bash
# The hardening settings of the registry through the real binary, as an operator uses them:
# `admin system limits|fallbacks|show|list` and `admin api add|limits|replay|list`, with --json
# and in text; bad values exit 1 with "error: ..." and change nothing, usage errors exit 2.
# Usage: admin_limits_test.sh PATH/TO/govesb
set -euo pipefail
bin=$1
# shellcheck source=admin_cli_lib.sh
source "$(dirname "$0")/admin_cli_lib.sh" admin-limits-test

key=$("$bin" keygen --json | jq -r .public_key)
admin institution add --code EGA --name "e-Government Authority" --json >/dev/null
cid=$(admin system add --institution EGA --name Portal --public-key "$key" \
  --endpoint https://portal.example/esb --json 2>/dev/null | jq -r .client_id)
other=$(admin system add --institution EGA --name Other --public-key "$key" \
  --endpoint https://other.example/esb --json 2>/dev/null | jq -r .client_id)

# ---- system: defaults, limits, fallbacks ----
admin system show --client-id "$cid" --json | jq -e '.rate_per_second == "default" and
  .rate_burst == "default" and .signature_fallbacks == true and .signature_variants == [] and
  .fallback_verifications == 0' >/dev/null || fail "defaults: $(admin system show "$cid" --json)"

admin system limits --client-id "$cid" --rate 2.5 --burst 10 --json |
  jq -e '.rate_per_second == 2.5 and .rate_burst == 10' >/dev/null || fail "limits 2.5/10"
admin system limits "$cid" --burst default --json |
  jq -e '.rate_per_second == 2.5 and .rate_burst == "default"' >/dev/null ||
  fail "--burst alone keeps the rate"
admin system limits --client-id "$cid" --rate unlimited --json |
  jq -e '.rate_per_second == "unlimited"' >/dev/null || fail "--rate unlimited"
admin system show --client-id "$cid" | grep -q '^rate_per_second: *unlimited$' ||
  fail "text show: $(admin system show --client-id "$cid")"
admin system show --client-id "$other" --json | jq -e '.rate_per_second == "default"' \
  >/dev/null || fail "the other system changed"

for bad in fast 2000000 -0.5 -2 0.0001 nan inf 1e400 "" 5x; do
  expect_error 1 "rate" system limits --client-id "$cid" --rate "$bad"
done
for bad in unlimited 0.5 -1 2e6 many; do
  expect_error 1 "burst" system limits --client-id "$cid" --burst "$bad"
done
expect_error 1 "nothing to change" system limits --client-id "$cid"
expect_error 1 "not found" system limits --client-id no-such-system --rate 5
expect_error 2 "" system limits --client-id "$cid" --rate 5 --bogus
# A bad value is refused before a data directory is created.
if "$bin" admin --data-dir "$work/none" system limits --client-id x --rate fast 2>/dev/null; then
  fail "a bad rate must be refused"
fi
[ ! -e "$work/none" ] || fail "a refused command created the data directory"

admin system fallbacks --client-id "$cid" off --json | jq -e '.signature_fallbacks == false' \
  >/dev/null || fail "fallbacks off"
admin system fallbacks --client-id "$cid" off --json >/dev/null || fail "off again is no error"
expect_error 1 "on or off" system fallbacks --client-id "$cid" maybe
expect_error 1 "not found" system fallbacks --client-id nobody on
expect_error 2 "" system fallbacks --client-id "$cid"
expect_error 2 "" system fallbacks off
admin system list --json | jq -e --arg c "$cid" --arg o "$other" '
  (.[] | select(.client_id == $c) | .signature_fallbacks == false) and
  (.[] | select(.client_id == $o) | .signature_fallbacks == true)' >/dev/null ||
  fail "list --json fallbacks"
admin system list | head -1 | grep -q 'fallbacks  *fallback_verifications' ||
  fail "list header: $(admin system list | head -1)"
admin system list | grep "$cid" | grep -qw off || fail "list text: off"
admin system list | grep "$other" | grep -qw on || fail "list text: on"

# ---- signature usage, as the bus records it ----
sid=$(sqlite3 "$db" "SELECT id FROM systems WHERE client_id = '$cid'")
sqlite3 "$db" "INSERT INTO signature_usage(system_id, variant, count, first_at, last_at) VALUES
  ($sid, 'raw', 1200, 1700000000000, 1700000100000),
  ($sid, 'latin1', 3, 1700000000000, 1700000050000)"
admin system show --client-id "$cid" --json | jq -e '.fallback_verifications == 3 and
  (.signature_variants | length) == 2 and
  (.signature_variants[] | select(.variant == "raw") | .count == 1200 and
     .last_at == "2023-11-14T22:15:00Z")' >/dev/null ||
  fail "show --json usage: $(admin system show --client-id "$cid" --json)"
admin system show --client-id "$cid" |
  grep -q '^signature_variants: *raw 1200 (last 2023-11-14T22:15:00Z), latin1 3 (last ' ||
  fail "text show usage: $(admin system show --client-id "$cid")"
admin system list --json | jq -e --arg c "$cid" \
  '.[] | select(.client_id == $c) | .fallback_verifications == 3' >/dev/null ||
  fail "list --json usage"
admin system show --client-id "$other" | grep -q '^signature_variants: *none recorded$' ||
  fail "a system without usage"

# ---- APIs: limits per consumer and replay policy ----
admin api add --provider "$cid" --code GETUSR --json |
  jq -e '.rate_per_second == "default" and .rate_burst == "default" and
    .replay_policy == "record"' >/dev/null || fail "api add defaults"
admin api add --provider "$cid" --code PAYBIL --rate 0.5 --burst 3 --replay refuse --json |
  jq -e '.rate_per_second == 0.5 and .rate_burst == 3 and .replay_policy == "refuse"' \
  >/dev/null || fail "api add with limits"
expect_error 1 "record or refuse" api add --provider "$cid" --code BADRPL --replay drop
expect_error 1 "rate" api add --provider "$cid" --code BADRTE --rate 1e7
expect_error 1 "burst" api add --provider "$cid" --code BADBST --burst unlimited
admin api limits GETUSR --rate 100 --burst 200 --json |
  jq -e '.rate_per_second == 100 and .rate_burst == 200' >/dev/null || fail "api limits"
admin api limits PAYBIL --rate unlimited --json |
  jq -e '.rate_per_second == "unlimited" and .rate_burst == 3' >/dev/null ||
  fail "api limits unlimited"
expect_error 1 "rate" api limits GETUSR --rate -5
expect_error 1 "nothing to change" api limits GETUSR
expect_error 1 "not found" api limits NOSUCH --rate 1
expect_error 2 "" api limits --rate 1
admin api replay GETUSR refuse --json | jq -e '.replay_policy == "refuse"' >/dev/null ||
  fail "api replay refuse"
admin api replay PAYBIL record --json | jq -e '.replay_policy == "record"' >/dev/null ||
  fail "api replay record"
expect_error 1 "record or refuse" api replay GETUSR sometimes
expect_error 1 "not found" api replay NOSUCH refuse
expect_error 2 "" api replay GETUSR
admin api list --json | jq -e 'map({code, rate_per_second, rate_burst, replay_policy}) == [
  {"code": "GETUSR", "rate_per_second": 100, "rate_burst": 200, "replay_policy": "refuse"},
  {"code": "PAYBIL", "rate_per_second": "unlimited", "rate_burst": 3,
   "replay_policy": "record"}]' >/dev/null || fail "api list --json: $(admin api list --json)"
admin api list | head -1 | grep -q 'rate_per_second  rate_burst  replay_policy' ||
  fail "api list header: $(admin api list | head -1)"
admin api list | grep '^PAYBIL' | grep -q 'unlimited' || fail "api list text"

# Serialisation (how the bus writes what it signs for a system) and a grant's purposes.
admin system show --client-id "$cid" --json | jq -e '.serialisation == "auto" and
  .serialisation_learned == "" and .serialisation_effective == "jackson"' >/dev/null ||
  fail "serialisation defaults: $(admin system show --client-id "$cid" --json)"
admin system serialisation --client-id "$cid" node --json |
  jq -e '.serialisation == "node" and .serialisation_effective == "node"' >/dev/null ||
  fail "serialisation node"
expect_error 2 "" system serialisation --client-id "$cid" xml
admin grant add --consumer "$other" --api PAYBIL --json >/dev/null
admin grant purposes --consumer "$other" --api PAYBIL --purpose "TREATMENT=Medical treatment" \
  --purpose "ELIGIBILITY=Eligibility for a benefit" --required on --json |
  jq -e '.purpose_required == true and ([.purposes[].code] == ["TREATMENT", "ELIGIBILITY"]) and
         .purposes[0].text == "Medical treatment"' >/dev/null || fail "grant purposes"
expect_error 1 "purpose code" grant purposes --consumer "$other" --api PAYBIL --purpose "treat=x"
expect_error 1 "CODE=TEXT" grant purposes --consumer "$other" --api PAYBIL --purpose "TREATMENT"
expect_error 1 "at least one" grant purposes --consumer "$other" --api PAYBIL --required on
admin grant purposes --consumer "$other" --api PAYBIL --json |
  jq -e '.purposes == [] and .purpose_required == false' >/dev/null || fail "purposes cleared"

# A grant's field allow-list (data minimisation).
admin grant fields --consumer "$other" --api PAYBIL --allow amount --allow /payer/name --json |
  jq -e '.fields == ["amount", "/payer/name"]' >/dev/null || fail "grant fields"
expect_error 1 "arrays need no index" grant fields --consumer "$other" --api PAYBIL \
  --allow "payer[].name"
expect_error 1 "or --all" grant fields --consumer "$other" --api PAYBIL
expect_error 1 "or --all" grant fields --consumer "$other" --api PAYBIL --allow a --all
admin grant list --json | jq -e '[.[] | select(.api == "PAYBIL")][0].fields == ["amount", "/payer/name"]' \
  >/dev/null || fail "the refused changes kept the list"
admin grant fields --consumer "$other" --api PAYBIL --all --json |
  jq -e '.fields == []' >/dev/null || fail "grant fields --all"
echo "admin limits: ok"
