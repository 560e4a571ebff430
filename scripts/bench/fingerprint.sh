#!/usr/bin/env bash
# The machine's fingerprint: the limits every HTTP scenario is compared to.
#   - nproc, CPU model, load average;
#   - PostgreSQL: `pgbench -S -c 8 -T 10` (primary-key reads);
#   - PostgreSQL: the raw revision transaction (bump a counter row, insert a
#     ~3 KB row) as a custom pgbench script, spread over 1,000 counters with
#     32 clients and hot on one counter with 16 clients;
#   - SQLite (python3's sqlite3, one connection, WAL, synchronous=NORMAL as
#     the service sets it): the same point read and revision transaction.
# Prints `key=value` lines on stdout (bench.sh reads them); details on stderr.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

seconds=${FINGERPRINT_SECONDS:-10}
db=bench_pgbench
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"; dropdb --if-exists "$db" 2>/dev/null || true' EXIT

echo "nproc=$(nproc)"
echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
echo "postgres=$(psql -Atc 'show server_version')"

dropdb --if-exists "$db" 2>/dev/null
createdb "$db"
pgbench -i -q "$db" >/dev/null 2>&1

tps() { sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | head -1; }

log "pgbench -S -c 8 -T $seconds"
echo "pg_select_tps=$(pgbench -S -c 8 -T "$seconds" "$db" 2>/dev/null | tps)"

psql -q -d "$db" <<'SQL'
CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL DEFAULT 0);
INSERT INTO counters (id) SELECT g FROM generate_series(1, 1000) g;
CREATE TABLE revs (id bigserial PRIMARY KEY, counter_id int NOT NULL, n int NOT NULL,
                   config text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
                   UNIQUE (counter_id, n));
SQL

# The revision transaction: the counter row's lock orders writers per
# template; the insert carries a config-sized payload.
write_script() {
  cat >"$scratch/$1.sql" <<EOF
\\set id $2
BEGIN;
UPDATE counters SET n = n + 1 WHERE id = :id RETURNING n \\gset
INSERT INTO revs (counter_id, n, config) VALUES (:id, :n, repeat('x', 3000));
COMMIT;
EOF
}
write_script spread 'random(1, 1000)'
write_script hot 1

log "pgbench revision transaction, spread over 1,000 counters, -c 32"
echo "pg_revision_spread_tps=$(pgbench -n -c 32 -j 2 -T "$seconds" -f "$scratch/spread.sql" "$db" 2>/dev/null | tps)"
log "pgbench revision transaction, one hot counter, -c 16"
echo "pg_revision_hot_tps=$(pgbench -n -c 16 -j 2 -T "$seconds" -f "$scratch/hot.sql" "$db" 2>/dev/null | tps)"

log "SQLite point read and revision transaction (python3 sqlite3)"
python3 - "$scratch/fp.db" "$seconds" <<'PY'
import sqlite3, sys, time, random
path, seconds = sys.argv[1], float(sys.argv[2]) / 2
db = sqlite3.connect(path, isolation_level=None)
db.executescript("""
PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;
CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0, name TEXT);
CREATE TABLE revs (id INTEGER PRIMARY KEY, counter_id INTEGER NOT NULL, n INTEGER NOT NULL,
                   config TEXT NOT NULL, UNIQUE (counter_id, n));
""")
db.execute("BEGIN")
db.executemany("INSERT INTO counters (id, name) VALUES (?, ?)",
               ((i, f"template {i}") for i in range(1, 10001)))
db.execute("COMMIT")

def rate(fn):
    n, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(100):
            fn()
        n += 100
    return n / seconds

def read():
    db.execute("SELECT * FROM counters WHERE id = ?", (random.randint(1, 10000),)).fetchone()

payload = "x" * 3000
def write():
    cid = random.randint(1, 1000)
    db.execute("BEGIN IMMEDIATE")
    n = db.execute("UPDATE counters SET n = n + 1 WHERE id = ? RETURNING n", (cid,)).fetchone()[0]
    db.execute("INSERT INTO revs (counter_id, n, config) VALUES (?, ?, ?)", (cid, n, payload))
    db.execute("COMMIT")

print(f"sqlite_select_tps={rate(read):.0f}")
print(f"sqlite_revision_tps={rate(write):.0f}")
PY
echo "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
