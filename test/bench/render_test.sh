#!/usr/bin/env bash
# docs/performance.md is what bench/run renders from the committed results, and the two probes
# bench/run runs beside the latency rows work and say what they measured.
#   render_test.sh REPO
set -euo pipefail
repo=$1
work=$(mktemp -d /tmp/govesb-bench-render-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. Rendering succeeds (a jq error in the renderer once left make bench unable to write the
# document) and gives the committed document byte for byte: the figures in docs/ are the
# committed results', and a change to the renderer comes with the document it renders.
cd "$repo"
RENDER_ONLY=1 RENDER_TO="$work/performance.md" bench/run >/dev/null || fail "bench/run could not render"
for section in "# Performance" "## The targets of issue 16 in this run" "## Latency under load" \
  "## Where the CPU goes"; do
  grep -qxF "$section" "$work/performance.md" || fail "the rendered document has no '$section'"
done
diff -u docs/performance.md "$work/performance.md" >"$work/diff" ||
  fail "docs/performance.md is not what bench/run renders from bench/results (RENDER_ONLY=1 bench/run):
$(head -40 "$work/diff")"

# 1a. A run whose latency rows started on a disturbed host says so beside the verdict, each
# run's host probe, and how long the rows waited for a calm host (bench/run's calm_host).
jq -c '.rows |= map(if .load_pct != null then . + {rounds_host_p99_us: [310, 2950, 400],
    rounds_host_stalled_ms_per_s: [4.1, 59.3, 3], host_p99_us: 2950, host_stalled_ms_per_s: 59.3,
    host_calm: (.load_pct != 50), host_calm_p99_us: 1000, host_calm_stall_ms: 15,
    host_waited_s: (if .load_pct == 50 then 60 else 0 end)} else . end)' \
  bench/results/latest.json >"$work/disturbed.json"
RENDER_ONLY=1 RENDER_FROM="$work/disturbed.json" RENDER_TO="$work/disturbed.md" bench/run >/dev/null ||
  fail "bench/run could not render a run on a disturbed host"
grep -F "| p99 at half the maximum rate" "$work/disturbed.md" | grep -qF \
  "on a disturbed host (the probe before this run: durable p99 2.95 ms, 59.3 ms a second stalled; calm: at most 1 ms and 15 ms)" ||
  fail "the half-load verdict does not say the host was disturbed"
grep -E "^\| 50% " "$work/disturbed.md" | grep -qF "(0.31, 4.1)" || fail "no host probe beside each run"
grep -qF "In this run the latency rows waited 60 s for a calm host. The median run of the 50% row started on a disturbed host all the same" \
  "$work/disturbed.md" || fail "the wait for a calm host is not told"
if grep -qF "disturbed host (the probe" "$work/performance.md"; then
  fail "results without host probes rendered as disturbed"
fi

# 2. The disk probe: 100 syncs, every figure there and ordered.
python3 bench/fsync_probe.py "$work" 100 >"$work/fsync.json" || fail "fsync_probe.py failed"
jq -e '.count == 100 and .p50_us > 0 and .p50_us <= .p99_us and .p99_us <= .p999_us
       and .p999_us <= .max_us and .cpu_us_per_sync > 0' "$work/fsync.json" >/dev/null ||
  fail "fsync_probe.py: $(cat "$work/fsync.json")"

# 3. The stall probe, 1 s a phase at 200 appends/s: its four phases, the disk phases' commits and
# latencies (every append made durable: at least one commit, at most one per append).
other_cpu=$(($(nproc) > 1 ? 1 : 0))
python3 bench/stall_probe.py "$work" 200 1 0 "$other_cpu" >"$work/stall.json" || fail "stall_probe.py failed"
jq -e '[.phases[].name] == ["quiet", "cpu", "disk", "cpu+disk"]
       and all(.phases[]; .stalls_over_1ms >= 0 and .stalled_ms >= 0 and .max_stall_ms >= 0
                          and .steal_pct >= 0 and .steal_pct <= 100)
       and all(.phases[] | select(.name | endswith("disk"));
               .commits_per_s > 0 and .commits_per_s <= 200
               and .durable_p50_ms > 0 and .durable_p50_ms <= .durable_p99_ms
               and .durable_p99_ms <= .durable_p999_ms and .durable_p999_ms <= .durable_max_ms)
       and all(.phases[] | select(.name | endswith("disk") | not); has("durable_p50_ms") | not)' \
  "$work/stall.json" >/dev/null || fail "stall_probe.py: $(cat "$work/stall.json")"
