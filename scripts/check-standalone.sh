#!/usr/bin/env bash
# The repository stands alone: no tracked file outside `.ci/` may point at a
# document outside the repository (a relative path to a sibling "shared"
# folder) or cite a section of an outside specification. Refer to the
# repository's own docs instead (docs/api.md, docs/decisions.md…).
#
#   scripts/check-standalone.sh          # or: just standalone-check
#
# Exits non-zero and lists every offending line when there is one.
set -euo pipefail
cd "$(dirname "$0")/.."

# Spelled in two pieces so that this script does not match itself.
outside_path="../""shared"
outside_citation="SPEC"" §"

if found=$(git grep -n -I -F -e "$outside_path" -e "$outside_citation" -- . ':(exclude).ci'); then
  echo "standalone: these lines point outside the repository:" >&2
  echo "$found" >&2
  echo "standalone: $(wc -l <<<"$found") line(s) in $(cut -d: -f1 <<<"$found" | sort -u | wc -l) file(s)" >&2
  exit 1
fi
echo "standalone: nothing points outside the repository"
