#!/usr/bin/env bash
# 1,000 idle connections must not starve other clients.
#
#   scripts/resilience/idle.sh
#
# The release server on a private PostgreSQL cluster. Three phases of
# SECONDS each, measuring GET template with wrk (-t1 -c8, keep-alive, opened
# after the crowd) and with a probe that opens a new connection per request
# every 20 ms:
#   baseline   nothing else connected;
#   silent     1,000 connections that connect and send nothing (the server
#              closes each after its 5 s client_request_timeout; the crowd
#              re-opens them at once, so 1,000 stay open, churning ~200/s);
#   keepalive  1,000 connections that made one request and sit idle on the
#              kept-alive connection (30 s keep-alive: none is closed here).
# Prints one JSON line per phase and measurement, and a markdown table.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../bench/lib.sh"

seconds=${SECONDS_PER_PHASE:-10}
crowd_size=${CROWD:-1000}
out=${OUT_DIR:-$target_dir/resilience}/idle
mkdir -p "$out"
crowd_pid=""

cleanup() {
  if [[ -n $crowd_pid ]]; then kill "$crowd_pid" 2>/dev/null || true; fi
  stop_server
  private_cluster_destroy
}
trap cleanup EXIT

[[ -x $binary ]] || build_release
private_cluster_init
private_cluster_start
createdb -h 127.0.0.1 -p "$PRIV_PORT" resil
new_secrets
: >"$out/server.log"
start_server "postgres://postgres@127.0.0.1:$PRIV_PORT/resil" "$PRIV_DIR/app" "$out/server.log"
token=$(mint org_resil)
template=$(python3 "$here/resil.py" templates "$BASE" "$token" 1)
data="$out/wrk-data"
mkdir -p "$data"
printf '%s\t%s\n' "$token" "$template" >"$data/targets.tsv"
echo "$token" >"$data/orgs.tsv"
echo '{}' >"$data/bodies.jsonl"

measure() {
  local phase=$1 probe_pid
  python3 "$here/resil.py" probe "$BASE" "$token" "$template" "$seconds" >"$out/$phase-probe.json" &
  probe_pid=$!
  BENCH_MODE=get BENCH_DATA=$data wrk -t1 -c8 -d"${seconds}s" --timeout 10s \
    -s "$here/../bench/scenario.lua" "$BASE" | grep '^{"requests"' >"$out/$phase-wrk.json"
  wait "$probe_pid"
  echo "$phase wrk:   $(cat "$out/$phase-wrk.json")"
  echo "$phase probe: $(cat "$out/$phase-probe.json")"
}

start_crowd() {
  local mode=$1
  : >"$out/$mode-crowd.log"
  python3 "$here/resil.py" crowd "$BASE" "$crowd_size" $((seconds + 15)) "$mode" 2>"$out/$mode-crowd.log" &
  crowd_pid=$!
  for _ in $(seq 1 300); do
    grep -q 'connections open' "$out/$mode-crowd.log" && break
    sleep 0.1
  done
  sleep 2
  echo "$mode crowd: $(head -1 "$out/$mode-crowd.log"); server has $(ss -Htn state established "( sport = :${BASE##*:} )" | wc -l) established connections"
}

stop_crowd() {
  kill -TERM "$crowd_pid" 2>/dev/null || true
  wait "$crowd_pid" 2>/dev/null || true
  crowd_pid=""
}

wait_idle_cpu
log "load average $(cut -d' ' -f1-3 /proc/loadavg); CPU ${IDLE_BUSY}% busy with our server idle"
measure baseline
for mode in silent keepalive; do
  start_crowd "$mode"
  measure "$mode"
  stop_crowd
  cat "$out/$mode-crowd.log"
done

python3 - "$out" <<'PY'
import json, sys, os
out = sys.argv[1]
print("\n| phase | wrk rps | wrk p50 ms | wrk p99 ms | wrk p99.9 ms | wrk errors | new-connection probe p50 / p99 / max ms | probe errors |")
print("| --- | --: | --: | --: | --: | --: | --- | --: |")
for phase in ["baseline", "silent", "keepalive"]:
    w = json.load(open(os.path.join(out, f"{phase}-wrk.json")))
    p = json.load(open(os.path.join(out, f"{phase}-probe.json")))
    errors = w["socket_errors"] + w["timeouts"] + sum(v for k, v in w["statuses"].items() if k != "200")
    rps = w["requests"] / (w["duration_us"] / 1e6)
    print(f"| {phase} | {rps:,.0f} | {w['p50_us']/1000:.2f} | {w['p99_us']/1000:.2f} | {w['p999_us']/1000:.2f} "
          f"| {errors} | {p['p50_ms']} / {p['p99_ms']} / {p['max_ms']} | {p['errors']} |")
PY
