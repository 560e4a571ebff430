#!/usr/bin/env bash
# kill -9 of the server in the middle of write load, then a restart.
#
#   scripts/resilience/kill9.sh            # PostgreSQL (private cluster) and SQLite
#   BACKENDS=sqlite scripts/resilience/kill9.sh
#
# For each backend and each shape (16 writers on one hot template; 16 writers
# spread over 200 templates), CYCLES times: start the server, write for
# KILL_AFTER s, `kill -9` it while requests are in flight, restart it on the
# same database, and check through the API that every revision whose 201 the
# clients received exists with the number and id they were told, and that
# every template's numbers are exactly 1..N.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../bench/lib.sh"

backends=${BACKENDS:-postgres sqlite}
cycles=${CYCLES:-3}
kill_after=${KILL_AFTER:-4}
out_root=${OUT_DIR:-$target_dir/resilience}/kill9
rm -rf "$out_root"
mkdir -p "$out_root"

cleanup() {
  if [[ -n "${SERVER_PID:-}" ]]; then kill -9 "$SERVER_PID" 2>/dev/null || true; fi
  private_cluster_destroy
  rm -rf "${sqlite_dir:-}"
}
trap cleanup EXIT

[[ -x $binary ]] || build_release
new_secrets
failed=0
for backend in $backends; do
  case $backend in
    postgres)
      private_cluster_init
      private_cluster_start
      createdb -h 127.0.0.1 -p "$PRIV_PORT" resil
      url="postgres://postgres@127.0.0.1:$PRIV_PORT/resil"
      data_dir="$PRIV_DIR/app"
      ;;
    sqlite)
      sqlite_dir=$(mktemp -d)
      data_dir="$sqlite_dir"
      url="sqlite://$sqlite_dir/integrations.db"
      ;;
  esac
  out="$out_root/$backend"
  mkdir -p "$out"
  start_server "$url" "$data_dir" "$out/server.log"
  token=$(mint org_resil)
  hot=$(python3 "$here/resil.py" templates "$BASE" "$token" 1)
  spread=$(python3 "$here/resil.py" templates "$BASE" "$token" 200 | paste -sd,)
  for shape in hot spread; do
    ids=$hot
    [[ $shape == spread ]] && ids=$spread
    for cycle in $(seq 1 "$cycles"); do
      python3 "$here/resil.py" load "$BASE" "$token" "$ids" "$out/$shape-$cycle.csv" \
        --threads 16 --seconds $((kill_after + 1)) --create 100 &
      loader=$!
      sleep "$kill_after"
      kill -9 "$SERVER_PID"
      wait "$SERVER_PID" 2>/dev/null || true
      wait "$loader"
      acked=$(grep -c ',create,.*,201,' "$out/$shape-$cycle.csv" || true)
      log "$backend $shape cycle $cycle: killed with 16 writers in flight; $acked 201s received"
      start_server "$url" "$data_dir" "$out/server.log"
      echo "== $backend, $shape, after kill $cycle"
      python3 "$here/resil.py" kill-check "$BASE" "$token" "$out"/$shape-*.csv || failed=1
    done
  done
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  [[ $backend == postgres ]] && private_cluster_destroy
done
exit $failed
