# Sourced by bench/run (ONLY=cluster): cluster mode's rows. Uses bench/run's helpers and
# variables (bin, work, pids, free_port, wait_for_line, row, cpu_ticks, CLK_TCK, GUARDS, NGINX,
# BUS_CPU, GEN_CPU, DURATION).
#
# The engines run on this machine beside everything else: one PostgreSQL server (initdb in a
# temporary directory, Debian's binaries, default settings except max_connections=200: fsync,
# synchronous_commit and full_page_writes on, as a production server has them) and three
# nats-server processes forming one JetStream cluster (as src/nats/local_cluster.cc starts them,
# with a monitoring port each so that their message counts can be read).
#
# Rows:
#   cost: the price of the shared engines. The same open-loop load (COST_RATE synchronous
#     exchanges/s, then PUSH_COST_RATE pushes/s to CLUSTER_SUBSCRIBERS live subscribers) against
#     the embedded default and against one cluster node, each pinned to core 0 with one I/O
#     thread, alternating, CLUSTER_ROUNDS rounds. CPU per exchange (utime + stime from
#     /proc/PID/stat across the row, divided by the exchanges answered, warmup included) of the
#     bus process, and separately of PostgreSQL (the postmaster and its backends) and of the three
#     nats-server processes. A push row lasts until every delivery of its pushes is
#     acknowledged, so a push's CPU includes its deliveries. Also per exchange: PostgreSQL WAL
#     bytes, WAL syncs and commits (pg_stat_wal, pg_stat_database), table growth, NATS messages.
#   scale: throughput behind nginx (an upstream of the nodes) of the embedded default (one
#     process) and of 1, 2 and 3 cluster nodes, nothing pinned: synchronous exchanges (closed
#     loop, 64 connections, 1 KB), pushes (64 connections, subscribers holding their first
#     delivery as in the push rows), then the drain of the accepted pushes once the subscribers
#     are released (deliveries/s cluster-wide). CLUSTER_ROUNDS rounds, the configurations
#     alternating within each round; medians reported.

CLUSTER_ROUNDS=${CLUSTER_ROUNDS:-3}
CLUSTER_SUBSCRIBERS=${CLUSTER_SUBSCRIBERS:-3}
COST_RATE=${COST_RATE:-300}
PUSH_COST_RATE=${PUSH_COST_RATE:-100}
CLUSTER_NODES=${CLUSTER_NODES:-1 2 3}
case "$CLUSTER_ROUNDS$CLUSTER_SUBSCRIBERS$COST_RATE$PUSH_COST_RATE" in
  *[!0-9]*) echo "bench: CLUSTER_ROUNDS, CLUSTER_SUBSCRIBERS, COST_RATE, PUSH_COST_RATE: integers" >&2
    exit 2 ;;
esac

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
PSQL=${PG_BIN}/psql

