#!/usr/bin/env bash
# A person's access report through the real binary: identity requests for two people and
# ordinary requests by two institutions' systems through a real bus, then `govesb audit subject`
# (JSON and HTML) lists exactly the first person's exchanges, named, each tied to its records;
# `audit check-report` accepts it, checked by a trusted key or the data directory (and against
# the log), and a third party verifies it with python3 and openssl alone; a changed report (JSON
# or HTML), or one checked against another key, is refused; bad input writes nothing; archived
# exchanges are still reported. Usage: subject_report_test.sh PATH/TO/govesb
set -euo pipefail
bin=$1
work=$(mktemp -d /tmp/govesb-subject-test-XXXXXX)
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
audit() { "$bin" audit --data-dir "$data" "$@"; }
check() { "$bin" audit check-report "$@"; }  # trusting what the arguments say
alice=19900101-12345-00001-12
bob=19851212-54321-00002-21

port=$("$bin" bench free-port)
setup=$("$bin" bench setup --data-dir "$data" --provider-url "http://127.0.0.1:$port/" --json)
profile=$(jq -r .consumer_profile <<<"$setup")
esb_key=$(jq -r .esb_public_key <<<"$setup")
bench_consumer=$(jq -r .client_id "$profile")
admin api describe BNCH01 --title "Identity lookup" --json >/dev/null
# A second institution's consumer, granted BNCH01 but not BNCH02.
admin institution add --code MOH --name "Ministry of Health" --json >/dev/null
"$bin" keygen --json >"$work/moh-keys.json"
moh=$(admin system add --institution MOH --name "Hospital records" \
  --public-key "$(jq -r .public_key "$work/moh-keys.json")" --endpoint https://moh.example/esb \
  --json 2>/dev/null)
moh_id=$(jq -r .client_id <<<"$moh")
moh_secret=$(jq -r .client_secret <<<"$moh")
admin grant add --consumer "$moh_id" --api BNCH01 --json >/dev/null
admin api add --provider "$(jq -r .provider_client_id <<<"$setup")" --code BNCH02 --json >/dev/null

"$bin" bench-provider --listen "127.0.0.1:$port" --key-file "$(jq -r .provider_key_file <<<"$setup")" \
  --esb-key "$esb_key" >"$work/provider.log" 2>&1 &
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

# Each call's requestId (from the verified answer, or from the refusal's message).
bench_call() { "$bin" call --profile "$profile" --url "$url" --api BNCH01 --body '{"q":1}' --json "$@" |
  jq -r .requestId; }
moh_call() {
  "$bin" call --url "$url" --client-id "$moh_id" --secret "$moh_secret" \
    --key "$(jq -r .private_key "$work/moh-keys.json")" --esb-key "$esb_key" --body '{"q":2}' \
    --json "$@" | jq -r .requestId
}
a1=$(bench_call --user-id "$alice")
bench_call >/dev/null
b1=$(moh_call --api BNCH01 --user-id "$bob")
a2=$(moh_call --api BNCH01 --user-id "$alice")
moh_call --api BNCH01 >/dev/null
if "$bin" call --url "$url" --client-id "$moh_id" --secret "$moh_secret" \
  --key "$(jq -r .private_key "$work/moh-keys.json")" --esb-key "$esb_key" --body '{}' \
  --api BNCH02 --user-id "$alice" 2>"$work/refused.err"; then
  fail "a call without a grant was answered"
fi
a3=$(sed -n 's/.*(requestId \([0-9a-f]*\)).*/\1/p' "$work/refused.err")
[ -n "$a1" ] && [ -n "$a2" ] && [ -n "$a3" ] && [ -n "$b1" ] ||
  fail "request ids: '$a1' '$a2' '$a3' '$b1': $(cat "$work/refused.err")"
kill -TERM "$bus"
wait "$bus" || true  # shutdown seals the last records

# The report lists exactly alice's three exchanges, oldest first, named from the registry.
audit subject "$alice" --out "$work/alice.json" 2>"$work/subject.err"
grep -q "access report for $alice: 3 exchange(s), signed by bus key [0-9a-f]\{64\}, written to" \
  "$work/subject.err" || fail "subject: $(cat "$work/subject.err")"
r=$work/alice.json
[ "$(jq -c '[.report.exchanges[].requestId]' "$r")" = "[\"$a1\",\"$a2\",\"$a3\"]" ] ||
  fail "rows: $(jq -c '[.report.exchanges[].requestId]' "$r"), expected $a1 $a2 $a3"
