#!/usr/bin/env bash
# The change feed under load (`just bench-watch`; results in docs/performance.md).
#
#   scripts/bench/watch.sh
#
# On PostgreSQL (database bench_watch on 127.0.0.1:5432, recreated), with the
# release build:
# 1. change → waiter latency: 50 long-polling waiters, 200 changes 50 ms
#    apart, waiters on the writing process, then on a second process;
#    the same on SQLite (one process);
# 2. 10,000 waiting requests on one process (config watches, held 150 s):
#    its RSS and the database's connections while they wait, and the
#    GET-template rate beside them against the rate without them;
# 3. unchanged-config polls (If-None-Match → 304 from memory) with wrk,
#    against `pgbench -S` in the same run.
# Knobs: WATCH_WAITERS=10000, WATCH_SECONDS=10 (each wrk run), BENCH_MAX_LOAD,
# BENCH_WAIT_MAX (wait for a quiet machine; lib.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

waiters=${WATCH_WAITERS:-10000}
seconds=${WATCH_SECONDS:-10}
db=bench_watch
work="$target_dir/bench-watch"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  stop_server
}
trap cleanup EXIT

build_release
rm -rf "$work" && mkdir -p "$work"
ulimit -n "$(ulimit -Hn)"
wait_quiet
new_secrets

# start NAME URL: a server; sets <NAME>_PID and <NAME>_BASE.
start() {
  start_server "$2" "$work/$1-data" "$work/$1.log"
  printf -v "${1}_PID" '%s' "$SERVER_PID"
  printf -v "${1}_BASE" '%s' "$BASE"
  pids+=("$SERVER_PID")
  SERVER_PID=""
}

# fixture BASE TOKEN: a pipeline with a template attached; prints its id.
fixture() {
  local base=$1 token=$2 pipeline installed template revision
  pipeline=$(curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"name": "watched", "parameters": {"pixel_id": "1234567890"}}' "$base/v1/admin/pipelines" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  installed=$(curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"name": "meta", "config": {"pixel_id": "{{pipeline_param.pixel_id}}", "access_token": "EAAB-bench"}}' \
    "$base/v1/admin/integration-catalog/meta_capi/install")
  template=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["template"]["id"])' <<<"$installed")
  revision=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["revision"]["id"])' <<<"$installed")
  curl -fsS -o /dev/null -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d "{\"integration_id\": \"$template\", \"revision_id\": \"$revision\"}" \
    "$base/v1/admin/pipelines/$pipeline/integrations"
  echo "$pipeline $template"
}

etag_of() {
  curl -fsS -D - -o /dev/null -H "Authorization: Bearer $2" "$1/v1/admin/pipelines/$3/config" |
    tr -d '\r' | sed -n 's/^etag: //Ip'
}

rps() { python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); print(round(r["requests"]/r["seconds"]))'; }
wrk_get() { # wrk_get URL TOKEN [HEADER]: JSON {requests, seconds} of a wrk run
  local extra=()
  [[ -n "${3:-}" ]] && extra=(-H "$3")
  wrk -t2 -c32 -d"${seconds}s" --timeout 10s -H "Authorization: Bearer $2" "${extra[@]}" "$1" |
    python3 -c 'import re,sys; t=sys.stdin.read(); n=int(re.search(r"(\d+) requests in", t).group(1)); s=float(re.search(r"requests in ([\d.]+)s", t).group(1)); bad=re.search(r"Non-2xx or 3xx responses: (\d+)", t); print("{\"requests\": %d, \"seconds\": %s, \"non_2xx_3xx\": %s}" % (n, s, bad.group(1) if bad else 0))'
}

log "PostgreSQL: recreating $db"
dropdb --if-exists "$db" 2>/dev/null
createdb "$db"
pg_url="postgres://$PGUSER@$PGHOST:$PGPORT/$db"

