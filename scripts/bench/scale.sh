#!/usr/bin/env bash
# Costs that do not grow with the data (`just bench-scale`; docs/performance.md,
# "Cost that does not grow with the data").
#
#   scripts/bench/scale.sh
#
# Needs PostgreSQL on 127.0.0.1:5432 (trust auth), python3, and wrk (Debian:
# `apt-get install -y wrk`). Everything talks to 127.0.0.1 only.
#
# 1. builds the release binary and waits for a quiet machine (lib.sh);
# 2. big org beside an empty one: database bench_scale (recreated), the server
#    migrates it, then SCALE_TEMPLATES (200,000) templates of org_big are
#    inserted directly with SQL (and counted in org_counts, as the service
#    would); VACUUM ANALYZE; then wrk measures, each for SCALE_SECONDS with
#    SCALE_CONNECTIONS connections after a 2 s warm-up:
#      GET one (random) template of org_big; the first page (limit=50) of the
#      empty org, of org_big; a cursor page 150,000 deep in org_big; offset
#      pages at 100,000 and 199,950;
# 3. through the API: database bench_scale_api (recreated), SCALE_CREATES
#    (100,000) templates created in one org by SCALE_WRITERS (8) writers
#    (scale_create.py), the create rate per successive 10,000; then GET one
#    template and the first list page of that org, measured as above;
# 4. prints a markdown table and writes it to target/bench-scale.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

big=${SCALE_TEMPLATES:-200000}
creates=${SCALE_CREATES:-100000}
# The create rate is reported per SCALE_BLOCK completions.
writers=${SCALE_WRITERS:-8}
seconds=${SCALE_SECONDS:-10}
conns=${SCALE_CONNECTIONS:-4}
work="$target_dir/bench-scale"
results="$work/results.jsonl"
prefix=/v1/admin/integration-templates

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
trap stop_server EXIT

build_release
rm -rf "$work"
mkdir -p "$work"
: >"$results"
wait_quiet
new_secrets

# measure NAME TOKEN PATH [N]: a warm-up, then the measured run; one JSON line into $results.
measure() {
  local name=$1 token=$2 path=$3 n=${4:-1} out
  export SCALE_TOKEN=$token SCALE_PATH=$path SCALE_N=$n
  wrk -t2 -c"$conns" -d2s --timeout 10s -s "$here/scale.lua" "$BASE" >/dev/null
  log "$name: wrk -t2 -c$conns -d${seconds}s $path (load $(cut -d' ' -f1 /proc/loadavg))"
  out=$(wrk -t2 -c"$conns" -d"${seconds}s" --timeout 10s -s "$here/scale.lua" "$BASE" | grep '^{"requests"')
  python3 -c 'import json, sys; r = json.loads(sys.argv[1]); r["name"] = sys.argv[2]; r["load"] = sys.argv[3]; print(json.dumps(r))' \
    "$out" "$name" "$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$results" >&2
}

# --- 1. 200,000 templates inserted directly, beside an empty org -------------
db=bench_scale
dropdb --if-exists "$db" 2>/dev/null
createdb "$db"
start_server "postgres://postgres@127.0.0.1:$PGPORT/$db" "$work/data" "$work/server.log"
log "inserting $big templates into org_big"
psql -q -v ON_ERROR_STOP=1 -d "$db" <<SQL
INSERT INTO templates (id, org_id, name, name_key, vendor, latest_revision, created_at, updated_at)
SELECT 'tmpl_01' || lpad(g::text, 24, '0'), 'org_big', 'Template ' || g, 'template ' || g,
       'webhook', 0, timestamp '2026-01-01' + g * interval '1 millisecond',
       timestamp '2026-01-01' + g * interval '1 millisecond'
FROM generate_series(1, $big) g;
INSERT INTO org_counts (org_id, stripe, live_templates, live_pipelines, audit_entries)
VALUES ('org_big', 0, $big, 0, 0);
VACUUM ANALYZE;
SQL
big_token=$(mint org_big viewer)
empty_token=$(mint org_empty viewer)
deep=$((big * 3 / 4))
cursor=$(curl -fsS -H "Authorization: Bearer $big_token" "$BASE$prefix?limit=50&offset=$((deep - 50))" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["next_cursor"])')
measure get_one "$big_token" "$prefix/tmpl_01{n}" "$big"
measure list_empty_org "$empty_token" "$prefix?limit=50"
measure list_big_first "$big_token" "$prefix?limit=50"
measure "list_big_cursor_at_$deep" "$big_token" "$prefix?limit=50&cursor=$cursor"
measure list_big_offset_100000 "$big_token" "$prefix?limit=50&offset=100000"
measure "list_big_offset_$((big - 50))" "$big_token" "$prefix?limit=50&offset=$((big - 50))"
stop_server

# --- 2. 100,000 templates created through the API by 8 writers ---------------
db=bench_scale_api
dropdb --if-exists "$db" 2>/dev/null
createdb "$db"
start_server "postgres://postgres@127.0.0.1:$PGPORT/$db" "$work/data-api" "$work/server-api.log"
api_token=$(mint org_api editor)
log "creating $creates templates through the API with $writers writers"
python3 "$here/scale_create.py" "$BASE" "$api_token" "$creates" "$writers" "${SCALE_BLOCK:-10000}" |
  python3 -c 'import json, sys; r = json.loads(sys.stdin.read()); r["name"] = "create_rates"; print(json.dumps(r))' |
  tee -a "$results" >&2
one=$(psql -Atq -d "$db" -c "SELECT id FROM templates ORDER BY created_at OFFSET $((creates / 2)) LIMIT 1")
measure get_one_after_api_creates "$api_token" "$prefix/$one"
measure list_first_after_api_creates "$api_token" "$prefix?limit=50"
stop_server

python3 - "$results" <<'PY' | tee "$target_dir/bench-scale.md"
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
print("| scenario | req/s | p50 ms | p99 ms | errors | load |")
print("|---|---:|---:|---:|---:|---:|")
for r in rows:
    if r["name"] == "create_rates":
        continue
    rps = r["requests"] / (r["duration_us"] / 1e6)
    bad = r["errors"] + sum(n for s, n in r["statuses"].items() if not 200 <= int(s) < 300)
    print(f'| {r["name"]} | {rps:,.0f} | {r["p50_us"] / 1000:.2f} | {r["p99_us"] / 1000:.2f} | {bad} | {r["load"]} |')
for r in rows:
    if r["name"] == "create_rates":
        blocks = ", ".join(f"{b:,.0f}" for b in r["blocks"])
        first, last = r["blocks"][0], r["blocks"][-1]
        print(f'\ncreates/s per successive block ({r["created"]:,} created, {r["errors"]} errors, '
              f'{r["total_s"]} s): {blocks}; last/first = {last / first:.2f}')
PY
log "uptime at the end: $(uptime)"
