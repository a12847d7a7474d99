# shellcheck shell=bash
# Sourced by bench/run (ONLY=profile, and the full run): where the pinned bus's CPU goes per
# exchange, and its system calls, context switches and allocations per exchange; for this build
# and, with BEFORE_BUILD_DIR (a RelWithDebInfo build of an earlier commit: `git worktree add
# --detach DIR COMMIT`, then the usual cmake build of the target govesb in DIR/build), for that
# build too, the two alternating (which goes first alternates from round to round).
#
# Each build gets its own data directory, made once by its own `bench setup` and copied before
# any bus opens it; every round runs on a fresh copy. The bus is pinned to core 0 with one I/O
# thread, like the headline row; the generator and the provider stub run on core 1; secp256k1,
# 1 KB bodies, 64 keep-alive connections. Four generator runs per build and round, each on the
# same bus:
#   1. saturated (closed loop, DURATION s): the bus's CPU per exchange (utime + stime from
#      /proc/PID/stat across the generator's run, divided by the exchanges answered, warmup
#      included) and PROFILE_SECONDS (default 5) of `perf record -F 3997 -p PID` in the middle
#      of the measured window, classified by bench/perf_split.sh into evidence, crypto, kernel,
#      http, json, alloc and rest: the µs of a category per exchange are the CPU per exchange
#      times the category's share of the samples.
#   2. saturated again, counted: `perf stat -e 'syscalls:sys_enter_*' -e raw_syscalls:sys_enter
#      -e context-switches -p PID` across the generator's run: system calls (in all and by
#      call), context switches and fdatasync calls (the evidence log's commits) per exchange at
#      full load, where one epoll_wait hands over many ready sockets.
#   3. open loop at PROFILE_RATE exchanges/s (default 1000), counted the same way.
#   4. saturated, at most 5 s, counting the calls of malloc: a uprobe (`perf probe -x LIB --add
#      NAME=malloc`, under a name of this run's own, deleted at exit; libstdc++'s operator new
#      calls libc's malloc, so C++ allocations count too; an allocator library with an operator
#      new of its own, tcmalloc, gets uprobes on its operator new and new[] as well). A uprobe hit costs microseconds (6 µs on this VM), which
#      slows the bus down in this run but leaves the count per exchange as it is; kept out of
#      the other runs.
# Per-exchange counts divide by the exchanges the generator had answered (ok + warmup); the
# counters run across the generator's whole run, so its token request and the bus's
# once-a-second background work (indexing the evidence log) are in them, a few calls a second.
# PROFILE_ROUNDS rounds (default 3 with BEFORE_BUILD_DIR, else 1); medians of the rounds are
# reported. The machine is shared: a single round moves by 10-30 % per category.
# PROFILE_KEEP=PREFIX keeps each recording as PREFIX-BUILD-ROUND/perf.data (for `perf report -i`).
#
# Uses bench/run's helpers and variables (bin, repo, work, pids, cleanup_hooks, free_port,
# wait_for_line, row, cpu_ticks, CLK_TCK, perf_stat_start, perf_stat_stop, perf_stat_totals,
# GUARDS, BUS_CPU, GEN_CPU, DURATION).

PROFILE_ROUNDS=${PROFILE_ROUNDS:-$([ -n "${BEFORE_BUILD_DIR:-}" ] && echo 3 || echo 1)}
PROFILE_RATE=${PROFILE_RATE:-1000}
PROFILE_SECONDS=${PROFILE_SECONDS:-5}
for v in PROFILE_ROUNDS PROFILE_RATE PROFILE_SECONDS; do
  case "${!v}" in
    '' | *[!0-9]* | 0) echo "bench: $v must be a positive integer" >&2; exit 2 ;;
  esac
done