# 1. Latency.
start A "$pg_url"
start B "$pg_url"
token=$(mint org_watch editor)
read -r pipeline template < <(fixture "$A_BASE" "$token")
log "latency: waiters on the writing process"
same=$(python3 "$here/watch.py" latency --writer "$A_BASE" --readers "$A_BASE" --token "$token" --pipeline "$pipeline")
log "latency: waiters on another process"
cross=$(python3 "$here/watch.py" latency --writer "$A_BASE" --readers "$B_BASE" --token "$token" --pipeline "$pipeline")
kill -TERM "$A_PID" "$B_PID"; wait "$A_PID" "$B_PID" 2>/dev/null || true; pids=()

log "SQLite: latency, one process"
start S "sqlite://$work/sqlite.db"
read -r s_pipeline _ < <(fixture "$S_BASE" "$token")
sqlite_same=$(python3 "$here/watch.py" latency --writer "$S_BASE" --readers "$S_BASE" --token "$token" --pipeline "$s_pipeline")
kill -TERM "$S_PID"; wait "$S_PID" 2>/dev/null || true; pids=()

# 2. 10,000 waiting requests on a fresh process.
start A "$pg_url"
etag=$(etag_of "$A_BASE" "$token" "$pipeline")
get_url="$A_BASE/v1/admin/integration-templates/$template"
log "GET template without waiters"
alone=$(wrk_get "$get_url" "$token")
rss_before=$(awk '/VmRSS/ {print $2}' "/proc/$A_PID/status")
log "holding $waiters config watches"
python3 "$here/watch.py" hold --base "$A_BASE" --token "$token" --pipeline "$pipeline" \
  --etag "$etag" --count "$waiters" --seconds 150 --ready "$work/held" >"$work/hold.json" &
hold_pid=$!
pids+=("$hold_pid")
for _ in $(seq 1 120); do [[ -s "$work/held" ]] && break; sleep 1; done
waiting_metric() { curl -fsS "$A_BASE/metrics" | awk '/^feed_waiting_requests / {print $2}'; }
log "GET template beside $(waiting_metric) waiting requests"
beside=$(wrk_get "$get_url" "$token")
# Idle pool connections close after 60 s unused (reaped every 30 s).
sleep 100
held_now=$(waiting_metric)
rss_held=$(awk '/VmRSS/ {print $2}' "/proc/$A_PID/status")
connections=$(psql -qtAX -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db' AND backend_type = 'client backend'")
listening=$(psql -qtAX -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db' AND application_name = 'integrations-listener'")
wait "$hold_pid" || true
log "GET template after the waiters"
after=$(wrk_get "$get_url" "$token")

# 3. Unchanged-config polls answered from memory, against pgbench -S.
log "If-None-Match polls (304)"
polls=$(wrk_get "$A_BASE/v1/admin/pipelines/$pipeline/config" "$token" "If-None-Match: $etag")
from_memory=$(curl -fsS "$A_BASE/metrics" | awk '/^feed_config_polls_answered_from_memory_total / {print $2}')
kill -TERM "$A_PID"; wait "$A_PID" 2>/dev/null || true; pids=()
log "pgbench -S -c 8 -j 2 -T $seconds"
dropdb --if-exists bench_pgbench 2>/dev/null; createdb bench_pgbench
pgbench -i -q bench_pgbench >/dev/null 2>&1
pg_select=$(pgbench -S -c 8 -j 2 -T "$seconds" bench_pgbench 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | cut -d. -f1)

cat <<EOF | tee "$work/results.md"
| measure | result |
| --- | --- |
| latency, waiters on the writing process (PostgreSQL) | $same |
| latency, waiters on another process (PostgreSQL) | $cross |
| latency, one process (SQLite) | $sqlite_same |
| GET template, no waiters | $(rps <<<"$alone") rps ($alone) |
| GET template beside $waiters waiters | $(rps <<<"$beside") rps ($beside) |
| GET template after the waiters left | $(rps <<<"$after") rps ($after) |
| waiting requests after 100 s | $held_now ($(cat "$work/hold.json")) |
| RSS before / with the waiters | $((rss_before / 1024)) MiB / $((rss_held / 1024)) MiB |
| database connections while waiting | $connections (of which listening: $listening) |
| If-None-Match polls (304) | $(rps <<<"$polls") rps ($polls), answered from memory: $from_memory |
| pgbench -S -c 8 | $pg_select tps |
EOF
