#!/usr/bin/env bash
# HTTP load benchmark of the release build (`just bench-http`).
#
#   scripts/bench/bench.sh
#
# 1. builds the release binary; waits until the machine is quiet;
# 2. prints the fingerprint (fingerprint.sh): nproc, CPU, pgbench limits;
# 3. for PostgreSQL (database bench_integrations on 127.0.0.1:5432, recreated)
#    and for the SQLite default (a fresh DATA_DIR): starts the server on a free
#    loopback port, seeds ORGS × TEMPLATES × REVISIONS through the API
#    (seed.py), and runs each scenario with wrk (scenario.lua): a warm-up, then
#    the measured run;
# 4. writes a markdown table to stdout and to target/bench-results.md.
#
# Knobs (environment): BENCH_BACKENDS="postgres sqlite", BENCH_ORGS=100,
# BENCH_TEMPLATES=100, BENCH_REVISIONS=10, BENCH_SECONDS=15, BENCH_WARMUP=3,
# BENCH_SCENARIOS="get list revisions create hot mix", BENCH_RESEED=1 (0 reuses
# the dataset and secrets of the previous run under target/bench),
# BENCH_MAX_LOAD=1.0 and BENCH_WAIT_MAX=900 (wait for a quiet machine).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

backends=${BENCH_BACKENDS:-postgres sqlite}
scenarios=${BENCH_SCENARIOS:-get list revisions create hot mix}
orgs=${BENCH_ORGS:-100}
templates=${BENCH_TEMPLATES:-100}
revisions=${BENCH_REVISIONS:-10}
seconds=${BENCH_SECONDS:-15}
warmup=${BENCH_WARMUP:-3}
reseed=${BENCH_RESEED:-1}
pg_db=bench_integrations
work="$target_dir/bench"
results="$work/results.jsonl"
started=$(date +%s)

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
trap stop_server EXIT

build_release
mkdir -p "$work"
: >"$results"
wait_quiet
bash "$here/fingerprint.sh" | tee "$work/fingerprint.env"

if [[ $reseed == 1 || ! -f "$work/secrets.env" ]]; then
  new_secrets
  printf 'JWT_SECRET=%q\nENCRYPTION_KEY=%q\n' "$JWT_SECRET" "$ENCRYPTION_KEY" >"$work/secrets.env"
fi
set -a
source "$work/secrets.env"
set +a

connections_for() {
  case $1 in
    hot) echo 16 ;;
    *) echo 32 ;;
  esac
}

# run_scenario BACKEND SCENARIO DATA LOGFILE: warm-up, measured run, one JSON line into $results.
run_scenario() {
  local backend=$1 scenario=$2 data=$3 logfile=$4 mode=$2 spread=1000 conns load log_from out
  [[ $scenario == hot ]] && { mode=create; spread=1; }
  conns=$(connections_for "$scenario")
  export BENCH_MODE=$mode BENCH_DATA=$data BENCH_SPREAD=$spread
  wrk -t2 -c"$conns" -d"${warmup}s" --timeout 10s -s "$here/scenario.lua" "$BASE" >/dev/null
  load="$(cut -d' ' -f1 /proc/loadavg), idle-CPU check ${IDLE_BUSY:-?}% busy"
  log_from=$(stat -c %s "$logfile")
  log "$backend $scenario: wrk -t2 -c$conns -d${seconds}s (load $load)"
  out=$(wrk -t2 -c"$conns" -d"${seconds}s" --timeout 10s -s "$here/scenario.lua" "$BASE" | grep '^{"requests"')
  local locked
  locked=$(tail -c +"$((log_from + 1))" "$logfile" | grep -c 'database is locked' || true)
  python3 - "$out" "$backend" "$scenario" "$conns" "$locked" "$load" >>"$results" <<'PY'
import json, sys
run = json.loads(sys.argv[1])
run.update(backend=sys.argv[2], scenario=sys.argv[3], connections=int(sys.argv[4]),
           locked=int(sys.argv[5]), load_before=sys.argv[6])
run["rps"] = run["requests"] / (run["duration_us"] / 1e6)
kinds = {k: v for k, v in run["statuses"].items() if not 200 <= int(k) < 300}
if run["socket_errors"]:
    kinds["socket"] = run["socket_errors"]
if run["timeouts"]:
    kinds["timeout"] = run["timeouts"]
run["error_kinds"] = kinds
run["errors"] = sum(kinds.values())
print(json.dumps(run))
PY
  tail -1 "$results" >&2
}

for backend in $backends; do
  data="$work/$backend"
  logfile="$work/$backend-server.log"
  case $backend in
    postgres)
      url="postgres://postgres@127.0.0.1:$PGPORT/$pg_db"
      if [[ $reseed == 1 || ! -f "$data/targets.tsv" ]]; then
        dropdb --if-exists "$pg_db" 2>/dev/null
        createdb "$pg_db"
        rm -rf "$data"
      fi
      ;;
    sqlite)
      url="sqlite://$data/db/integrations.db"
      [[ $reseed == 1 || ! -f "$data/targets.tsv" ]] && rm -rf "$data"
      ;;
    *) echo "unknown backend $backend" >&2; exit 1 ;;
  esac
  mkdir -p "$data"
  : >"$logfile"
  start_server "$url" "$data/db" "$logfile"
  log "$backend: server pid $SERVER_PID on $BASE"
  if [[ ! -f "$data/targets.tsv" ]]; then
    for i in $(seq 1 "$orgs"); do
      printf 'org_%d\t%s\n' "$i" "$(mint "org_$i")"
    done >"$data/tokens.tsv"
    log "$backend: seeding $orgs orgs × $templates templates × $revisions revisions"
    seed_started=$(date +%s)
    python3 "$here/seed.py" "$BASE" "$data/tokens.tsv" "$data" "$orgs" "$templates" "$revisions"
    echo "$backend seed: $(($(date +%s) - seed_started)) s" >>"$work/timings.txt"
  fi
  if [[ $backend == postgres ]]; then
    psql -q -d "$pg_db" -c 'VACUUM ANALYZE' 2>/dev/null
  fi
  for scenario in $scenarios; do
    wait_idle_cpu
    run_scenario "$backend" "$scenario" "$data" "$logfile"
  done
  stop_server
done

python3 "$here/report.py" "$work/fingerprint.env" "$results" | tee "$target_dir/bench-results.md"
log "bench-http took $(($(date +%s) - started)) s; results in $target_dir/bench-results.md"