jq -e --arg b "$bench_consumer" --arg m "$moh_id" --arg u "$alice" '
  .report.format == "govesb-subject-report/1" and .report.subject.userId == $u and
  .report.count == 3 and .report.range.from == null and
  (.report.exchanges[0] | .consumer.clientId == $b and .consumer.institution == "GovESB benchmark"
     and .api == {"code":"BNCH01","name":"Identity lookup"} and .purpose == null
     and .provider.institution == "GovESB benchmark" and .answered == true and .outcome == "ok"
     and ([.records[].kind] == ["nida-request","delivery","reply","response"])
     and all(.records[]; (.sha256 | test("^[0-9a-f]{64}$")) and .seq > 0)) and
  (.report.exchanges[1] | .consumer.clientId == $m and .consumer.institution == "Ministry of Health"
     and .consumer.institutionCode == "MOH" and .consumer.system == "Hospital records"
     and .answered == true) and
  (.report.exchanges[2] | .consumer.clientId == $m and .api.code == "BNCH02" and .api.name == null
     and .provider == null and .answered == false and .outcome == "PERMISSION_DENIED") and
  .signature.algorithm == "ECDSA-SHA256" and .report.bus.keyId == .signature.keyId' "$r" >/dev/null ||
  fail "report: $(cat "$r")"
grep -q '"signature"' <(jq -c .report "$r") && fail "the body carries a signature of an exchange"
[ "$(jq -r '.report.exchanges[].records[].seq' "$r" | sort -n | uniq -d | wc -l)" = 0 ] ||
  fail "a record is named twice"
# Each row's records are the log's: the same hashes as the records audit query returns.
for i in 0 1 2; do
  rid=$(jq -r ".report.exchanges[$i].requestId" "$r")
  expected=$(audit query --request-id "$rid" --format jsonl | while read -r line; do
    printf '%s' "$line" | sha256sum | cut -d' ' -f1; done | tr '\n' ' ')
  got=$(jq -r ".report.exchanges[$i].records[].sha256" "$r" | tr '\n' ' ')
  [ "$got" = "$expected" ] || fail "row $i hashes $got, the log's $expected"
done
[ "$(audit subject "$bob" 2>/dev/null | jq -c '[.report.exchanges[].requestId]')" = "[\"$b1\"]" ] ||
  fail "bob's report"

# Checked: by the key given, and by the data directory (also against its log).
out=$(check "$r" --esb-public-key "$esb_key")
grep -q "^valid: the access report for $alice (3 exchange(s)" <<<"$out" || fail "check: $out"
grep -q "^trusted key: [0-9a-f]\{64\}, given with --esb-public-key" <<<"$out" || fail "check: $out"
grep -q "^evidence log: not checked" <<<"$out" || fail "check: $out"
out=$(check "$r" --data-dir "$data")
grep -q "trusted key: .*, the bus key of the data directory $data" <<<"$out" || fail "by dir: $out"
grep -q "^evidence log: the 10 records its rows name are in the log" <<<"$out" || fail "log: $out"
check "$r" --esb-public-key "$esb_key" --json |
  jq -e '.valid == true and .form == "json" and .exchanges == 3 and .log_records_matched == null' \
    >/dev/null || fail "check --json"

