#!/usr/bin/env bash
# A cluster's operator tools through the real binary, on a PostgreSQL database of their own:
# `govesb cluster init`, then `govesb admin --postgres` registers an institution, two systems, an
# API and a grant and lists them, and `admin esb-key` prints the key `cluster init` printed;
# `govesb audit --postgres` verifies the empty log, then two nodes' chains (appended and sealed as
# a node does), proves and queries an exchange of each node, and names the node whose chain was
# changed. Wrong flags, key files and servers are clear errors.
# Usage: cluster_admin_test.sh PATH/TO/govesb PATH/TO/govesb_test_cluster_evidence
#        PATH/TO/govesb_test_postgres
set -euo pipefail
bin=$1
writer=$2
pg_helper=$3
work=$(mktemp -d /tmp/govesb-cluster-admin-test-XXXXXX)
own_server=""
cleanup() {
  if [ -n "$own_server" ]; then
    "$pg_helper" stop "$own_server" >/dev/null 2>&1 || true
    rm -rf "$own_server"
  fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v jq >/dev/null || fail "jq is needed: scripts/setup installs it"
command -v psql >/dev/null || fail "psql is needed: scripts/setup installs postgresql"

# The run's shared server (ctest fixture `postgres`), or one of our own.
if [ -n "${GOVESB_TEST_POSTGRES_DIR:-}" ] && [ -s "$GOVESB_TEST_POSTGRES_DIR/conninfo" ]; then
  base=$(head -n 1 "$GOVESB_TEST_POSTGRES_DIR/conninfo")
else
  # Beside $work, not in it: the server may run as another user (postgres, when we are root).
  own_server=$(mktemp -u /tmp/govesb-cluster-admin-pg-XXXXXX)
  "$pg_helper" start "$own_server" >/dev/null
  [ -s "$own_server/conninfo" ] || fail "cannot start PostgreSQL"
  base=$(head -n 1 "$own_server/conninfo")
fi
name="cli_cluster_$$_$RANDOM"
psql "$base dbname=postgres" -q -c "CREATE DATABASE $name" >/dev/null
pg="$base dbname=$name"
sql() { psql "$pg" -qAt -c "$1"; }
kek=$work/kek

expect_error() {  # expect_error NEEDLE COMMAND...: exit 1 and "error: ...NEEDLE" on stderr
  local needle=$1 rc=0
  shift
  "$@" >"$work/out" 2>"$work/err" || rc=$?
  [ "$rc" -eq 1 ] || fail "$* exited $rc, not 1: $(cat "$work/err")"
  grep -q "^error: .*$needle" "$work/err" || fail "$*: stderr was: $(cat "$work/err")"
}

# ---- the cluster's secrets ----
cluster_key=$("$bin" cluster --postgres "$pg" --json init --kek-file "$kek" |
  jq -r 'select(.created) | .bus_public_key')
[ -n "$cluster_key" ] || fail "cluster init printed no bus key"

# ---- where the state is: exactly one of --data-dir and --postgres ----
expect_error "not both" "$bin" admin --postgres "$pg" --data-dir "$work/data" institution list
[ ! -e "$work/data" ] || fail "a refused command created the data directory"
expect_error "not both" env GOVESB_DATA_DIR="$work/data" "$bin" admin --postgres "$pg" \
  institution list
expect_error "kek-file goes with --postgres" "$bin" admin --data-dir "$work/data" \
  --kek-file "$kek" institution list
expect_error "cannot connect to the cluster's PostgreSQL" "$bin" admin \
  --postgres "host=127.0.0.1 port=1 dbname=x connect_timeout=2" institution list

# ---- the registry, through admin --postgres ----
admin() { "$bin" admin --postgres "$pg" "$@"; }
admin institution add --code RITA --name "Registration Agency" --json >/dev/null
admin institution add --code MOH --name "Ministry of Health" --json >/dev/null
key1=$("$bin" keygen --json | jq -r .public_key)
key2=$("$bin" keygen --json | jq -r .public_key)
rita=$(admin system add --institution RITA --name Births --public-key "$key1" \
  --endpoint https://rita.example/esb --json 2>/dev/null | jq -r .client_id)
moh_out=$(admin system add --institution MOH --name Records --public-key "$key2" \
  --endpoint https://moh.example/esb --json 2>/dev/null)
moh=$(jq -r .client_id <<<"$moh_out")
secret=$(jq -r .client_secret <<<"$moh_out")
[ -n "$secret" ] && [ "$secret" != null ] || fail "no client secret for the new system"
admin api add --provider "$rita" --code BRTH01 --json >/dev/null
admin grant add --consumer "$moh" --api BRTH01 --json >/dev/null
expect_error "" admin grant add --consumer "$moh" --api NOSUCH

[ "$(admin institution list --json | jq -r '[.[].code] | sort | join(",")')" = "MOH,RITA" ] ||
  fail "institutions: $(admin institution list --json)"
[ "$(admin system list --json | jq length)" = 2 ] || fail "systems: $(admin system list --json)"
[ "$(admin api list --json | jq -r '.[0].code')" = BRTH01 ] || fail "apis"
admin grant list --json | jq -e --arg c "$moh" \
  'length == 1 and .[0].consumer == $c and .[0].api == "BRTH01"' >/dev/null ||
  fail "grants: $(admin grant list --json)"
admin grant list | grep -q BRTH01 || fail "the readable grant list"
# The state is in PostgreSQL, the secret only as a hash, every change in the admin journal.
[ "$(sql "SELECT count(*) FROM systems")" = 2 ] || fail "systems are not in PostgreSQL"
[ "$(sql "SELECT count(*) FROM systems WHERE secret_hash LIKE '%$secret%'")" = 0 ] ||
  fail "the client secret is stored in clear"
[ "$(sql "SELECT count(*) FROM admin_actions")" = 6 ] ||
  fail "admin actions recorded: $(sql "SELECT count(*) FROM admin_actions")"
admin deliveries --json | jq -e 'length == 0' >/dev/null || fail "deliveries"

# ---- the bus key, from the cluster's secrets ----
[ "$(admin esb-key --kek-file "$kek" --json | jq -r .public_key)" = "$cluster_key" ] ||
  fail "esb-key is not the key cluster init printed"
expect_error "kek-file" admin esb-key
head -c 32 /dev/urandom | base64 >"$work/other-kek"
chmod 600 "$work/other-kek"
expect_error "does not open the cluster's secrets" admin esb-key --kek-file "$work/other-kek"

# ---- audit --postgres on the empty log ----
audit() { "$bin" audit --postgres "$pg" "$@"; }
audit verify --kek-file "$kek" --json >"$work/verify.json" || fail "verify: $(cat "$work/verify.json")"
jq -e '.intact == true and .records == 0 and .nodes == [] and .bus_public_key == "'"$cluster_key"'"' \
  "$work/verify.json" >/dev/null || fail "empty log: $(cat "$work/verify.json")"
audit verify --kek-file "$kek" | grep -q "^intact: 0 records" || fail "readable verify"
expect_error "does not open the cluster's secrets" audit verify --kek-file "$work/other-kek"
expect_error "kek-file.*bus-key" audit verify
expect_error "not both" audit verify --data-dir "$work/data" --kek-file "$kek"
expect_error "go with --postgres" "$bin" audit verify --data-dir "$work/data" --bus-key "$cluster_key"
expect_error "not archived" audit archive

# ---- two nodes' chains ----
[ "$("$writer" "$pg" "$kek" node-1 a1111111111111111111111111111111 a2222222222222222222222222222222)" = 4 ] ||
  fail "node-1's records"
[ "$("$writer" "$pg" "$kek" node-2 b1111111111111111111111111111111)" = 2 ] ||
  fail "node-2's records"
audit verify --bus-key "$cluster_key" --json >"$work/verify.json" ||
  fail "verify: $(cat "$work/verify.json")"
jq -e '.intact and .records == 6 and .checkpoints == 2 and ([.nodes[].node] == ["node-1", "node-2"])
       and .nodes[0].records == 4 and .nodes[1].records == 2' "$work/verify.json" >/dev/null ||
  fail "two chains: $(cat "$work/verify.json")"
audit verify --kek-file "$kek" >"$work/verify.txt"
grep -q "^node node-2: intact, 2 records, 1 signed checkpoints" "$work/verify.txt" ||
  fail "readable per node: $(cat "$work/verify.txt")"
# Signed by another key: not intact.
other=$("$bin" keygen --json | jq -r .public_key)
rc=0
audit verify --bus-key "$other" >"$work/out" || rc=$?
[ "$rc" = 1 ] && grep -q TAMPERED "$work/out" || fail "another key verified: $(cat "$work/out")"

# Proofs and queries of either node's exchange.
for rid in a2222222222222222222222222222222 b1111111111111111111111111111111; do
  audit prove "$rid" --kek-file "$kek" --out "$work/$rid.proof" 2>/dev/null
  "$bin" audit check-proof "$work/$rid.proof" --esb-key "$cluster_key" --json |
    jq -e --arg r "$rid" '.valid and .request_id == $r and .records == 2' >/dev/null ||
    fail "proof of $rid"
  [ "$(audit query --request-id "$rid" --format jsonl | jq -r .kind | tr '\n' ' ')" = \
    "request response " ] || fail "query $rid"
done
expect_error "no record of exchange" audit prove ffffffffffffffffffffffffffffffff --kek-file "$kek"
[ "$(audit query --format jsonl | wc -l)" = 6 ] || fail "query all"

# A person's access report from the cluster's log, signed with its bus key (from its secrets).
alice=19900101-12345-00001-12
[ "$("$writer" "$pg" "$kek" node-3 "c1111111111111111111111111111111/$alice" \
  c2222222222222222222222222222222)" = 4 ] || fail "node-3's records"
expect_error "kek-file" audit subject "$alice"
audit subject "$alice" --kek-file "$kek" --out "$work/alice.json" 2>/dev/null
jq -e '.report.count == 1 and .report.exchanges[0].requestId == "c1111111111111111111111111111111"
       and ([.report.exchanges[0].records[].node] == ["node-3", "node-3"])
       and .report.exchanges[0].consumer.clientId == "consumer"' "$work/alice.json" >/dev/null ||
  fail "the cluster's report: $(cat "$work/alice.json")"
"$bin" audit check-report "$work/alice.json" --esb-public-key "$cluster_key" | grep -q "^valid: " ||
  fail "check-report with the cluster's key"
audit check-report "$work/alice.json" --kek-file "$kek" >"$work/out"
grep -q "^trusted key: .*, the bus key of the cluster's secrets" "$work/out" &&
  grep -q "^evidence log: the 2 records" "$work/out" || fail "check-report --postgres: $(cat "$work/out")"

# A record of node-2 changed in the database: verify names node-2, node-1 stays intact.
sql "UPDATE evidence_records SET record = replace(record, '\"size\":321', '\"size\":322')
     WHERE node = 'node-2' AND seq = 1" >/dev/null
rc=0
audit verify --kek-file "$kek" --json >"$work/verify.json" || rc=$?
[ "$rc" = 1 ] || fail "a changed record verified"
jq -e '.intact == false and .node == "node-2" and .nodes[0].intact and (.nodes[1].intact | not)
       and .nodes[1].first_bad_record == 1' "$work/verify.json" >/dev/null ||
  fail "tampered: $(cat "$work/verify.json")"
rc=0
audit verify --kek-file "$kek" >"$work/verify.txt" || rc=$?
[ "$rc" = 1 ] && grep -q "^TAMPERED: node node-2" "$work/verify.txt" ||
  fail "readable tampered: $(cat "$work/verify.txt")"

psql "$base dbname=postgres" -q -c "DROP DATABASE $name" >/dev/null 2>&1 || true
echo "ok: cluster admin and audit through --postgres"
