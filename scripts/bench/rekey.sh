#!/usr/bin/env bash
# Key-rotation throughput (`just bench-rekey`; docs/performance.md, "Key rotation").
#
#   scripts/bench/rekey.sh
#
# Needs PostgreSQL on 127.0.0.1:5432 (trust auth), python3 and curl.
# 1. builds the release binary and waits for a quiet machine (lib.sh);
# 2. database bench_rekey (recreated); the server, under key A, stores
#    REKEY_PIPELINES (1,000) pipelines of 100 secret parameters each through
#    the API: 100,000 sealed values;
# 3. with the server stopped, `integrations rekey --batch REKEY_BATCH` under
#    ENCRYPTION_KEYS=new:B,A re-seals them all; its wall time gives values per
#    second; `integrations keys` then shows key A sealing nothing;
# 4. a second `rekey` finds nothing to do (its time is the cost of a check).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

pipelines=${REKEY_PIPELINES:-1000}
batch=${REKEY_BATCH:-500}
work="$target_dir/bench-rekey"
db=bench_rekey
trap stop_server EXIT

build_release
rm -rf "$work"
mkdir -p "$work"
wait_quiet
new_secrets
old_key=$ENCRYPTION_KEY
new_key=$(head -c 32 /dev/urandom | base64 -w0)
url="postgres://postgres@127.0.0.1:5432/$db"
psql -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"

start_server "$url" "$work/data" "$work/server.log"
token=$(mint org_rekey editor)
log "storing $pipelines pipelines of 100 secret parameters each"
python3 - "$BASE" "$token" "$pipelines" <<'PY'
import json, sys, urllib.request, concurrent.futures as cf
base, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def create(i):
    body = {"name": f"P{i}", "secret_parameters": {f"k{j}": f"secret-{i}-{j}-" + "x" * 24 for j in range(100)}}
    req = urllib.request.Request(f"{base}/v1/admin/pipelines", data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req) as r:
        assert r.status == 201, r.status
with cf.ThreadPoolExecutor(4) as pool:
    list(pool.map(create, range(n)))
PY
stop_server
unset ENCRYPTION_KEY
export DATABASE_URL=$url DATA_DIR="$work/data" RUST_LOG=warn
export ENCRYPTION_KEYS="new:$new_key,$old_key"
"$binary" keys | tee "$work/keys-before.txt" >&2
log "rekey --batch $batch (load $(cut -d' ' -f1 /proc/loadavg))"
start=$(date +%s.%N)
"$binary" rekey --batch "$batch" >"$work/rekey.txt"
end=$(date +%s.%N)
again_start=$(date +%s.%N)
"$binary" rekey --batch "$batch" >"$work/rekey-again.txt"
again_end=$(date +%s.%N)
"$binary" keys | tee "$work/keys-after.txt" >&2
python3 - "$start" "$end" "$again_start" "$again_end" "$work" "$batch" <<'PY'
import re, sys
start, end, a0, a1, work, batch = sys.argv[1:7]
secs = float(end) - float(start)
text = open(f"{work}/rekey.txt").read()
n = int(re.search(r"re-sealed (\d+) values", text).group(1))
again = int(re.search(r"re-sealed (\d+) values", open(f"{work}/rekey-again.txt").read()).group(1))
report = (f"| rekey of {n:,} sealed values (PostgreSQL, --batch {batch}) | {secs:.1f} s | "
          f"{n / secs:,.0f} values/s |\n"
          f"| a second rekey (nothing left: {again} re-sealed) | {float(a1) - float(a0):.2f} s | — |\n")
print(report, end="")
open(f"{work}/results.md", "w").write(report)
PY