as_postgres() { # runs a PostgreSQL binary as the postgres user when we are root (initdb refuses root)
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() { # -> PG_DIR, PG_CONNINFO, PG_PID
  if [ -z "$PG_BIN" ] || ! command -v nats-server >/dev/null 2>&1; then
    echo "bench: cluster rows need postgresql and nats-server (scripts/setup installs them)" >&2
    exit 1
  fi
  # Its own directory: the postgres user must reach it, and the bench's keys stay private.
  PG_DIR=$(mktemp -d /tmp/govesb-bench-pg-XXXXXX)
  chmod 755 "$PG_DIR"
  [ "$(id -u)" -eq 0 ] && chown postgres "$PG_DIR"
  as_postgres "$PG_BIN/initdb" -D "$PG_DIR/data" -U govesb --auth=trust -E UTF8 \
    --locale=C.UTF-8 --no-instructions >"$work/initdb.log" 2>&1
  local port
  port=$(free_port)
  as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=200" start \
    >"$work/pg_ctl.log" 2>&1
  cleanup_hooks+=("as_postgres '$PG_BIN/pg_ctl' -D '$PG_DIR/data' -m fast -w stop >/dev/null 2>&1; rm -rf '$PG_DIR'")
  PG_CONNINFO="host=127.0.0.1 port=$port user=govesb dbname=postgres"
  PG_PID=$(head -n 1 "$PG_DIR/data/postmaster.pid")
}

start_nats() { # -> NATS_URLS (comma-separated), NATS_PIDS, NATS_MONITOR (ports)
  local i j ports=()
  for i in 0 1 2; do ports+=("$(free_port)" "$(free_port)" "$(free_port)"); done
  NATS_PIDS=(); NATS_MONITOR=(); local urls=()
  for i in 0 1 2; do
    local d="$work/nats/n$i" cport=${ports[$((3 * i))]} rport=${ports[$((3 * i + 1))]}
    local mport=${ports[$((3 * i + 2))]}
    mkdir -p "$d/store"
    {
      echo "server_name: n$i"
      echo "listen: 127.0.0.1:$cport"
      echo "http: 127.0.0.1:$mport"
      printf 'jetstream {\n  store_dir: "%s"\n  max_memory_store: 64MB\n  max_file_store: 4GB\n}\n' "$d/store"
      printf 'cluster {\n  name: govesb-bench\n  listen: 127.0.0.1:%s\n  routes: [\n' "$rport"
      for j in 0 1 2; do
        [ "$j" = "$i" ] || echo "    nats-route://127.0.0.1:${ports[$((3 * j + 1))]}"
      done
      printf '  ]\n}\n'
    } >"$d/server.conf"
    nats-server -c "$d/server.conf" >"$d/server.log" 2>&1 &
    NATS_PIDS+=($!)
    pids+=($!)
    NATS_MONITOR+=("$mport")
    urls+=("nats://127.0.0.1:$cport")
  done
  NATS_URLS=$(IFS=,; echo "${urls[*]}")
  # Ready when JetStream has a meta leader (every server's /jsz answers with one).
  for _ in $(seq 1 200); do
    local ready=0
    for i in 0 1 2; do
      curl -sf "http://127.0.0.1:${NATS_MONITOR[$i]}/jsz" 2>/dev/null \
        | jq -e '.meta_cluster.leader // empty' >/dev/null 2>&1 && ready=$((ready + 1))
    done
    [ "$ready" = 3 ] && return 0
    sleep 0.1
  done
  echo "bench: the NATS JetStream cluster did not elect a leader" >&2
  tail -n 20 "$work/nats/n0/server.log" >&2
  return 1
}

sql() { "$PSQL" "$PG_CONNINFO" -XAtq -c "$1"; }

pg_ticks() { # the postmaster (with its reaped children) and its live backends, in clock ticks
  local t k
  t=$(sed 's/.*) //' "/proc/$PG_PID/stat" | awk '{print $12 + $13 + $14 + $15}')
  for k in $(pgrep -P "$PG_PID" || true); do
    [ -r "/proc/$k/stat" ] && t=$((t + $(sed 's/.*) //' "/proc/$k/stat" | awk '{print $12 + $13}')))
  done
  echo "$t"
}
nats_ticks() {
  local t=0 p
  for p in "${NATS_PIDS[@]}"; do t=$((t + $(cpu_ticks "$p"))); done
  echo "$t"
}
nats_msgs() { # messages received by the three servers (clients and routes), summed
  local n=0 i
  for i in 0 1 2; do
    n=$((n + $(curl -sf "http://127.0.0.1:${NATS_MONITOR[$i]}/varz" | jq '.in_msgs')))
  done
  echo "$n"
}
pg_snapshot() { # one JSON object: WAL, commits and each table's size, now
  sql "SELECT json_build_object(
         'wal_bytes', (SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0'))::bigint,
         'wal_syncs', (SELECT wal_sync FROM pg_stat_wal),
         'wal_writes', (SELECT wal_write FROM pg_stat_wal),
         'commits', (SELECT xact_commit FROM pg_stat_database WHERE datname = 'postgres'),
         'tables', (SELECT json_object_agg(relname, pg_total_relation_size(oid)) FROM pg_class
                    WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace))"
}
# pg_stat_* counters are sent by backends when they go idle, at most every second or so.
pg_settle() { sql "SELECT pg_stat_force_next_flush()" >/dev/null 2>&1 || true; sleep 1.2; }

# The registry in the cluster's PostgreSQL, through the admin CLI, as an operator would make it:
# a provider (the stub), a consumer granted BNCH01, a publisher of PUSH01 and
# CLUSTER_SUBSCRIBERS subscribers. Writes the profiles the load generator reads (the same fields
# as `govesb bench setup` writes) -> CL_PROFILE, CL_PUB_PROFILE, CL_PROVIDER_KEY, CL_SUB_KEYS[],
# CL_ESB.
cluster_registry() { # provider-url subscriber-url...
  local provider_url=$1
  shift
  local adm=("$bin" admin --postgres "$PG_CONNINFO" --kek-file "$work/kek" --json)
  local d="$work/cluster-bench"
  mkdir -p "$d"
  chmod 700 "$d"
  keypair() { "$bin" keygen --json; }
  profile() { # client_id secret private_key code -> JSON
    jq -n -c --arg id "$1" --arg s "$2" --arg k "$3" --arg c "$4" --arg esb "$CL_ESB" \
      '{url: "", client_id: $id, client_secret: $s, private_key: $k, esb_public_key: $esb,
        api_code: $c, curve: "secp256k1"}'
  }
  "${adm[@]}" institution add --code BENCH --name "GovESB benchmark" >/dev/null
  local k sys
  k=$(keypair)
  sys=$("${adm[@]}" system add --institution BENCH --name "bench provider" \
    --public-key "$(jq -r .public_key <<<"$k")" --endpoint "$provider_url" 2>/dev/null)
  CL_PROVIDER_KEY="$d/provider.key"
  jq -r .private_key <<<"$k" >"$CL_PROVIDER_KEY"
  "${adm[@]}" api add --provider "$(jq -r .client_id <<<"$sys")" --code BNCH01 --timeout-ms 10000 \
    >/dev/null
  k=$(keypair)
  sys=$("${adm[@]}" system add --institution BENCH --name "bench consumer" \
    --public-key "$(jq -r .public_key <<<"$k")" --endpoint http://127.0.0.1:9/bench-consumer 2>/dev/null)
  "${adm[@]}" grant add --consumer "$(jq -r .client_id <<<"$sys")" --api BNCH01 >/dev/null
  CL_PROFILE="$d/consumer.profile.json"
  profile "$(jq -r .client_id <<<"$sys")" "$(jq -r .client_secret <<<"$sys")" \
    "$(jq -r .private_key <<<"$k")" BNCH01 >"$CL_PROFILE"
  k=$(keypair)
  sys=$("${adm[@]}" system add --institution BENCH --name "bench publisher" \
    --public-key "$(jq -r .public_key <<<"$k")" --endpoint http://127.0.0.1:9/bench-publisher 2>/dev/null)
  "${adm[@]}" topic add --publisher "$(jq -r .client_id <<<"$sys")" --code PUSH01 >/dev/null
  CL_PUB_PROFILE="$d/publisher.profile.json"
  profile "$(jq -r .client_id <<<"$sys")" "$(jq -r .client_secret <<<"$sys")" \
    "$(jq -r .private_key <<<"$k")" PUSH01 >"$CL_PUB_PROFILE"
  CL_SUB_KEYS=()
  local i=0 url
  for url in "$@"; do
    i=$((i + 1))
    k=$(keypair)
    sys=$("${adm[@]}" system add --institution BENCH --name "bench subscriber $i" \
      --public-key "$(jq -r .public_key <<<"$k")" --endpoint "$url" 2>/dev/null)
    "${adm[@]}" subscription add --subscriber "$(jq -r .client_id <<<"$sys")" --topic PUSH01 \
      >/dev/null
    jq -r .private_key <<<"$k" >"$d/subscriber-$i.key"
    CL_SUB_KEYS+=("$d/subscriber-$i.key")
  done
  chmod 600 "$d"/*
}

start_node() { # id [extra serve args...] -> NODE_PID, NODE_URL (NODE_PREFIX: e.g. taskset -c 0)
  local id=$1
  shift
  local log="$work/node-$id-$RANDOM.log"
  ${NODE_PREFIX[@]+"${NODE_PREFIX[@]}"} "$bin" serve --cluster --postgres "$PG_CONNINFO" --nats "$NATS_URLS" --node-id "$id" \
    --kek-file "$work/kek" --plain-http --listen 127.0.0.1:0 --admin-listen off \
    --log-level warn "${GUARDS[@]}" "$@" >"$log" 2>&1 &
  NODE_PID=$!
  pids+=($NODE_PID)
  NODE_URL=$(wait_for_line "$log" "govesb: listening on ")
}

start_subscribers() { # paused|live -> SUB_PIDS
  local mode=$1 i
  SUB_PIDS=()
  for i in $(seq 0 $((CLUSTER_SUBSCRIBERS - 1))); do
    local log="$work/csub-$i-$RANDOM.log" extra=()
    [ "$mode" = paused ] && extra=(--paused)
    "$bin" bench-provider --listen "127.0.0.1:${CL_SUB_PORTS[$i]}" --key-file "$2/subscriber-$((i + 1)).key" \
      --esb-key "$3" --reply-body '{}' ${extra[@]+"${extra[@]}"} >"$log" 2>&1 &
    SUB_PIDS+=($!)
    pids+=($!)
    wait_for_line "$log" "bench-provider: listening on " >/dev/null
  done
}
stop_pids() { # SIGTERM to each, then waits for each to exit
  local p
  for p; do kill -TERM "$p" 2>/dev/null || true; done
  for p; do wait "$p" 2>/dev/null || true; done
}

# ---- the price of the shared engines ----
cost_row() { # mode(embedded|cluster) kind(sync|push) round -> one JSON line to $cost_runs
  local mode=$1 kind=$2 round=$3 bus_pid url
  if [ "$mode" = embedded ]; then
    taskset -c "$BUS_CPU" "$bin" serve "${GUARDS[@]}" --plain-http --listen 127.0.0.1:0 \
      --data-dir "$EMB_DATA" --threads 1 --log-level warn >"$work/emb-$kind-$round.log" 2>&1 &
    bus_pid=$!
    pids+=($bus_pid)
    url=$(wait_for_line "$work/emb-$kind-$round.log" "govesb: listening on ")
  else
    NODE_PREFIX=(taskset -c "$BUS_CPU")
    start_node node1 --threads 1
    NODE_PREFIX=()
    bus_pid=$NODE_PID
    url=$NODE_URL
  fi
  local profile rate api=() sub_pids=()
  if [ "$kind" = sync ]; then
    profile=$([ "$mode" = embedded ] && echo "$EMB_PROFILE" || echo "$CL_PROFILE")
    rate=$COST_RATE
  else
    profile=$([ "$mode" = embedded ] && echo "$EMB_PUB_PROFILE" || echo "$CL_PUB_PROFILE")
    rate=$PUSH_COST_RATE
    api=(--mode push --api PUSH01)
    if [ "$mode" = embedded ]; then start_subscribers live "$EMB_BENCH_DIR" "$EMB_ESB"
    else start_subscribers live "$work/cluster-bench" "$CL_ESB"; fi
    sub_pids=("${SUB_PIDS[@]}")
  fi
  sleep 1  # startup work (migrations, first snapshot) out of the span
  local b0 p0 n0 m0 s0 d0 t0
  s0=null
  if [ "$mode" = cluster ]; then pg_settle; s0=$(pg_snapshot); fi
  d0=$(du -sb "$EMB_DATA" | cut -f1)
  b0=$(cpu_ticks "$bus_pid"); p0=$(pg_ticks); n0=$(nats_ticks); m0=$(nats_msgs)
  t0=$(date +%s.%N)
  local r
  r=$(taskset -c "$GEN_CPU" "$bin" bench run --url "$url" --profile "$profile" --json \
    "${api[@]}" --duration "$DURATION" --connections 64 --body-size 1024 --rate "$rate")
  local drained_s=0 pending=0
  if [ "$kind" = push ]; then  # until every delivery is acknowledged (or 120 s)
    local w
    for w in $(seq 1 1200); do
      if [ "$mode" = cluster ]; then pending=$(sql "SELECT count(*) FROM deliveries WHERE state = 'pending'")
      else pending=$(metric "$url" govesb_delivery_queue_depth); fi
      [ "$pending" = 0 ] && break
      sleep 0.1
    done
    drained_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')
  fi
  local b1 p1 n1 m1 s1=null d1
  b1=$(cpu_ticks "$bus_pid"); p1=$(pg_ticks); n1=$(nats_ticks); m1=$(nats_msgs)
  d1=$(du -sb "$EMB_DATA" | cut -f1)
  if [ "$mode" = cluster ]; then pg_settle; s1=$(pg_snapshot); fi
  stop_pids "$bus_pid"
  [ ${#sub_pids[@]} -gt 0 ] && stop_pids "${sub_pids[@]}"
  jq -c --arg mode "$mode" --arg kind "$kind" --argjson round "$round" --argjson rate "$rate" \
    --argjson bus "$((b1 - b0))" --argjson pg "$((p1 - p0))" --argjson nats "$((n1 - n0))" \
    --argjson msgs "$((m1 - m0))" --argjson hz "$CLK_TCK" --argjson s0 "$s0" --argjson s1 "$s1" \
    --argjson dd "$((d1 - d0))" --argjson drained "$drained_s" --argjson pending "$pending" \
    --argjson subs "$CLUSTER_SUBSCRIBERS" '
    (.ok + (.warmup_requests // 0)) as $ex
    | def us($t): if $ex > 0 then ($t * 1e6 / $hz / $ex * 10 | round) / 10 else null end;
      def per($x): if $ex > 0 then ($x / $ex * 10 | round) / 10 else null end;
    {round: $round, mode: $mode, kind: $kind, rate: $rate, rps: .throughput_rps,
     p50_ms: .latency_ms.p50, p99_ms: .latency_ms.p99, errors: (.requests - .ok),
     exchanges: (.ok + (.warmup_requests // 0)), subscribers: (if $kind == "push" then $subs else 0 end),
     span_s: (if $kind == "push" then $drained else null end), left_pending: $pending}
    | . + {bus_cpu_us: us($bus), pg_cpu_us: us($pg), nats_cpu_us: us($nats),
           nats_msgs: per($msgs), data_dir_bytes: (if $mode == "embedded" then per($dd) else null end)}
    | if $s0 != null then . + {
        wal_bytes: per($s1.wal_bytes - $s0.wal_bytes), wal_syncs: per($s1.wal_syncs - $s0.wal_syncs),
        commits: per($s1.commits - $s0.commits),
        table_bytes: ([$s1.tables | to_entries[] | {key, value: (.value - ($s0.tables[.key] // 0))}
                       | select(.value != 0)] | from_entries | map_values(per(.)))}
      else . end' <<<"$r" >>"$cost_runs"
  echo "   round $round $mode $kind: $(tail -n 1 "$cost_runs" | jq -r '"\(.rps | floor)/s p99 \(.p99_ms) ms errors \(.errors); CPU µs per exchange: bus \(.bus_cpu_us), PostgreSQL \(.pg_cpu_us), NATS \(.nats_cpu_us)" + (if .wal_bytes then "; WAL \(.wal_bytes) B, \(.wal_syncs) syncs, \(.commits) commits" else "" end) + (if .kind == "push" then "; drained in \(.span_s) s, left \(.left_pending)" else "" end)')"
}

# ---- throughput with 1..3 nodes behind nginx ----
nginx_for() { # port backend-url... -> starts nginx: NGINX_PID
  local port=$1
  shift
  local d="$work/nginx-cluster-$port" servers="" u
  mkdir -p "$d"
  for u in "$@"; do servers+="    server ${u#http://};"$'\n'; done
  cat >"$d/nginx.conf" <<NGINX
worker_processes 2;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $d/body;
  proxy_temp_path $d/proxy;
  client_max_body_size 100m;
  client_body_buffer_size 128k;
  upstream nodes {
$servers    keepalive 256;
  }
  server {
    listen 127.0.0.1:$port;
    location / {
      proxy_pass http://nodes;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
NGINX
  "$NGINX" -c "$d/nginx.conf" -p "$d" >"$d/out.log" 2>&1 &
  NGINX_PID=$!
  pids+=($NGINX_PID)
}

scale_row() { # config(embedded|1|2|3) round -> one JSON line to $scale_runs
  local config=$1 round=$2 node_pids=() urls=() i
  local profile pub esb dir
  if [ "$config" = embedded ]; then
    "$bin" serve "${GUARDS[@]}" --plain-http --listen 127.0.0.1:0 --data-dir "$EMB_DATA" \
      --log-level warn >"$work/emb-scale-$round.log" 2>&1 &
    node_pids+=($!)
    pids+=($!)
    urls+=("$(wait_for_line "$work/emb-scale-$round.log" "govesb: listening on ")")
    profile=$EMB_PROFILE; pub=$EMB_PUB_PROFILE; esb=$EMB_ESB; dir=$EMB_BENCH_DIR
  else
    for i in $(seq 1 "$config"); do
      start_node "node$i"
      node_pids+=("$NODE_PID"); urls+=("$NODE_URL")
    done
    profile=$CL_PROFILE; pub=$CL_PUB_PROFILE; esb=$CL_ESB; dir="$work/cluster-bench"
  fi
  start_subscribers paused "$dir" "$esb"
  local sub_pids=("${SUB_PIDS[@]}") nport nginx_pid
  nport=$(free_port)
  nginx_for "$nport" "${urls[@]}"
  nginx_pid=$NGINX_PID
  sleep 1
  local lb="http://127.0.0.1:$nport" s p
  s=$("$bin" bench run --url "$lb" --profile "$profile" --json --duration "$DURATION" \
    --connections 64 --body-size 1024)
  p=$("$bin" bench run --mode push --api PUSH01 --url "$lb" --profile "$pub" --json \
    --duration "$DURATION" --connections 64 --body-size 1024)
  # The drain: every accepted push's deliveries, once the subscribers answer.
  pending() {
    if [ "$config" = embedded ]; then metric "${urls[0]}" govesb_delivery_queue_depth
    else sql "SELECT count(*) FROM deliveries WHERE state = 'pending'"; fi
  }
  local start_depth t0 left=0 w
  start_depth=$(pending)
  t0=$(date +%s.%N)
  kill -USR1 "${sub_pids[@]}"
  for w in $(seq 1 3000); do
    left=$(pending)
    [ "$left" = 0 ] && break
    sleep 0.1
  done
  local drain_s
  drain_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')
  stop_pids "$nginx_pid" "${node_pids[@]}" "${sub_pids[@]}"
  jq -n -c --arg config "$config" --argjson round "$round" --argjson s "$s" --argjson p "$p" \
    --argjson depth "$start_depth" --argjson left "$left" --argjson drain "$drain_s" '
    {round: $round, config: $config,
     sync_rps: $s.throughput_rps, sync_p50_ms: $s.latency_ms.p50, sync_p99_ms: $s.latency_ms.p99,
     sync_errors: ($s.requests - $s.ok),
     push_rps: $p.throughput_rps, push_p50_ms: $p.latency_ms.p50, push_p99_ms: $p.latency_ms.p99,
     push_errors: ($p.requests - $p.ok),
     drain_deliveries: ($depth - $left), drain_s: $drain, left_pending: $left,
     deliveries_per_s: (if $drain > 0 then (($depth - $left) / $drain | floor) else null end)}' \
    >>"$scale_runs"
  echo "   round $round, $config: $(tail -n 1 "$scale_runs" | jq -r '"sync \(.sync_rps | floor)/s p50 \(.sync_p50_ms) p99 \(.sync_p99_ms) ms (errors \(.sync_errors)); push \(.push_rps | floor)/s p50 \(.push_p50_ms) p99 \(.push_p99_ms) ms (errors \(.push_errors)); drain \(.drain_deliveries) in \(.drain_s) s = \(.deliveries_per_s)/s, left \(.left_pending)"')"
}

run_cluster_rows() {
  start_postgres
  start_nats
  echo "== engines: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') (pid $PG_PID), nats-server $(nats-server --version | awk '{print $2}') x3 JetStream ($NATS_URLS)"
  CL_ESB=$("$bin" cluster --postgres "$PG_CONNINFO" --json init --kek-file "$work/kek" | jq -r .bus_public_key)
  CL_SUB_PORTS=()
  local i sub_urls=()
  for i in $(seq 1 "$CLUSTER_SUBSCRIBERS"); do
    CL_SUB_PORTS+=("$(free_port)")
    sub_urls+=("http://127.0.0.1:${CL_SUB_PORTS[-1]}/")
  done
  local pport
  pport=$(free_port)
  cluster_registry "http://127.0.0.1:$pport/" "${sub_urls[@]}"
  # The embedded default's data directory, with the same systems (bench setup), the same
  # provider stub (one port; the two setups' provider keys differ, so one stub each, in turn
  # on that port would be needed: the stub checks signatures with one bus key) -> two stubs.
  EMB_DATA="$work/data-cluster-embedded"
  local sargs=() u setup
  for u in "${sub_urls[@]}"; do sargs+=(--subscriber-url "$u"); done
  local eport
  eport=$(free_port)
  setup=$("$bin" bench setup --data-dir "$EMB_DATA" --provider-url "http://127.0.0.1:$eport/" \
    --curve secp256k1 "${sargs[@]}" --json)
  EMB_PROFILE=$(jq -r .consumer_profile <<<"$setup")
  EMB_PUB_PROFILE=$(jq -r .publisher_profile <<<"$setup")
  EMB_ESB=$(jq -r .esb_public_key <<<"$setup")
  EMB_BENCH_DIR=$(dirname "$EMB_PROFILE")
  taskset -c "$GEN_CPU" "$bin" bench-provider --listen "127.0.0.1:$eport" \
    --key-file "$(jq -r .provider_key_file <<<"$setup")" --esb-key "$EMB_ESB" \
    >"$work/stub-emb.log" 2>&1 &
  pids+=($!)
  taskset -c "$GEN_CPU" "$bin" bench-provider --listen "127.0.0.1:$pport" \
    --key-file "$CL_PROVIDER_KEY" --esb-key "$CL_ESB" >"$work/stub-cl.log" 2>&1 &
  pids+=($!)
  wait_for_line "$work/stub-emb.log" "bench-provider: listening on " >/dev/null
  wait_for_line "$work/stub-cl.log" "bench-provider: listening on " >/dev/null

  # What an idle node and the engines cost (heartbeats, lease renewals, polls, JetStream's own
  # traffic): per second over IDLE_SECONDS with one node up and no load.
  local idle_s=${IDLE_SECONDS:-10} ib ip in im idle
  NODE_PREFIX=(taskset -c "$BUS_CPU")
  start_node node1 --threads 1
  NODE_PREFIX=()
  sleep 2
  ib=$(cpu_ticks "$NODE_PID"); ip=$(pg_ticks); in=$(nats_ticks); im=$(nats_msgs)
  sleep "$idle_s"
  idle=$(jq -n -c --argjson s "$idle_s" --argjson hz "$CLK_TCK" \
    --argjson b "$(($(cpu_ticks "$NODE_PID") - ib))" --argjson p "$(($(pg_ticks) - ip))" \
    --argjson n "$(($(nats_ticks) - in))" --argjson m "$(($(nats_msgs) - im))" \
    '{seconds: $s, bus_cpu_ms_per_s: ($b * 1000 / $hz / $s), pg_cpu_ms_per_s: ($p * 1000 / $hz / $s),
      nats_cpu_ms_per_s: ($n * 1000 / $hz / $s), nats_msgs_per_s: ($m / $s)}')
  stop_pids "$NODE_PID"
  echo "   one idle node: $(jq -r '"bus \(.bus_cpu_ms_per_s) ms CPU/s, PostgreSQL \(.pg_cpu_ms_per_s) ms/s, NATS \(.nats_cpu_ms_per_s) ms/s, \(.nats_msgs_per_s) NATS messages/s"' <<<"$idle")"

  cost_runs="$work/cost-runs.jsonl"
  : >"$cost_runs"
  echo "== the price of the shared engines: $COST_RATE exchanges/s and $PUSH_COST_RATE pushes/s (to $CLUSTER_SUBSCRIBERS subscribers), the bus pinned to core $BUS_CPU with one I/O thread, $CLUSTER_ROUNDS rounds"
  local round
  for round in $(seq 1 "$CLUSTER_ROUNDS"); do
    for kind in sync push; do
      cost_row embedded "$kind" "$round"
      cost_row cluster "$kind" "$round"
    done
  done
  r=$(jq -s -c --argjson idle "$idle" --arg serve_emb "taskset -c $BUS_CPU govesb serve --plain-http --threads 1 --data-dir DIR" \
    --arg serve_cl "govesb serve --cluster --postgres CONNINFO --nats URLS --node-id node1 --kek-file KEK --plain-http --admin-listen off --threads 1 (pinned to core $BUS_CPU)" \
    --arg gen "taskset -c $GEN_CPU govesb bench run --connections 64 --body-size 1024 --rate RATE [--mode push --api PUSH01]" '
    def median: map(select(. != null)) | sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
      else (.[length / 2 - 1] + .[length / 2]) / 2 end;
    def summary($m; $k): [.[] | select(.mode == $m and .kind == $k)] as $rs
      | {rounds: ($rs | length), rate: $rs[0].rate, subscribers: $rs[0].subscribers,
         rps: ($rs | map(.rps) | median), p50_ms: ($rs | map(.p50_ms) | median),
         p99_ms: ($rs | map(.p99_ms) | median), errors: ($rs | map(.errors) | add),
         bus_cpu_us: ($rs | map(.bus_cpu_us) | median), pg_cpu_us: ($rs | map(.pg_cpu_us) | median),
         nats_cpu_us: ($rs | map(.nats_cpu_us) | median), nats_msgs: ($rs | map(.nats_msgs) | median),
         wal_bytes: ($rs | map(.wal_bytes) | median), wal_syncs: ($rs | map(.wal_syncs) | median),
         commits: ($rs | map(.commits) | median),
         data_dir_bytes: ($rs | map(.data_dir_bytes) | median),
         table_bytes: (if $m == "cluster" then ([$rs[].table_bytes | keys[]] | unique
           | map(. as $t | {key: $t, value: ($rs | map(.table_bytes[$t] // 0) | median)}) | from_entries) else null end)}
        | . + {total_cpu_us: ([.bus_cpu_us, .pg_cpu_us, .nats_cpu_us] | map(. // 0) | add * 10 | round / 10)};
    {embedded_sync: summary("embedded"; "sync"), cluster_sync: summary("cluster"; "sync"),
     embedded_push: summary("embedded"; "push"), cluster_push: summary("cluster"; "push"),
     idle_one_node: $idle, runs: ., serve_embedded: $serve_emb, serve_cluster: $serve_cl, command: $gen}' "$cost_runs")
  row "cluster cost" "$r"

  scale_runs="$work/scale-runs.jsonl"
  : >"$scale_runs"
  echo "== throughput behind nginx: the embedded default and $CLUSTER_NODES cluster nodes, nothing pinned, $CLUSTER_ROUNDS rounds"
  for round in $(seq 1 "$CLUSTER_ROUNDS"); do
    for config in embedded $CLUSTER_NODES; do scale_row "$config" "$round"; done
  done
  r=$(jq -s -c --arg nodes "$CLUSTER_NODES" '
    def median: map(select(. != null)) | sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
      else (.[length / 2 - 1] + .[length / 2]) / 2 end;
    . as $all
    | {configs: ([.[].config] | unique | sort_by(if . == "embedded" then 0 else tonumber end)
        | map(. as $c | [$all[] | select(.config == $c)] as $rs
          | {config: $c, rounds: ($rs | length),
             sync_rps: ($rs | map(.sync_rps) | median), sync_p50_ms: ($rs | map(.sync_p50_ms) | median),
             sync_p99_ms: ($rs | map(.sync_p99_ms) | median), sync_errors: ($rs | map(.sync_errors) | add),
             push_rps: ($rs | map(.push_rps) | median), push_p50_ms: ($rs | map(.push_p50_ms) | median),
             push_p99_ms: ($rs | map(.push_p99_ms) | median), push_errors: ($rs | map(.push_errors) | add),
             deliveries_per_s: ($rs | map(.deliveries_per_s) | median),
             left_pending: ($rs | map(.left_pending) | add)})),
       runs: $all,
       command: "nginx (worker_processes 2, upstream of the nodes, keepalive 256) + govesb bench run --url NGINX --connections 64 --body-size 1024 [--mode push --api PUSH01]"}' "$scale_runs")
  row "cluster scale" "$r"
  for h in "${cleanup_hooks[@]}"; do eval "$h" || true; done
  cleanup_hooks=()
}