# MALLOC_EVENT: the perf events (space-separated) counting the allocations of the binary $1's
# allocator (malloc, and its own operator new and new[] where it has them), or empty
# when perf probe cannot add one. The allocator: the binary itself if it defines malloc (one
# linked in statically), else an allocator library it loads (jemalloc, tcmalloc, mimalloc),
# else libc. One uprobe per allocator and run, named for this run so that other users of perf
# probe keep theirs, deleted at exit. Sets a variable, not printed: it must run in this shell
# (not in $(...)) for the exit hook to be registered.
declare -A malloc_events=()
malloc_event() { # binary -> MALLOC_EVENT
  local exe=$1 lib name
  MALLOC_EVENT=""
  if nm -D --defined-only "$exe" 2>/dev/null | awk '$3 == "malloc" {f = 1} END {exit !f}'; then
    lib=$exe
  else
    lib=$(ldd "$exe" | awk '/lib(jemalloc|tcmalloc|mimalloc)/ {print $3; exit}')
    [ -n "$lib" ] || lib=$(ldd "$exe" | awk '/libc\.so/ {print $3; exit}')
  fi
  [ -n "$lib" ] || return 0
  lib=$(readlink -f "$lib")
  if [ -z "${malloc_events[$lib]+set}" ]; then
    # malloc, and where the allocator has its own operator new and new[] (tcmalloc: they do not
    # go through its malloc), those too; with libc's malloc, libstdc++'s operator new calls it.
    # By address: an allocator's new and new[] may be one function (tcmalloc's are), counted once.
    local symbols="malloc" target event events=""
    if [ "$lib" != "$(readlink -f "$(ldd "$exe" | awk '/libc\.so/ {print $3; exit}')")" ]; then
      symbols="malloc _Znwm _Znam"
    fi
    for target in $(nm -D --defined-only "$lib" 2>/dev/null |
                    awk -v want=" $symbols " '{sub(/@.*/, "", $3)} index(want, " " $3 " ") {print "0x" $1}' | sort -u); do
      name="govesb_bench_malloc_$$_${#malloc_events[@]}_$target"
      if perf probe -q -x "$lib" --add "$name=$target" >/dev/null 2>&1; then
        event=$(perf probe -l 2>/dev/null | awk -v n="$name" '$1 ~ (":" n "$") {print $1; exit}')
        if [ -n "$event" ]; then
          cleanup_hooks+=("perf probe -q --del '$event' >/dev/null 2>&1")
          events+="${events:+ }$event"
        fi
      fi
    done
    malloc_events[$lib]=$events
  fi
  MALLOC_EVENT=${malloc_events[$lib]}
}

