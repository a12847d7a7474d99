#!/usr/bin/env bash
# Makes govesb.png, the panels of govesb.json drawn from a real Prometheus (render.mjs), for a
# machine without Grafana: a bus on a fresh data directory with a benchmark provider behind it,
# Prometheus scraping its metrics listener every second, and a few minutes of traffic in three
# phases (signed exchanges at 50, 150 and 80 per second, a few per second to an API that does
# not exist, and a token request with a wrong secret every two seconds).
#
#   docs/grafana/screenshot.sh [GOVESB_BINARY] [OUT.png]      (LOAD_SECONDS=40 per phase)
#
# Needs the build (make build), prometheus, chromium and test/browser/node_modules
# (scripts/setup installs all three).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$repo/build/apps/govesb/govesb}
out=${2:-$repo/docs/grafana/govesb.png}
phase=${LOAD_SECONDS:-40}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { "$bin" bench free-port; }
wait_for_line() { # file pattern -> the rest of the first matching line
  for _ in $(seq 1 400); do
    local l
    l=$(sed -n "s/^$2//p" "$1" 2>/dev/null | head -n 1 || true)
    if [ -n "$l" ]; then echo "$l"; return 0; fi
    sleep 0.05
  done
  echo "screenshot: timed out waiting for '$2' in $1" >&2
  cat "$1" >&2
  return 1
}

pport=$(free_port)
setup=$("$bin" bench setup --data-dir "$work/data" --provider-url "http://127.0.0.1:$pport/" \
  --curve secp256k1 --json)
profile=$(jq -r .consumer_profile <<<"$setup")
"$bin" bench-provider --listen "127.0.0.1:$pport" --key-file "$(jq -r .provider_key_file <<<"$setup")" \
  --esb-key "$(jq -r .esb_public_key <<<"$setup")" >"$work/provider.log" 2>&1 &
pids+=($!)
wait_for_line "$work/provider.log" "bench-provider: listening on " >/dev/null
"$bin" serve --plain-http --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --admin-listen off \
  --data-dir "$work/data" --checkpoint-interval 20 --log-level warn >"$work/bus.log" 2>&1 &
pids+=($!)
url=$(wait_for_line "$work/bus.log" "govesb: listening on ")
murl=$(wait_for_line "$work/bus.log" "govesb: metrics *")
target=${murl#http://}
target=${target%/metrics}

pmport=$(free_port)
cat >"$work/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: govesb
    static_configs:
      - targets: ['$target']
YAML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$pmport" --log.level=warn >"$work/prometheus.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 200); do
  curl -sf "http://127.0.0.1:$pmport/-/ready" >/dev/null && break
  sleep 0.1
done

client_id=$(jq -r .client_id "$profile")
(
  while true; do
    curl -s -o /dev/null -d "grant_type=client_credentials&client_id=$client_id&client_secret=wrong" \
      "$url/oauth/token" || true
    sleep 2
  done
) &
pids+=($!)
"$bin" bench run --url "$url" --profile "$profile" --api NOSUCHAPI --rate 3 \
  --duration $((3 * phase)) --connections 1 --json >/dev/null 2>&1 &
pids+=($!)
for rate in 50 150 80; do
  echo "screenshot: $rate exchanges/s for $phase s"
  "$bin" bench run --url "$url" --profile "$profile" --rate "$rate" --duration "$phase" \
    --connections 8 --body-size 2048 --json >/dev/null
done
node "$repo/docs/grafana/render.mjs" --prometheus "http://127.0.0.1:$pmport" \
  --range-s $((3 * phase + 10)) --step-s 2 --rate 10s --out "$out"
