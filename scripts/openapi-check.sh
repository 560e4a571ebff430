#!/usr/bin/env bash
# The OpenAPI document, as a client developer's tools see it: dumps it with
# `integrations openapi`, validates it with openapi-spec-validator, and
# generates a Python client from it with openapi-python-client, failing on any
# warning (a warning there means an operation left out of the client) and
# when the client lacks any operation of the document. Both tools come from
# PyPI, pinned, into a virtualenv under the cargo target directory (installed
# once; later runs take a few seconds).
#
#   scripts/openapi-check.sh            # or: just openapi-check
#
# OPENAPI_VENV=/path/to/venv uses another virtualenv (created when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

VALIDATOR_VERSION=0.9.0
CLIENT_VERSION=0.29.1
target_dir=$(realpath -m "${CARGO_TARGET_DIR:-target}")
venv=${OPENAPI_VENV:-$target_dir/openapi-venv}
stamp="$venv/.installed"
wanted="openapi-spec-validator==$VALIDATOR_VERSION openapi-python-client==$CLIENT_VERSION"

if [[ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]]; then
  echo "openapi-check: installing $wanted into $venv"
  python3 -m venv "$venv"
  # shellcheck disable=SC2086 # one argument per requirement
  "$venv/bin/pip" install --quiet --disable-pip-version-check $wanted
  echo "$wanted" >"$stamp"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "openapi-check: dumping the document"
cargo build --quiet --bin integrations
"$target_dir/debug/integrations" openapi >"$work/openapi.json"

echo "openapi-check: openapi-spec-validator $VALIDATOR_VERSION"
"$venv/bin/openapi-spec-validator" "$work/openapi.json"

echo "openapi-check: openapi-python-client $CLIENT_VERSION"
# No post-generation hooks: they would format the code with ruff, which is
# not needed to check the client and would be one more tool to install.
printf 'post_hooks: []\n' >"$work/client.yaml"
(
  cd "$work"
  "$venv/bin/openapi-python-client" generate --path openapi.json --config client.yaml \
    --meta none --output-path client --fail-on-warning >generate.log 2>&1
) || {
  cat "$work/generate.log" >&2
  echo "openapi-check: openapi-python-client reported problems (above)" >&2
  exit 1
}
if grep -qi 'warning' "$work/generate.log"; then
  cat "$work/generate.log" >&2
  echo "openapi-check: openapi-python-client warned (above)" >&2
  exit 1
fi

# The client imports, and has one module per operation of the document.
(
  cd "$work"
  "$venv/bin/python" - <<'PY'
import importlib, json, pkgutil, sys

import client
import client.api

doc = json.load(open("openapi.json"))
methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
operations = {op["operationId"] for item in doc["paths"].values()
              for method, op in item.items() if method in methods}
generated = set()
for tag in pkgutil.iter_modules(client.api.__path__):
    package = importlib.import_module(f"client.api.{tag.name}")
    for module in pkgutil.iter_modules(package.__path__):
        loaded = importlib.import_module(f"client.api.{tag.name}.{module.name}")
        if hasattr(loaded, "sync_detailed"):
            generated.add(module.name)
snake = lambda name: "".join("_" + c.lower() if c.isupper() else c for c in name)
missing = sorted(op for op in operations if snake(op) not in generated)
if missing:
    sys.exit(f"openapi-check: the generated client lacks {missing}")
print(f"openapi-check: the client has all {len(operations)} operations")
PY
)
echo "openapi-check: ok"