# Per-exchange figures from a generator report and the perf stat counts over its run (null
# where the run did not count that event).
per_exchange_json() { # report-json counts-json malloc-event
  jq -c -n --argjson r "$1" --argjson c "$2" --arg malloc "$3" '
    def r2: . * 100 | round / 100;
    ($r.ok + ($r.warmup_requests // 0)) as $x
    | def per($n): if $n == null then null else $n / $x | r2 end;
    ($c | to_entries | map(select(.key | startswith("syscalls:sys_enter_")))) as $calls
    | {rps: $r.throughput_rps, p50_ms: $r.latency_ms.p50, p99_ms: $r.latency_ms.p99,
       errors: ($r.requests - $r.ok), exchanges: $x}
      + (if $x == 0 then {} else
          {syscalls: per($c["raw_syscalls:sys_enter"]),
           context_switches: per($c["context-switches"]),
           fdatasyncs: (if $c["syscalls:sys_enter_fdatasync"] then $c["syscalls:sys_enter_fdatasync"] / $x * 1000 | round / 1000 else null end),
           mallocs: (if $malloc != "" then per([$malloc | split(" ")[] | $c[.] // 0] | add) else null end),
           by_call: (if ($calls | length) == 0 then null else
                     $calls | map(select(.value > 0) | {key: (.key | ltrimstr("syscalls:sys_enter_")), value: (.value / $x | r2)})
                     | sort_by(-.value) | from_entries end)} end)'
}

sleep_until() { # epoch seconds
  local left
  left=$(awk -v u="$1" -v n="$(date +%s.%N)" 'BEGIN {d = u - n; printf "%.3f", (d > 0 ? d : 0)}')
  sleep "$left"
}

run_profile_rows() {
  if ! command -v perf >/dev/null 2>&1; then
    echo "== profile: skipped, no perf (scripts/setup installs linux-perf)"
    return 0
  fi
  local -A exe=([after]="$bin") commit=([after]="$(git rev-parse --short HEAD)")
  local builds="after" b
  if [ -n "${BEFORE_BUILD_DIR:-}" ]; then
    local before_dir=$BEFORE_BUILD_DIR
    case "$before_dir" in /*) ;; *) before_dir="$repo/$before_dir" ;; esac
    exe[before]="$before_dir/apps/govesb/govesb"
    [ -x "${exe[before]}" ] || { echo "bench: no ${exe[before]}" >&2; exit 2; }
    commit[before]=$(git -C "$before_dir/.." rev-parse --short HEAD 2>/dev/null || echo unknown)
    builds="before after"
  fi
  local -A data=() profile=()
  for b in $builds; do
    local pport setup
    pport=$(free_port)
    data[$b]="$work/data-profile-$b"
    setup=$("${exe[$b]}" bench setup --data-dir "${data[$b]}" --provider-url "http://127.0.0.1:$pport/" \
      --curve secp256k1 --json)
    profile[$b]=$(jq -r .consumer_profile <<<"$setup")
    taskset -c "$GEN_CPU" "${exe[$b]}" bench-provider --listen "127.0.0.1:$pport" \
      --key-file "$(jq -r .provider_key_file <<<"$setup")" --esb-key "$(jq -r .esb_public_key <<<"$setup")" \
      >"$work/stub-profile-$b.log" 2>&1 &
    pids+=($!)
    wait_for_line "$work/stub-profile-$b.log" "bench-provider: listening on " >/dev/null
    cp -a "${data[$b]}" "${data[$b]}.pristine"
  done
  local -A mevent=()
  for b in $builds; do
    malloc_event "${exe[$b]}"
    mevent[$b]=$MALLOC_EVENT
  done
  [ -n "${mevent[after]}" ] || echo "   (perf probe could not add a uprobe on malloc: allocations per exchange left out)"
  local window=$((DURATION < PROFILE_SECONDS ? DURATION : PROFILE_SECONDS))

  local runs="$work/profile-runs.jsonl" round order
  : >"$runs"
  profile_one() { # build: one line to $runs
    local b=$1 dir="$work/data-profile-run" log="$work/bus-profile-$1-$round.log"
    local pdir="$work/perf-$1-$round"
    rm -rf "$dir"
    cp -a "${data[$b]}.pristine" "$dir"
    taskset -c "$BUS_CPU" "${exe[$b]}" serve "${GUARDS[@]}" --plain-http --listen 127.0.0.1:0 \
      --data-dir "$dir" --threads 1 --log-level warn >"$log" 2>&1 &
    local bus_pid=$! url
    pids+=($bus_pid)
    url=$(wait_for_line "$log" "govesb: listening on ")
    local gen=(taskset -c "$GEN_CPU" "${exe[$b]}" bench run --url "$url" --profile "${profile[$b]}"
               --json --connections 64 --body-size 1024)

    # 1. Saturated: CPU per exchange, and the perf profile in the middle of the window. The
    # generator opens its connections once it has pre-signed its envelopes, then warms up
    # (2 s) and measures (DURATION s). The recording is planned as PROFILE_SECONDS centred on
    # the middle of the measured window (ending half a second before the load at the latest,
    # starting a second into the warmup at the earliest) and ended on time with SIGINT: perf
    # takes up to a few seconds to attach to every thread on a busy machine, which may shorten
    # the recording but never carries it past the load.
    local t0 t1 gen_pid split rec_pid
    "${gen[@]}" --duration "$DURATION" >"$work/profile-gen-$b.json" &
    gen_pid=$!
    pids+=($gen_pid)
    # The generator's connections, as the kernel lists them (/proc/net/tcp: established, the
    # bus's port on the local side), so that builds with and without a metrics listener compare.
    local open=0 t_open bus_port
    bus_port=$(printf '%04X' "${url##*:}")
    for _ in $(seq 1 1200); do
      open=$(awk -v p=":$bus_port" '$4 == "01" && substr($2, length($2) - 4) == p {n++} END {print n + 0}' /proc/net/tcp)
      [ "${open:-0}" -ge 64 ] && break
      sleep 0.05
    done
    t_open=$(date +%s.%N)
    # The bus's CPU from here on is the load's: before it, the bus checked the generator's
    # client secret once (scrypt, tens of ms, which a client pays once per token) and sat idle
    # while the generator pre-signed (measured() in bench/run counts from the same point).
    t0=$(cpu_ticks "$bus_pid")
    local rec_start rec_stop
    rec_stop=$(awk -v t="$t_open" -v d="$DURATION" -v w="$PROFILE_SECONDS" \
      'BEGIN {m = t + 2 + (d + w) / 2; e = t + 2 + d - 0.5; printf "%.3f", (m < e ? m : e)}')
    rec_start=$(awk -v s="$rec_stop" -v w="$PROFILE_SECONDS" -v t="$t_open" \
      'BEGIN {b = s - w; printf "%.3f", (b > t + 1 ? b : t + 1)}')
    sleep_until "$rec_start"
    taskset -c "$GEN_CPU" "$repo/bench/perf_split.sh" record "$bus_pid" 3600 "$pdir" &
    rec_pid=$!
    sleep_until "$rec_stop"
    kill -INT "$rec_pid" 2>/dev/null || true
    wait "$rec_pid" 2>/dev/null || true
    wait "$gen_pid"
    t1=$(cpu_ticks "$bus_pid")
    split=$(taskset -c "$GEN_CPU" "$repo/bench/perf_split.sh" report "$pdir")
    if [ -n "${PROFILE_KEEP:-}" ]; then cp -a "$pdir" "$PROFILE_KEEP-$b-$round"; fi
    rm -rf "$pdir"
    local sat
    sat=$(jq -c --argjson ticks "$((t1 - t0))" --argjson hz "$CLK_TCK" --argjson split "$split" '
      (.ok + (.warmup_requests // 0)) as $x
      | (if $x > 0 then $ticks * 1e6 / $hz / $x else null end) as $cpu
      | {rps: .throughput_rps, p99_ms: .latency_ms.p99, errors: (.requests - .ok), exchanges: $x,
         cpu_us: (if $cpu then $cpu * 10 | round / 10 else null end),
         samples: $split.samples, shares: $split.shares, top: $split.top,
         us: (if $cpu then ($split.shares | map_values(. * $cpu * 10 | round / 10)) else null end)}' \
      "$work/profile-gen-$b.json")

    # 2. and 3.: system calls and context switches, saturated and at PROFILE_RATE/s. 4.: malloc
    # calls, saturated (the uprobe slows the bus down, which changes nothing in the count).
    counted() { # rate(0: closed loop) seconds [perf event...] -> per-exchange JSON
      local rate=$1 seconds=$2 r
      shift 2
      perf_stat_start "$work/profile-stat.txt" "$bus_pid" "$@"
      local perf_pid=$PERF_STAT_PID
      r=$("${gen[@]}" --duration "$seconds" --rate "$rate")
      perf_stat_stop "$perf_pid"
      per_exchange_json "$r" "$(perf_stat_totals "$work/profile-stat.txt")" "${mevent[$b]}"
    }
    local calls=(-e 'syscalls:sys_enter_*' -e raw_syscalls:sys_enter -e context-switches)
    local full at_rate mallocs=null
    full=$(counted 0 "$DURATION" "${calls[@]}")
    at_rate=$(counted "$PROFILE_RATE" "$DURATION" "${calls[@]}")
    if [ -n "${mevent[$b]}" ]; then
      local malloc_args=() e
      for e in ${mevent[$b]}; do malloc_args+=(-e "$e"); done
      mallocs=$(counted 0 $((DURATION < 5 ? DURATION : 5)) "${malloc_args[@]}")
    fi
    kill -TERM "$bus_pid"; wait "$bus_pid" 2>/dev/null || true
    jq -c -n --arg b "$b" --argjson round "$round" --argjson sat "$sat" --argjson full "$full" \
      --argjson at_rate "$at_rate" --argjson mallocs "$mallocs" \
      '{round: $round, build: $b, saturated: $sat,
        counted_saturated: ($full + {mallocs: (if $mallocs then $mallocs.mallocs else null end)}),
        counted_at_rate: ($at_rate + {mallocs: null})}' >>"$runs"  # not probed at the rate
    tail -n 1 "$runs" | jq -r '"   round \(.round) \(.build): \(.saturated.rps | floor)/s, \(.saturated.cpu_us) µs CPU per exchange ("
      + (.saturated.us // {} | to_entries | sort_by(-.value) | map("\(.key) \(.value)") | join(", "))
      + "); saturated \(.counted_saturated.syscalls) syscalls, \(.counted_saturated.context_switches) context switches, \(.counted_saturated.fdatasyncs) fdatasyncs per exchange; \(.counted_saturated.mallocs // "?") mallocs per exchange; at \(.counted_at_rate.rps | floor)/s \(.counted_at_rate.syscalls) syscalls, \(.counted_at_rate.context_switches) context switches per exchange"'
  }

  echo "== profile: the pinned bus's CPU per exchange by category, system calls and allocations per exchange ($builds; $PROFILE_ROUNDS round(s), perf window ${window} s, open loop at $PROFILE_RATE/s)"
  for round in $(seq 1 "$PROFILE_ROUNDS"); do
    order=$builds
    [ "$builds" != after ] && [ $((round % 2)) = 0 ] && order="after before"
    for b in $order; do profile_one "$b"; done
  done

  local r
  r=$(jq -s -c --arg builds "$builds" --arg ca "${commit[after]}" --arg cb "${commit[before]:-}" \
    --argjson rounds "$PROFILE_ROUNDS" --argjson rate "$PROFILE_RATE" --argjson window "$window" '
    def median: map(select(. != null)) | sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
      else ((.[length / 2 - 1] + .[length / 2]) / 2 * 1000 | round) / 1000 end;
    # the median of every number found under the same keys in the objects of the array
    def medians: . as $xs | ([$xs[] | objects | keys[]] | unique) as $ks
      | if ($ks | length) == 0 then ($xs | median)
        else reduce $ks[] as $k ({}; . + {($k): ([$xs[] | .[$k]] | if any(.[]; type == "object") then medians
                                                               elif any(.[]; type == "number") then median
                                                               else last end)}) end;
    . as $all
    | {rounds: $rounds, rate: $rate, window_s: $window, after_commit: $ca,
       before_commit: (if $cb == "" then null else $cb end),
       builds: ($builds | split(" ") | map(. as $b | {key: $b, value: ([$all[] | select(.build == $b)]
         | {saturated: ((map(.saturated | del(.top)) | medians) + {top: (last.saturated.top)}),
            counted_saturated: (map(.counted_saturated) | medians),
            counted_at_rate: (map(.counted_at_rate) | medians)})}) | from_entries),
       runs: $all,
       commands: {serve: "taskset -c 0 govesb serve --plain-http --threads 1 --log-level warn",
                  load: "taskset -c 1 govesb bench run --connections 64 --body-size 1024 --duration D [--rate R]",
                  split: "bench/perf_split.sh PID SECONDS (perf record -F 3997 -g -p PID; perf script)",
                  counts: "perf stat -e syscalls:sys_enter_* -e raw_syscalls:sys_enter -e context-switches [-e probe_libc:NAME] -p PID",
                  malloc_probe: "perf probe -x LIBC --add NAME=malloc"}}' "$runs")
  row "profile" "$r"
}
