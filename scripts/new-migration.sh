#!/usr/bin/env bash
# Creates one migration under the same name in both trees,
# migrations/sqlite/ and migrations/postgres/ (the store embeds both, and a
# test checks that they hold the same names):
#
#   scripts/new-migration.sh add_template_labels     # or: just migration add_template_labels
#
# makes migrations/{sqlite,postgres}/YYYY-MM-DD-HHMMSS_add_template_labels/
# with an empty up.sql and down.sql each. Write both backends' SQL, then
# `cargo test -p integrations-store` runs them up, down and up again on both.
set -euo pipefail
cd "$(dirname "$0")/.."

name=${1:-}
if [[ ! "$name" =~ ^[a-z][a-z0-9_]{0,62}$ ]]; then
  echo "usage: $0 NAME   (lower case letters, digits and _, starting with a letter)" >&2
  exit 2
fi
version=$(date -u +%Y-%m-%d-%H%M%S)
# Versions sort as text and must grow: after the latest existing one even when
# that one carries a later date than today's clock.
latest=$(ls migrations/sqlite migrations/postgres | sed -n 's/^\([0-9-]*\)_.*/\1/p' | sort | tail -1)
if [[ -n "$latest" && ! "$version" > "$latest" ]]; then
  version="${latest%-*}-$(printf '%06d' $((10#${latest##*-} + 1)))"
fi
for tree in migrations/sqlite migrations/postgres; do
  if compgen -G "$tree/*_$name" >/dev/null; then
    echo "a migration named $name exists already: $(compgen -G "$tree/*_$name")" >&2
    exit 1
  fi
done
for tree in migrations/sqlite migrations/postgres; do
  backend=${tree#migrations/}
  dir="$tree/${version}_$name"
  mkdir -p "$dir"
  printf -- '-- %s (%s): the change.\n' "$name" "$backend" >"$dir/up.sql"
  printf -- '-- %s (%s): undo exactly what up.sql does.\n' "$name" "$backend" >"$dir/down.sql"
  echo "created $dir/up.sql and down.sql"
done
