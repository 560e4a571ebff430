# Shared helpers for scripts/bench and scripts/resilience. Source it; do not run it.
# Everything here talks to 127.0.0.1 only.

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$repo_root/target}
binary="$target_dir/release/integrations"
pg_bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
# The shared PostgreSQL the benchmark uses (never anything but loopback).
PGHOST=127.0.0.1
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
export PGHOST PGPORT PGUSER

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

build_release() {
  log "building release: cargo build --release -p integrations-server"
  (cd "$repo_root" && cargo build --quiet --release -p integrations-server)
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Secrets for a run: the server and `integrations token` must see the same ones.
new_secrets() {
  JWT_SECRET=$(head -c 48 /dev/urandom | base64 -w0)
  ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64 -w0)
  export JWT_SECRET ENCRYPTION_KEY
}

# start_server DATABASE_URL DATA_DIR LOGFILE: starts the release binary on a
# free loopback port; sets SERVER_PID and BASE. Waits for /readyz.
start_server() {
  local url=$1 data_dir=$2 logfile=$3 port
  port=${SERVER_PORT:-$(free_port)}
  mkdir -p "$data_dir"
  DATABASE_URL="$url" DATA_DIR="$data_dir" LISTEN_ADDR="127.0.0.1:$port" \
    RATE_LIMIT_PER_MINUTE=0 MAX_HELD_REQUESTS_PER_USER=0 LOG_FORMAT=json RUST_LOG="${SERVER_RUST_LOG:-warn}" \
    "$binary" serve >>"$logfile" 2>&1 &
  SERVER_PID=$!
  BASE="http://127.0.0.1:$port"
  for _ in $(seq 1 200); do
    if curl -fsS -o /dev/null "$BASE/readyz" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      log "the server exited; its log:"
      tail -20 "$logfile" >&2
      return 1
    fi
    sleep 0.1
  done
  log "the server did not become ready on $BASE"
  return 1
}

stop_server() {
  if [[ -n "${SERVER_PID:-}" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}

# mint ORG [ROLE]: an access token for ORG, signed with this run's JWT_SECRET.
mint() {
  DATA_DIR=/nonexistent "$binary" token --org "$1" --sub bench --role "${2:-editor}" --ttl 7200
}

# wait_quiet: the machine has 2 cores; numbers taken while other builds run
# are worthless. Waits (up to BENCH_WAIT_MAX seconds) until the 1-minute load
# average is below BENCH_MAX_LOAD, then reports it.
wait_quiet() {
  local max=${BENCH_MAX_LOAD:-1.0} waited=0 limit=${BENCH_WAIT_MAX:-900} load
  while :; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    if python3 -c "import sys; sys.exit(0 if $load < $max else 1)"; then
      break
    fi
    if ((waited >= limit)); then
      log "load average still $load after ${waited}s; measuring anyway (the numbers will say so)"
      break
    fi
    log "load average $load > $max: waiting 60 s"
    sleep 60
    waited=$((waited + 60))
  done
  log "load average before measuring: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# cpu_busy SECONDS: percent of all CPU time not idle over the next SECONDS.
cpu_busy() {
  local a b
  a=$(head -1 /proc/stat)
  sleep "${1:-3}"
  b=$(head -1 /proc/stat)
  python3 -c '
import sys
a = list(map(int, sys.argv[1].split()[1:])); b = list(map(int, sys.argv[2].split()[1:]))
d = [y - x for x, y in zip(a, b)]
idle = d[3] + d[4]
print(round(100 * (1 - idle / max(1, sum(d)))))' "$a" "$b"
}

# wait_idle_cpu: between scenarios our own load inflates the load average, so
# check instead that the CPUs are idle while our server is: others' work shows
# up here. Waits up to BENCH_WAIT_MAX seconds for busy <= BENCH_MAX_BUSY percent.
wait_idle_cpu() {
  local max=${BENCH_MAX_BUSY:-15} waited=0 limit=${BENCH_WAIT_MAX:-900} busy
  while :; do
    busy=$(cpu_busy 3)
    ((busy <= max)) && break
    if ((waited >= limit)); then
      log "CPU still ${busy}% busy after ${waited}s; measuring anyway"
      break
    fi
    log "CPU ${busy}% busy with our server idle: other work is running; waiting 30 s"
    sleep 30
    waited=$((waited + 30))
  done
  IDLE_BUSY=$busy
}

# Private PostgreSQL cluster (for tests that stop PostgreSQL): sets PRIV_DIR,
# PRIV_PORT, PRIV_URL. Runs as the postgres user when we are root.
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

private_cluster_init() {
  PRIV_DIR=$(mktemp -d /tmp/integrations-pg.XXXXXX)
  chmod 755 "$PRIV_DIR"
  [[ $(id -u) -eq 0 ]] && chown postgres "$PRIV_DIR"
  PRIV_PORT=$(free_port)
  as_pg "$pg_bin/initdb" -D "$PRIV_DIR/data" -U postgres --auth=trust -E UTF8 >"$PRIV_DIR/initdb.log" 2>&1
  cat >>"$PRIV_DIR/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PRIV_PORT
unix_socket_directories = '$PRIV_DIR'
max_connections = 100
EOF
  PRIV_URL="postgres://postgres@127.0.0.1:$PRIV_PORT/postgres"
}

private_cluster_start() {
  as_pg "$pg_bin/pg_ctl" -D "$PRIV_DIR/data" -l "$PRIV_DIR/server.log" -w -t 30 start >/dev/null
}

private_cluster_stop() {
  as_pg "$pg_bin/pg_ctl" -D "$PRIV_DIR/data" -m "${1:-fast}" -w -t 30 stop >/dev/null
}

private_cluster_destroy() {
  if [[ -n "${PRIV_DIR:-}" && -d "$PRIV_DIR" ]]; then
    if [[ -f "$PRIV_DIR/data/postmaster.pid" ]]; then
      as_pg "$pg_bin/pg_ctl" -D "$PRIV_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$PRIV_DIR"
  fi
}
