#!/usr/bin/env bash
# PostgreSQL stopped for 10 s under load, then started again.
#
#   scripts/resilience/outage.sh
#
# A private cluster (initdb into a temp dir, its own port) so that stopping
# it disturbs nobody; the release server on it; THREADS (8) client threads of constant
# load (GET template 85 %, create revision 10 %, /readyz 5 %), one CSV row per
# request. After LOAD_BEFORE s: `pg_ctl stop -m fast`; OUTAGE s later:
# `pg_ctl start`; the load goes on for LOAD_AFTER s. Passes when every request
# made while PostgreSQL was down answered 503, none took more than 2.5 s, none
# answered 500 or went unanswered, the first success came within 5 s of the
# restart, and the server process is the same one throughout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../bench/lib.sh"

load_before=${LOAD_BEFORE:-8}
outage=${OUTAGE:-10}
load_after=${LOAD_AFTER:-15}
threads=${THREADS:-8}
out=${OUT_DIR:-$target_dir/resilience}/outage
mkdir -p "$out"

cleanup() {
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
pid=$SERVER_PID
token=$(mint org_resil)
ids=$(python3 "$here/resil.py" templates "$BASE" "$token" 20 | paste -sd,)
log "server $pid on $BASE, PostgreSQL on port $PRIV_PORT; $threads client threads for $((load_before + outage + load_after)) s"

python3 "$here/resil.py" load "$BASE" "$token" "$ids" "$out/requests.csv" \
  --threads "$threads" --seconds $((load_before + outage + load_after)) --create 10 --readyz 5 &
loader=$!
sleep "$load_before"
now() { date +%s.%N; }
{
  echo "stop_begin=$(now)"
  private_cluster_stop fast
  echo "stop_done=$(now)"
  sleep "$outage"
  echo "start_begin=$(now)"
  private_cluster_start
  echo "start_done=$(now)"
} >"$out/events.env"
log "PostgreSQL stopped and started again; waiting for the load to finish"
wait "$loader"

if kill -0 "$pid" 2>/dev/null; then
  echo "server: the same process ($pid) ran throughout"
else
  echo "server: process $pid is gone" && exit 1
fi
echo "panics in the server log: $(grep -c panicked "$out/server.log" || true)"
python3 "$here/resil.py" outage-check "$out/requests.csv" "$out/events.env"
