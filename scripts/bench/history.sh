#!/usr/bin/env bash
# A pipeline's config at a past instant (`GET …/pipelines/{id}/config?at=`)
# on PostgreSQL, release build (results in docs/performance.md).
#
#   scripts/bench/history.sh
#
# Database bench_history on 127.0.0.1:5432 (recreated). One pipeline with two
# templates attached, then 1,000 recorded changes (parameters, secret
# parameters, re-pins, enable/disable, in turn); then HISTORY_REQUESTS (2,000)
# sequential `?at=` requests at random instants among those changes, as
# `service` and as a viewer: p50/p99/max in ms, measured by the client.
# Knobs: HISTORY_CHANGES=1000, HISTORY_REQUESTS=2000, BENCH_MAX_LOAD,
# BENCH_WAIT_MAX (wait for a quiet machine; lib.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

db=bench_history
work="$target_dir/bench-history"
trap stop_server EXIT

build_release
rm -rf "$work" && mkdir -p "$work"
new_secrets
log "PostgreSQL: recreating $db"
psql -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
start_server "postgres://postgres@127.0.0.1:5432/$db" "$work/data" "$work/server.log"
wait_quiet
python3 "$here/history.py" --base "$BASE" --token "$(mint org_bench editor)" \
  --service "$(mint org_bench service)" --viewer "$(mint org_bench viewer)" \
  --changes "${HISTORY_CHANGES:-1000}" --requests "${HISTORY_REQUESTS:-2000}"
