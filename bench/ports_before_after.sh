# Sourced by bench/run (ONLY=ports-before-after): the embedded default before and after the
# storage ports (issue 15, item 1), in one run. BEFORE_BUILD_DIR is a build of the commit before
# the ports (3fcc871: `git worktree add --detach DIR 3fcc871`, then the usual cmake
# RelWithDebInfo build of the target govesb in DIR/build); the current build is BUILD_DIR.
#
# Rows, for each build, each on a fresh copy of that build's own data directory (made once by its
# own `bench setup`, copied before any bus opened it):
#   - the headline synchronous row: the bus pinned to core 0 with one I/O thread, the generator
#     and the provider stub on core 1, secp256k1, 1 KB, 64 connections, closed loop; with the
#     bus's CPU per exchange (utime + stime across the row / exchanges answered, warmup included);
#   - the push rows: default settings (both cores), 64 connections, 1 KB, SUBSCRIBERS subscribers
#     holding their deliveries, with --group-commit-max 1 and with group commit; with the bus's
#     CPU per accepted push.
# PORTS_ROUNDS rounds (default 3); the two builds alternate, and which goes first alternates
# from round to round. Medians reported. The machine is shared, so single rows are noisy.

PORTS_ROUNDS=${PORTS_ROUNDS:-3}
case "$PORTS_ROUNDS" in
  '' | *[!0-9]* | 0) echo "bench: PORTS_ROUNDS must be a positive integer" >&2; exit 2 ;;
esac

