#!/usr/bin/env bash
# `govesb admin compliance` through the real binary, as an operator uses it: the report in text,
# --json and --csv (both parse, and say the same), --summary, --institution, the thresholds shown
# and set; bad values and unknown institutions exit 1 with "error: ..." and change nothing.
# Usage: compliance_test.sh PATH/TO/govesb
set -euo pipefail
bin=$1
# shellcheck source=admin_cli_lib.sh
source "$(dirname "$0")/admin_cli_lib.sh" compliance-test
command -v python3 >/dev/null || fail "python3 is needed (to read the CSV)"

key=$("$bin" keygen --json | jq -r .public_key)
admin institution add --code RITA --name "Registration Agency" --json >/dev/null
admin institution add --code MOH --name "Ministry of Health" --json >/dev/null
good=$(admin system add --institution RITA --name Births --public-key "$key" \
  --endpoint https://rita.example/esb --json 2>/dev/null | jq -r .client_id)
plain=$(admin system add --institution MOH --name "Records, main" --public-key "$key" \
  --endpoint http://moh.example/esb --json 2>/dev/null | jq -r .client_id)

# ---- the report ----
admin compliance --json >"$work/report.json"
jq -e --arg good "$good" --arg plain "$plain" '
  (.systems | length) == 2 and
  (.systems[] | select(.client_id == $good) | .rating == "pass" and (.rules | length) == 10) and
  (.systems[] | select(.client_id == $plain) | .rating == "fail" and
     (.rules[] | select(.rule == "https-endpoint") | .status == "fail")) and
  .summary.scope == "national" and .summary.institutions_connected == 2 and
  .summary.systems_registered == 2 and .summary.systems_fully_compliant == 1 and
  .summary.share_fully_compliant == 0.5 and (.institutions | length) == 2' \
  "$work/report.json" >/dev/null || fail "--json: $(cat "$work/report.json")"

admin compliance --csv >"$work/report.csv"
python3 - "$work/report.csv" "$good" "$plain" <<'PY' || fail "--csv: $(cat "$work/report.csv")"
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
header, body = rows[0], rows[1:]
assert header[:7] == ["institution", "client_id", "system", "enabled", "rating", "rule",
                      "status"], header
assert len(body) == 20 and all(len(r) == len(header) for r in body), rows
by = {(r[1], r[5]): r for r in body}
assert by[(sys.argv[3], "https-endpoint")][6] == "fail"
assert by[(sys.argv[3], "https-endpoint")][2] == "Records, main"
assert by[(sys.argv[2], "https-endpoint")][6] == "pass"
PY

admin compliance >"$work/report.txt"
grep -q "^  fail  MOH  Records, main  $plain  failed: https-endpoint" "$work/report.txt" ||
  fail "text: $(cat "$work/report.txt")"
grep -q "^  pass  RITA  Births  $good$" "$work/report.txt" || fail "text: $(cat "$work/report.txt")"
grep -q "fully compliant systems: 1 of 2 (50.0%)" "$work/report.txt" ||
  fail "text summary: $(cat "$work/report.txt")"

admin compliance --summary --json | jq -e '.systems_registered == 2 and .apis_published == 0' \
  >/dev/null || fail "--summary --json"
admin compliance --institution RITA --json |
  jq -e '(.systems | length) == 1 and .summary.scope == "RITA"' >/dev/null ||
  fail "--institution RITA"

# ---- thresholds ----
admin compliance --thresholds --json |
  jq -e '(.settings[] | select(.name == "key_age_warn_days") | .value == 365 and .stored == false)' \
  >/dev/null || fail "--thresholds"
admin compliance --set key_age_warn_days=90 --json |
  jq -e '(.settings[] | select(.name == "key_age_warn_days") | .value == 90 and .stored == true)' \
  >/dev/null || fail "--set key_age_warn_days=90"
admin compliance --thresholds | grep -q '^key_age_warn_days *90 days  ' ||
  fail "text thresholds: $(admin compliance --thresholds)"
admin compliance --set key_age_warn_days=default --json |
  jq -e '(.settings[] | select(.name == "key_age_warn_days") | .stored == false)' >/dev/null ||
  fail "--set key_age_warn_days=default"

# ---- refusals: nothing changes ----
expect_error 1 "institution 'NOSUCH' not found" compliance --institution NOSUCH
expect_error 1 "unknown compliance setting 'no_such'" compliance --set no_such=1
expect_error 1 "must be a number" compliance --set key_age_warn_days=soon
expect_error 1 "must be from 0 to 1" compliance --set provider_error_rate_warn=2
expect_error 1 "whole number" compliance --set window_days=1.5
expect_error 1 "must not be above key_age_fail_days" compliance --set key_age_warn_days=1000
expect_error 1 "NAME=VALUE" compliance --set key_age_warn_days
expect_error 1 "not both" compliance --csv --json
expect_error 1 "go alone" compliance --thresholds --institution RITA
echo "compliance CLI: ok"