# A third party, without our code: the body in canonical form (RFC 8785: Python's json.dumps with
# sorted keys, no spaces, UTF-8) is what the bus key signed, with ECDSA-SHA256.
python3 - "$r" "$work" <<'EOF'
import base64, json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
body = json.dumps(doc["report"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
open(sys.argv[2] + "/body.bin", "wb").write(body.encode("utf-8"))
open(sys.argv[2] + "/sig.der", "wb").write(base64.b64decode(doc["signature"]["value"]))
spki = doc["signature"]["publicKey"]
pem = "-----BEGIN PUBLIC KEY-----\n" + "\n".join(spki[i:i + 64] for i in range(0, len(spki), 64))
open(sys.argv[2] + "/key.pem", "w").write(pem + "\n-----END PUBLIC KEY-----\n")
EOF
openssl dgst -sha256 -verify "$work/key.pem" -signature "$work/sig.der" "$work/body.bin" |
  grep -q "Verified OK" || fail "openssl does not verify the report's signature"
[ "$(openssl pkey -pubin -in "$work/key.pem" -outform DER | sha256sum | cut -d' ' -f1)" = \
  "$(jq -r .signature.keyId "$r")" ] || fail "keyId is not the SHA-256 of the key's SPKI DER"
[ "$(jq -r .signature.publicKey "$r")" = "$esb_key" ] || fail "not signed by the bus key"

# Changed reports are refused (exit 1, INVALID); so is a report checked against another key.
refused() {  # FILE WHY CHECK-ARGS...
  local file=$1 why=$2
  shift 2
  local out rc=0
  out=$(check "$file" "$@") || rc=$?
  [ "$rc" = 1 ] || fail "$why: check-report exited $rc: $out"
  grep -q "^INVALID: " <<<"$out" || fail "$why: $out"
}
sed 's/"answered":true/"answered":false/' "$r" >"$work/t1.json"
refused "$work/t1.json" "an answer changed" --data-dir "$data"
sed "s/Ministry of Health/Ministry of Hoalth/" "$r" >"$work/t2.json"
refused "$work/t2.json" "a name changed" --data-dir "$data"
jq -c '.report.exchanges |= .[1:] | .report.count = 2' "$r" >"$work/t3.json"
refused "$work/t3.json" "a row removed" --esb-public-key "$esb_key"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
x = d["report"]["exchanges"]; x[0], x[1] = x[1], x[0]
print(json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False))' "$r" >"$work/t4.json"
refused "$work/t4.json" "rows reordered" --esb-public-key "$esb_key"
other=$("$bin" keygen --json | jq -r .public_key)
out=$(check "$r" --esb-public-key "$other" || true)
grep -q "^INVALID: .*not a key you trust" <<<"$out" || fail "another key trusted: $out"
grep -q "^trusted key(s): [0-9a-f]\{64\}, given with --esb-public-key" <<<"$out" || fail "$out"

# The HTML page: readable, carrying the signed report; its visible text is checked too.
audit subject "$alice" --format html --out "$work/alice.html" 2>/dev/null
h=$work/alice.html
grep -q "<td>Ministry of Health (MOH)<br><span class=\"minor\">System: Hospital records" "$h" ||
  fail "the page does not name the institution"
grep -q "Identity lookup (BNCH01)" "$h" || fail "the page does not name the API"
grep -q '<time datetime="[0-9-]*T[0-9:.]*Z">' "$h" || fail "no ISO times with the zone"
grep -q "refused: the asking system has no access to it" "$h" || fail "no refusal in words"
out=$(check "$h" --esb-public-key "$esb_key")
grep -q "^valid: .*an HTML page" <<<"$out" || fail "check html: $out"
sed 's|<span class="no">No</span>|<span class="yes">Yes</span>|' "$h" >"$work/t5.html"
refused "$work/t5.html" "the page's text changed" --esb-public-key "$esb_key"
sed 's/"outcome":"PERMISSION_DENIED"/"outcome":"ok"/' "$h" >"$work/t6.html"
refused "$work/t6.html" "the page's report changed" --esb-public-key "$esb_key"
out=$(check "$h" --esb-public-key "$other" || true)
grep -q "^INVALID: .*not a key you trust" <<<"$out" || fail "html, another key: $out"

# Bad input: a clear error, nothing written.
bad() {  # WHY ARGS...
  local why=$1 rc=0
  shift
  audit subject "$@" --out "$work/bad.json" >"$work/bad.out" 2>"$work/bad.err" || rc=$?
  [ "$rc" = 1 ] || fail "$why: exited $rc"
  grep -q "^error: " "$work/bad.err" || fail "$why: $(cat "$work/bad.err")"
  [ ! -e "$work/bad.json" ] && [ ! -s "$work/bad.out" ] || fail "$why: something was written"
}
bad "an empty identifier" ""
bad "a long identifier" "$(printf '7%.0s' $(seq 129))"
bad "a backward range" "$alice" --from 2026-12-01 --to 2026-11-01
bad "a bad time" "$alice" --from yesterday
bad "a bad format" "$alice" --format pdf
grep -q "at most 128" <(audit subject "$(printf '7%.0s' $(seq 129))" 2>&1 || true) ||
  fail "the bound is not named"
out=$(check "$r" --esb-public-key "$esb_key" --data-dir "$data" 2>&1 || true)
grep -q "exactly one of these" <<<"$out" || fail "two trust sources: $out"

# Someone no exchange carried: an empty report, signed all the same. A range before every
# exchange: empty too.
audit subject 19700101-00000-00000-00 --out "$work/nobody.json" 2>/dev/null
jq -e '.report.count == 0 and .report.exchanges == []' "$work/nobody.json" >/dev/null ||
  fail "empty report: $(cat "$work/nobody.json")"
check "$work/nobody.json" --esb-public-key "$esb_key" >/dev/null ||
  fail "the empty report does not verify"
[ "$(audit subject "$alice" --to 2000-01-01 2>/dev/null | jq .report.count)" = 0 ] ||
  fail "a range before every exchange"

# Archived: the same rows, and still tied to the log.
audit archive --older-than 0 --json | jq -e '.records > 0' >/dev/null || fail "archive"
audit subject "$alice" --out "$work/archived.json" 2>/dev/null
[ "$(jq -c .report.exchanges "$work/archived.json")" = "$(jq -c .report.exchanges "$r")" ] ||
  fail "the archived exchanges differ"
check "$r" --data-dir "$data" | grep -q "^evidence log: the 10 records" ||
  fail "the first report no longer matches the archived log"
# The log changed under the report (a record of a1 altered in its archive): tied back, the
# report no longer matches it.
file=$(ls "$data/evidence-archive" | head -n 1)
gunzip -c "$data/evidence-archive/$file" | sed "/$a1/s/\"latencyUs\":[0-9]*/\"latencyUs\":1/" |
  gzip >"$work/forged.gz"
cp "$work/forged.gz" "$data/evidence-archive/$file"
out=$(check "$r" --data-dir "$data" || true)
grep -q "^INVALID: the report does not match the evidence log: record [0-9]* (exchange $a1) has another hash" \
  <<<"$out" || fail "a changed log: $out"
check "$r" --esb-public-key "$esb_key" >/dev/null || fail "the report itself is still intact"
echo "subject report CLI: ok (3 of alice's exchanges, 1 of bob's, checked, changes refused)"