run_ports_before_after() {
  local before_dir=${BEFORE_BUILD_DIR:-}
  if [ -z "$before_dir" ]; then
    echo "bench: ONLY=ports-before-after needs BEFORE_BUILD_DIR (a build of 3fcc871)" >&2
    exit 2
  fi
  case "$before_dir" in /*) ;; *) before_dir="$repo/$before_dir" ;; esac
  local -A exe=([before]="$before_dir/apps/govesb/govesb" [after]="$bin")
  local -A commit=([before]="$(git -C "$before_dir/.." rev-parse --short HEAD 2>/dev/null || echo unknown)"
                   [after]="$(git rev-parse --short HEAD)")
  [ -x "${exe[before]}" ] || { echo "bench: no ${exe[before]}" >&2; exit 2; }
  local -A data=() sync_profile=() pub_profile=() sub_pids=()
  local b i
  for b in before after; do
    local pport sargs=() ports=() setup
    pport=$(free_port)
    for i in $(seq 1 "$SUBSCRIBERS"); do
      ports+=("$(free_port)")
      sargs+=(--subscriber-url "http://127.0.0.1:${ports[-1]}/")
    done
    data[$b]="$work/data-ports-$b"
    setup=$("${exe[$b]}" bench setup --data-dir "${data[$b]}" --provider-url "http://127.0.0.1:$pport/" \
      --curve secp256k1 "${sargs[@]}" --json)
    sync_profile[$b]=$(jq -r .consumer_profile <<<"$setup")
    pub_profile[$b]=$(jq -r .publisher_profile <<<"$setup")
    local esb
    esb=$(jq -r .esb_public_key <<<"$setup")
    taskset -c "$GEN_CPU" "${exe[$b]}" bench-provider --listen "127.0.0.1:$pport" \
      --key-file "$(jq -r .provider_key_file <<<"$setup")" --esb-key "$esb" \
      >"$work/stub-ports-$b.log" 2>&1 &
    pids+=($!)
    wait_for_line "$work/stub-ports-$b.log" "bench-provider: listening on " >/dev/null
    local subs=()
    for i in $(seq 0 $((SUBSCRIBERS - 1))); do
      "${exe[$b]}" bench-provider --listen "127.0.0.1:${ports[$i]}" \
        --key-file "$(jq -r ".subscriber_key_files[$i]" <<<"$setup")" --esb-key "$esb" \
        --reply-body '{}' --paused >"$work/sub-ports-$b-$i.log" 2>&1 &
      pids+=($!)
      subs+=($!)
      wait_for_line "$work/sub-ports-$b-$i.log" "bench-provider: listening on " >/dev/null
    done
    sub_pids[$b]="${subs[*]}"
    cp -a "${data[$b]}" "${data[$b]}.pristine"
  done

  local runs="$work/ports-runs.jsonl"
  : >"$runs"
  one_row() { # build row-name -> one JSON line to $runs
    local b=$1 name=$2 dir="$work/data-ports-run" log="$work/bus-ports-$1-$RANDOM.log"
    rm -rf "$dir"
    cp -a "${data[$b]}.pristine" "$dir"
    local serve=("${exe[$b]}" serve "${GUARDS[@]}" --plain-http --listen 127.0.0.1:0 --data-dir "$dir"
                 --log-level warn) gen=() prefix=()
    case "$name" in
      sync)
        prefix=(taskset -c "$BUS_CPU"); serve+=(--threads 1)
        gen=(taskset -c "$GEN_CPU" "${exe[$b]}" bench run --profile "${sync_profile[$b]}") ;;
      push-fsync-each)
        serve+=(--group-commit-max 1)
        gen=("${exe[$b]}" bench run --mode push --profile "${pub_profile[$b]}") ;;
      push-group)
        gen=("${exe[$b]}" bench run --mode push --profile "${pub_profile[$b]}") ;;
    esac
    ${prefix[@]+"${prefix[@]}"} "${serve[@]}" >"$log" 2>&1 &
    local bus_pid=$! url t0 t1 r
    pids+=($bus_pid)
    url=$(wait_for_line "$log" "govesb: listening on ")
    t0=$(cpu_ticks "$bus_pid")
    r=$("${gen[@]}" --url "$url" --json --duration "$DURATION" --connections 64 --body-size 1024)
    t1=$(cpu_ticks "$bus_pid")
    kill -TERM "$bus_pid"; wait "$bus_pid" 2>/dev/null || true
    jq -c --arg b "$b" --arg name "$name" --argjson round "$round" --argjson ticks "$((t1 - t0))" \
      --argjson hz "$CLK_TCK" '
      {round: $round, build: $b, row: $name, rps: .throughput_rps, p50_ms: .latency_ms.p50,
       p99_ms: .latency_ms.p99, errors: (.requests - .ok), exchanges: (.ok + (.warmup_requests // 0))}
      | . + {cpu_us: (if .exchanges > 0 then ($ticks * 1e6 / $hz / .exchanges * 10 | round) / 10 else null end)}' \
      <<<"$r" >>"$runs"
    echo "   round $round $b $name: $(tail -n 1 "$runs" | jq -r '"\(.rps | floor)/s p50 \(.p50_ms) ms p99 \(.p99_ms) ms, \(.cpu_us) µs bus CPU each, errors \(.errors)"')"
  }
  echo "== the embedded default before (${commit[before]}) and after (${commit[after]}) the storage ports, $PORTS_ROUNDS rounds, alternating"
  local round order
  for round in $(seq 1 "$PORTS_ROUNDS"); do
    order="before after"
    [ $((round % 2)) = 0 ] && order="after before"
    for name in sync push-fsync-each push-group; do
      for b in $order; do one_row "$b" "$name"; done
    done
  done
  # Side by side: both builds' buses at once, each loaded by its own generator over the same
  # span, so that both see the machine in the same state (the method of the evidence row).
  local sbs="$work/ports-sbs.jsonl"
  : >"$sbs"
  pair_row() { # row-name -> one JSON line per build to $sbs
    local name=$1 b
    local -A bus=() url=() gen=() t0=() t1=()
    for b in before after; do
      local dir="$work/data-ports-sbs-$b" log="$work/bus-sbs-$b-$RANDOM.log" prefix=() extra=()
      rm -rf "$dir"
      cp -a "${data[$b]}.pristine" "$dir"
      case "$name" in
        sync) prefix=(taskset -c "$BUS_CPU"); extra=(--threads 1) ;;
        push-fsync-each) extra=(--group-commit-max 1) ;;
      esac
      ${prefix[@]+"${prefix[@]}"} "${exe[$b]}" serve "${GUARDS[@]}" --plain-http --listen 127.0.0.1:0 \
        --data-dir "$dir" --log-level warn "${extra[@]}" >"$log" 2>&1 &
      bus[$b]=$!
      pids+=(${bus[$b]})
      url[$b]=$(wait_for_line "$log" "govesb: listening on ")
    done
    for b in before after; do t0[$b]=$(cpu_ticks "${bus[$b]}"); done
    for b in before after; do
      local g=("${exe[$b]}" bench run --profile "${sync_profile[$b]}")
      [ "$name" = sync ] && g=(taskset -c "$GEN_CPU" "${g[@]}")
      [ "$name" != sync ] && g=("${exe[$b]}" bench run --mode push --profile "${pub_profile[$b]}")
      "${g[@]}" --url "${url[$b]}" --json --duration "$DURATION" --connections 64 --body-size 1024 \
        >"$work/sbs-$b.json" 2>/dev/null &
      gen[$b]=$!
      pids+=(${gen[$b]})
    done
    for b in before after; do wait "${gen[$b]}"; t1[$b]=$(cpu_ticks "${bus[$b]}"); done
    for b in before after; do kill -TERM "${bus[$b]}"; wait "${bus[$b]}" 2>/dev/null || true; done
    for b in before after; do
      jq -c --arg b "$b" --arg name "$name" --argjson round "$round" \
        --argjson ticks "$((t1[$b] - t0[$b]))" --argjson hz "$CLK_TCK" '
        {round: $round, build: $b, row: $name, rps: .throughput_rps, p99_ms: .latency_ms.p99,
         errors: (.requests - .ok), exchanges: (.ok + (.warmup_requests // 0))}
        | . + {cpu_us: (if .exchanges > 0 then ($ticks * 1e6 / $hz / .exchanges * 10 | round) / 10 else null end)}' \
        "$work/sbs-$b.json" >>"$sbs"
    done
    echo "   side by side, round $round, $name: $(tail -n 2 "$sbs" | jq -r -s '"before \(.[0].rps | floor)/s \(.[0].cpu_us) µs, after \(.[1].rps | floor)/s \(.[1].cpu_us) µs"')"
  }
  if [ -n "${PORTS_SIDE_BY_SIDE:-1}" ] && [ "${PORTS_SIDE_BY_SIDE:-1}" != 0 ]; then
    echo "== side by side: both builds' buses at once, $PORTS_ROUNDS rounds"
    for round in $(seq 1 "$PORTS_ROUNDS"); do
      for name in sync push-fsync-each; do pair_row "$name"; done
    done
  fi
  for b in before after; do
    for i in ${sub_pids[$b]}; do kill -TERM "$i" 2>/dev/null || true; wait "$i" 2>/dev/null || true; done
  done
  local r
  r=$(jq -s -c --slurpfile sbs "$sbs" --arg cb "${commit[before]}" --arg ca "${commit[after]}" --argjson rounds "$PORTS_ROUNDS" '
    def median: map(select(. != null)) | sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
      else (.[length / 2 - 1] + .[length / 2]) / 2 end;
    . as $all
    | ($sbs) as $sbs
    | {rounds: $rounds, before_commit: $cb, after_commit: $ca,
       rows: (["sync", "push-fsync-each", "push-group"] | map(. as $n
         | {row: $n} + ({before: "before", after: "after"} | map_values(. as $b
             | [$all[] | select(.row == $n and .build == $b)] as $rs
             | {rps: ($rs | map(.rps) | median), p50_ms: ($rs | map(.p50_ms) | median),
                p99_ms: ($rs | map(.p99_ms) | median), cpu_us: ($rs | map(.cpu_us) | median),
                errors: ($rs | map(.errors) | add), all_rps: ($rs | map(.rps | floor))}))
         | . + {rps_change_pct: ((.after.rps / .before.rps - 1) * 1000 | round / 10),
                cpu_change_pct: (if .before.cpu_us then ((.after.cpu_us / .before.cpu_us - 1) * 1000 | round / 10) else null end)})),
       side_by_side: ($sbs | if length == 0 then null else . as $p | ["sync", "push-fsync-each"] | map(. as $n
         | [$p[] | select(.row == $n)] as $rs
         | [range(0; $rs | map(.round) | max // 0) as $i | ($i + 1) as $r
            | ($rs | map(select(.round == $r and .build == "before"))[0]) as $x
            | ($rs | map(select(.round == $r and .build == "after"))[0]) as $y
            | select($x.cpu_us != null and $y.cpu_us != null and $x.cpu_us > 0)
            | ($y.cpu_us / $x.cpu_us - 1) * 100] as $costs
         | {row: $n, before_cpu_us: ($rs | map(select(.build == "before") | .cpu_us) | median),
            after_cpu_us: ($rs | map(select(.build == "after") | .cpu_us) | median),
            before_rps: ($rs | map(select(.build == "before") | .rps) | median),
            after_rps: ($rs | map(select(.build == "after") | .rps) | median),
            round_cpu_change_pct: ($costs | map(. * 10 | round / 10)),
            cpu_change_pct: ($costs | median | if . == null then null else . * 10 | round / 10 end),
            errors: ($rs | map(.errors) | add)}) end),
       side_by_side_runs: $sbs,
       runs: $all,
       commands: {sync: "taskset -c 0 govesb serve --plain-http --threads 1 + taskset -c 1 govesb bench run --connections 64 --body-size 1024",
                   "push-fsync-each": "govesb serve --plain-http --group-commit-max 1 + govesb bench run --mode push --connections 64 --body-size 1024",
                   "push-group": "govesb serve --plain-http + govesb bench run --mode push --connections 64 --body-size 1024"}}' "$runs")
  row "ports before after" "$r"
  jq -r '(.side_by_side // [])[] | "   side by side, \(.row): before \(.before_cpu_us) µs, after \(.after_cpu_us) µs: CPU per exchange \(.cpu_change_pct)% (rounds \(.round_cpu_change_pct | map(tostring + "%") | join(", ")))"' <<<"$r"
  jq -r '.rows[] | "   \(.row): before \(.before.rps | floor)/s (\(.before.cpu_us) µs), after \(.after.rps | floor)/s (\(.after.cpu_us) µs): throughput \(.rps_change_pct)%, CPU per exchange \(.cpu_change_pct)%"' <<<"$r"
}
