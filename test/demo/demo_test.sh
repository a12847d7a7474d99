#!/usr/bin/env bash
# The `make run` demo, as a newcomer uses it: start it, paste the printed `govesb call`
# command, get the sample record through the bus; stop it; start it again on the same data
# directory and call again.
set -euo pipefail
bin=$1
repo=$2
tmp=$(mktemp -d)
demo_pid=""
cleanup() {
  [ -n "$demo_pid" ] && kill -TERM "$demo_pid" 2>/dev/null && wait "$demo_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
# A port below the kernel's ephemeral range (32768-60999), so that no outgoing connection of a
# test running alongside can hold it, and one nothing listens on now.
provider_port=""
for _ in $(seq 1 50); do
  candidate=$((20000 + RANDOM % 12000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
    provider_port=$candidate
    break
  fi
done
[ -n "$provider_port" ] || { echo "FAIL: no free port for the demo provider" >&2; exit 1; }

run_demo() {  # $1: output file
  DATA_DIR="$tmp/data" LISTEN=127.0.0.1:0 PROVIDER_PORT=$provider_port \
    "$repo/scripts/demo" "$bin" >"$1" 2>&1 &
  demo_pid=$!
  for _ in $(seq 1 300); do
    grep -q " call --profile " "$1" && return 0
    kill -0 "$demo_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "FAIL: the demo did not print its call command" >&2
  cat "$1" >&2
  exit 1
}

call_printed_command() {  # $1: demo output; prints the call's stdout
  local cmd
  cmd=$(grep " call --profile " "$1" | head -n 1 | sed 's/^ *//')
  (cd "$repo" && eval "$cmd")
}

stop_demo() {
  kill -TERM "$demo_pid"
  wait "$demo_pid" || true
  demo_pid=""
}

run_demo "$tmp/first.out"
grep -q "first run" "$tmp/first.out" || { echo "FAIL: no first-run bootstrap" >&2; exit 1; }
answer=$(call_printed_command "$tmp/first.out")
echo "answer: $answer"
jq -e '.certificateNo == "B-2024-000117" and .name == "Amani Juma Mwakyusa"' <<<"$answer" >/dev/null \
  || { echo "FAIL: unexpected answer" >&2; cat "$tmp/first.out" >&2; exit 1; }

# An unknown certificate is a clear refusal with a non-zero exit.
profile="$tmp/data/demo/consumer.profile.json"
if "$bin" call --profile "$profile" --api BRTHCRT --body '{"certificateNo":"B-0000-000000"}' \
    2>"$tmp/err"; then
  echo "FAIL: an unknown certificate succeeded" >&2
  exit 1
fi
grep -q "no birth certificate B-0000-000000" "$tmp/err" \
  || { echo "FAIL: unclear refusal: $(cat "$tmp/err")" >&2; exit 1; }

stop_demo
grep -q "demo: stopped" "$tmp/first.out" || { echo "FAIL: no clean stop" >&2; exit 1; }

# Again, on the same data directory: no new registry, same call works.
run_demo "$tmp/second.out"
if grep -q "first run" "$tmp/second.out"; then
  echo "FAIL: the second run rebuilt the registry" >&2
  exit 1
fi
answer=$(call_printed_command "$tmp/second.out")
jq -e '.name == "Amani Juma Mwakyusa"' <<<"$answer" >/dev/null \
  || { echo "FAIL: second run answer: $answer" >&2; exit 1; }
stop_demo
echo "demo test: ok"
