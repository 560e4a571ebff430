#!/usr/bin/env bash
# Rollout latency (`just bench-rollouts`; results in docs/performance.md):
# preview and apply of a rollout over 100 pipelines with medium configs, on
# PostgreSQL (database bench_rollouts, recreated) with the release build,
# one request at a time.
#
#   scripts/bench/rollouts.sh
#
# Knobs: ROLLOUT_PIPELINES=100, ROLLOUT_PREVIEWS=200, ROLLOUT_APPLIES=100,
# BENCH_MAX_LOAD, BENCH_WAIT_MAX (wait for a quiet machine; lib.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

db=bench_rollouts
work="$target_dir/bench-rollouts"
trap stop_server EXIT

build_release
rm -rf "$work" && mkdir -p "$work"
wait_quiet
new_secrets
log "PostgreSQL: recreating $db"
dropdb --if-exists "$db" 2>/dev/null
createdb "$db"
start_server "postgres://$PGUSER@$PGHOST:$PGPORT/$db" "$work/data" "$work/server.log"
token=$(mint org_rollouts editor)
python3 "$here/rollouts.py" --base "$BASE" --token "$token" \
  --pipelines "${ROLLOUT_PIPELINES:-100}" --previews "${ROLLOUT_PREVIEWS:-200}" \
  --applies "${ROLLOUT_APPLIES:-100}" | tee "$work/results.json"
