#!/usr/bin/env bash
# Schemathesis (property-based API testing, from PyPI) against the live server
# and its own OpenAPI document, every check: no 5xx, every status, header and
# body as documented, invalid input refused, valid input accepted.
#
# Starts the `integrations` binary with no configuration on a fresh embedded
# SQLite database and a free port, takes the owner token it prints, runs
# schemathesis, stops the server. Exits non-zero on any failure.
#
#   scripts/schemathesis.sh                      # the short run (about two minutes)
#   MAX_EXAMPLES=200 MAX_TIME=900 scripts/schemathesis.sh   # a longer one
#   scripts/schemathesis.sh --seed 42            # extra arguments go to `schemathesis run`
#
# The virtualenv lives under the cargo target directory; set SCHEMATHESIS to
# the absolute path of a schemathesis executable of your own to use that instead.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
MAX_EXAMPLES=${MAX_EXAMPLES:-25}
MAX_TIME=${MAX_TIME:-120}
target_dir=$(realpath -m "${CARGO_TARGET_DIR:-target}")

if [[ -z "${SCHEMATHESIS:-}" ]]; then
  venv="$target_dir/schemathesis-venv"
  SCHEMATHESIS="$venv/bin/schemathesis"
  if ! "$SCHEMATHESIS" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    echo "schemathesis: installing schemathesis $SCHEMATHESIS_VERSION into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
  fi
fi

echo "schemathesis: building the server"
cargo build --quiet --bin integrations
binary="$target_dir/debug/integrations"

work=$(mktemp -d)
server=""
stop() {
  if [[ -n "$server" ]] && kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"

# No JWT_SECRET and no DATABASE_URL: the zero-configuration start, which prints an owner token.
env -u DATABASE_URL -u JWT_SECRET -u ENCRYPTION_KEY \
  DATA_DIR="$work/data" LISTEN_ADDR="127.0.0.1:$port" LOG_FORMAT=json \
  RATE_LIMIT_PER_MINUTE=0 AUTH_FAILURES_PER_MINUTE=0 SERVICE_RATE_LIMIT_PER_MINUTE=0 RUST_LOG="${RUST_LOG:-warn}" \
  "$binary" serve >"$work/stdout" 2>"$work/server.log" &
server=$!

for _ in $(seq 1 100); do
  if grep -q '^export TOKEN=' "$work/stdout" 2>/dev/null && curl -fsS "$base/healthz" >/dev/null 2>&1; then
    break
  fi
  if ! kill -0 "$server" 2>/dev/null; then
    echo "schemathesis: the server did not start:" >&2
    cat "$work/server.log" >&2
    exit 1
  fi
  sleep 0.1
done
token=$(sed -n 's/^export TOKEN=//p' "$work/stdout")
if [[ -z "$token" ]]; then
  echo "schemathesis: the server printed no owner token" >&2
  exit 1
fi

# A pipeline with a template attached, so that the read-only routes of
# templates, revisions and pipeline integrations also answer with real data
# (their ids are set in scripts/schemathesis.toml).
call() {
  curl -fsS -X "$1" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    --data "$3" "$base$2"
}
field() {
  python3 -c 'import json, sys; value = json.load(sys.stdin)
for key in sys.argv[1:]: value = value[key]
print(value)' "$@"
}
pipeline=$(call POST /v1/admin/pipelines \
  '{"name": "schemathesis fixture", "parameters": {"pixel_id": "1234567890", "batch_size": 50}}')
installed=$(call POST /v1/admin/integration-catalog/meta_capi/install \
  '{"name": "schemathesis fixture", "config": {"pixel_id": "{{pipeline_param.pixel_id}}", "access_token": "EAAB-fixture", "batch_size": "{{pipeline_param.batch_size}}"}}')
ST_PIPELINE_ID=$(field id <<<"$pipeline")
ST_TEMPLATE_ID=$(field template id <<<"$installed")
revision_id=$(field revision id <<<"$installed")
call POST "/v1/admin/integration-templates/$ST_TEMPLATE_ID/revisions" \
  '{"config": {"pixel_id": "{{pipeline_param.pixel_id}}", "access_token": "***", "hash_pii": true}, "delivery_mode": "client_side"}' >/dev/null
attachment=$(call POST "/v1/admin/pipelines/$ST_PIPELINE_ID/integrations" \
  "{\"integration_id\": \"$ST_TEMPLATE_ID\", \"revision_id\": \"$revision_id\"}")
ST_ATTACHMENT_ID=$(field id <<<"$attachment")
export ST_PIPELINE_ID ST_TEMPLATE_ID ST_ATTACHMENT_ID

echo "schemathesis: testing $base (at most $MAX_EXAMPLES examples per operation, $MAX_TIME s)"
status=0
# Run from a directory under target/, where schemathesis and hypothesis keep their files.
scripts=$PWD/scripts
mkdir -p "$target_dir/schemathesis"
# The token goes to the document's `bearer` scheme (scripts/schemathesis.toml), so
# that schemathesis also sends requests without it and checks they get 401.
(
  cd "$target_dir/schemathesis"
  INTEGRATIONS_TOKEN="$token" SCHEMATHESIS_HOOKS="$scripts/schemathesis_hooks.py" \
    "$SCHEMATHESIS" --config-file "$scripts/schemathesis.toml" --no-color run "$base/openapi.json" \
    --checks all \
    --max-examples "$MAX_EXAMPLES" \
    --max-time "$MAX_TIME" \
    --generation-database none \
    "$@"
) || status=$?

# Errors the server logged, except actix's own note on a request line it could
# not parse (schemathesis sends such requests; they get 400).
errors=$(grep '"level":"ERROR"' "$work/server.log" | grep -v '"target":"actix_http::h1::dispatcher"' || true)
if [[ -n "$errors" ]]; then
  echo "schemathesis: the server logged errors:" >&2
  head -20 <<<"$errors" >&2
  status=1
fi
exit "$status"