# Bad arguments are refused with the reason, and nothing is written.
if python3 bench/stall_probe.py "$work" 5 1 >/dev/null 2>"$work/err"; then fail "a rate of 5 was taken"; fi
grep -q "every rate must be at least 10" "$work/err" || fail "no reason for refusing a rate of 5"
if python3 bench/stall_probe.py --also-at 100,x "$work" 200 1 >/dev/null 2>"$work/err"; then
  fail "a rate of x was taken"
fi
grep -q "every rate must be at least 10" "$work/err" || fail "no reason for refusing a rate of x"
if python3 bench/stall_probe.py "$work" 200 1 0 4096 >/dev/null 2>"$work/err"; then fail "CPU 4096 was taken"; fi
grep -q "must both be usable" "$work/err" || fail "no reason for refusing CPU 4096"
# --also-at adds a cpu+disk phase at each rate, after the four.
python3 bench/stall_probe.py --also-at 50 "$work" 100 1 0 "$other_cpu" >"$work/stall2.json" ||
  fail "stall_probe.py --also-at failed"
jq -e '[.phases[] | [.name, .rate]] == [["quiet", null], ["cpu", null], ["disk", 100], ["cpu+disk", 100], ["cpu+disk", 50]]' \
  "$work/stall2.json" >/dev/null || fail "stall_probe.py --also-at: $(cat "$work/stall2.json")"
# --only runs one phase (bench/run's check for a calm host), and takes only a phase's name.
python3 bench/stall_probe.py --only cpu+disk "$work" 100 1 0 "$other_cpu" >"$work/stall3.json" ||
  fail "stall_probe.py --only failed"
jq -e '[.phases[] | [.name, .rate]] == [["cpu+disk", 100]] and .phases[0].durable_p99_ms > 0' \
  "$work/stall3.json" >/dev/null || fail "stall_probe.py --only: $(cat "$work/stall3.json")"
if python3 bench/stall_probe.py --only disk+cpu "$work" 100 1 >/dev/null 2>"$work/err"; then
  fail "a phase disk+cpu was taken"
fi
grep -q "only takes one of quiet, cpu, disk, cpu+disk" "$work/err" || fail "no reason for refusing disk+cpu"
[ -z "$(ls "$work" | grep stall-probe || true)" ] || fail "the stall probe left a file behind"

# 4. The profile's classifier (bench/perf_split.sh classify), on `perf script -F comm,ip,sym,dso`
# text as perf prints it: with call chains (a thread line, tab-indented frames, the sampled one
# first, an empty line), and without (one line a sample). A kernel sample is the peers' side of
# loopback only when its chain passes through the receive path; the writer thread's samples are
# the evidence log's whatever they are; a library without symbols is named.
k='([kernel.kallsyms])'
printf '%s\n' \
  "govesb-io " \
  "	ffffffff82261179 _raw_spin_unlock_irqrestore $k" \
  "	ffffffff81e84dae sock_def_readable $k" \
  "	ffffffff81eb959d __netif_receive_skb_one_core $k" \
  "	ffffffff8206e560 tcp_sendmsg_locked $k" \
  "" \
  "govesb-io " \
  "	ffffffff8206e560 tcp_sendmsg_locked $k" \
  "	ffffffff81e84dae __sys_sendmsg $k" \
  "" \
  "govesb-io " \
  "	            2c07 [unknown] (/usr/lib/x86_64-linux-gnu/libsecp256k1.so.1.0.0)" \
  "	   10f1d701c2ea3 [unknown] ([unknown])" \
  "" \
  "govesb-writer " \
  "	ffffffff813ae493 copy_folio_from_iter_atomic $k" \
  "	ffffffff81eb959d process_backlog $k" \
  "" \
  "govesb-io " \
  "	          24aa8b boost::beast::http::basic_parser<true>::put (/x/govesb)" \
  "	            3ea [unknown] ([unknown])" \
  "" \
  "       govesb-io      55d04f761d61 govesb::wire::WriteString (/x/govesb)" \
  "       govesb-io      ffffffff82261179 _raw_spin_unlock_irqrestore $k" |
  bench/perf_split.sh classify >"$work/split.json" || fail "perf_split.sh classify failed"
jq -e '.samples == 7
       and .shares == {loopback: 0.1429, kernel: 0.2857, crypto: 0.1429, evidence: 0.1429,
                        http: 0.1429, json: 0.1429}
       and ([.top[] | select(.category == "crypto") | .fn] == ["crypto | [unknown] in libsecp256k1.so.1.0.0"])
       and ([.top[] | select(.category == "loopback") | .fn] == ["loopback | _raw_spin_unlock_irqrestore"])' \
  "$work/split.json" >/dev/null || fail "perf_split.sh classify: $(cat "$work/split.json")"
echo "ok"
