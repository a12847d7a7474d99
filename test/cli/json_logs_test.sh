#!/usr/bin/env bash
# Structured logs and trace context through the real binary: `serve --log-format json
# --access-log` writes only JSON objects on stdout, one per line; each exchange's line carries
# its requestId, systems, code, outcome, latencies and trace; a consumer's traceparent is
# continued (its trace id in the log line and in the evidence record); a refusal is logged too.
# Usage: json_logs_test.sh PATH/TO/govesb
set -euo pipefail
bin=$1
work=$(mktemp -d /tmp/govesb-jsonlog-test-XXXXXX)
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
"$bin" bench-provider --listen "127.0.0.1:$port" --key-file "$(jq -r .provider_key_file <<<"$setup")" \
  --esb-key "$(jq -r .esb_public_key <<<"$setup")" >"$work/provider.log" 2>&1 &
pids+=($!)
"$bin" serve --plain-http --listen 127.0.0.1:0 --data-dir "$data" --log-format json --access-log \
  >"$work/bus.log" 2>"$work/bus.err" &
bus=$!
pids+=($bus)
url=""
for _ in $(seq 200); do
  url=$(jq -r 'select(.msg | startswith("govesb: listening on ")) | .msg[21:]' "$work/bus.log" \
    2>/dev/null || true)
  [ -n "$url" ] && break
  sleep 0.05
done
[ -n "$url" ] || fail "the bus did not start: $(cat "$work/bus.log" "$work/bus.err")"

# Exchanges without a trace of their own (the bench client sends none).
"$bin" bench run --url "$url" --profile "$profile" --duration 1 --connections 2 --body-size 64 \
  --json >"$work/run.json" 2>/dev/null
[ "$(jq .ok "$work/run.json")" -gt 0 ] || fail "no exchange succeeded"
# A consumer's trace on a request the bus refuses (no token): continued, and logged.
trace=4bf92f3577b34da6a3ce929d0e0e4736
code=$(curl -s -o "$work/refused.json" -w '%{http_code}' -X POST "$url/engine/esb/request" \
  -H 'Content-Type: application/json' -H "traceparent: 00-$trace-00f067aa0ba902b7-01" \
  --data '{"data":{"apiCode":"BNCH01","esbBody":{}},"signature":"x"}')
[ "$code" = 401 ] || fail "an exchange without a token: HTTP $code"
kill -TERM "$bus"
wait "$bus" || true

# stdout holds JSON objects only, one per line, each with time, level and msg (jq fails on a
# line that is not JSON).
n=$(wc -l <"$work/bus.log")
[ "$n" -gt 5 ] || fail "only $n lines"
jq -e -n '[inputs | type == "object" and
           (.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$")) and
           (.level | type == "string") and (.msg | type == "string")] |
          length == '"$n"' and all' "$work/bus.log" >/dev/null ||
  fail "not all lines are JSON log objects: $(head -c 2000 "$work/bus.log")"

# Each successful exchange: one line with its fields.
ok=$(jq -c -n 'first(inputs | select(.msg == "exchange" and .outcome == "ok"))' "$work/bus.log")
[ -n "$ok" ] || fail "no exchange line: $(head -c 2000 "$work/bus.log")"
jq -e '(.requestId | test("^[0-9a-f]{32}$")) and .kind == "request" and .api == "BNCH01" and
       (.consumer | length > 0) and (.provider | length > 0) and .http == 200 and
       (.latencyMs >= 0) and (.busMs >= 0) and (.providerMs >= 0) and
       (.busMs + .providerMs <= .latencyMs + 0.01) and (.traceId | test("^[0-9a-f]{32}$")) and
       (.traceId as $t | .traceparent | startswith("00-" + $t + "-"))' <<<"$ok" >/dev/null ||
  fail "exchange line: $ok"
lines=$(jq -c 'select(.msg == "exchange" and .outcome == "ok")' "$work/bus.log" | wc -l)
# (The bench's figures leave out its warm-up exchanges, which are logged too.)
[ "$lines" -ge "$(jq .ok "$work/run.json")" ] ||
  fail "$lines exchange lines for $(jq .ok "$work/run.json") exchanges"
[ "$(jq -r 'select(.msg == "exchange") | .traceId' "$work/bus.log" | sort | uniq -d | wc -l)" = 0 ] ||
  fail "two exchanges share a trace they did not bring"

# The refusal: logged at warning with the consumer's trace continued.
refused=$(jq -c "select(.msg == \"exchange\" and .traceId == \"$trace\")" "$work/bus.log")
[ -n "$refused" ] || fail "the refused exchange is not logged with trace $trace"
jq -e '.level == "warning" and .http == 401 and .outcome != "ok" and (.error | length > 0) and
       (.traceparent | test("^00-'"$trace"'-[0-9a-f]{16}-01$")) and
       (.traceparent | contains("00f067aa0ba902b7") | not)' <<<"$refused" >/dev/null ||
  fail "refusal line: $refused"

# The evidence log holds the same traceparent as the log line of that exchange.
rid=$(jq -r .requestId <<<"$ok")
recorded=$("$bin" audit query --data-dir "$data" --request-id "$rid" --format jsonl |
  jq -r .traceparent | sort -u)
[ "$recorded" = "$(jq -r .traceparent <<<"$ok")" ] ||
  fail "evidence of $rid has traceparent '$recorded', the log line $(jq -r .traceparent <<<"$ok")"
rid=$(jq -r .requestId <<<"$refused")
recorded=$("$bin" audit query --data-dir "$data" --request-id "$rid" --format jsonl |
  jq -r .traceparent | sort -u)
[ "$recorded" = "$(jq -r .traceparent <<<"$refused")" ] || fail "evidence of the refusal: $recorded"

# A bad format is refused before anything starts.
if "$bin" serve --data-dir "$work/none" --log-format xml >/dev/null 2>"$work/bad.err"; then
  fail "--log-format xml was accepted"
fi
grep -q "log-format" "$work/bad.err" || fail "the refusal does not name the option: $(cat "$work/bad.err")"
[ ! -e "$work/none" ] || fail "a refused serve created its data directory"
echo "json logs: $n lines, $lines exchanges, trace continued"
