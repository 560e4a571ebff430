# Day-to-day recipes. `just` alone lists them. (Install just with `cargo install just`.)

# List the recipes.
default:
    @just --list

# Run the service on the embedded SQLite database.
run *ARGS:
    cargo run -- {{ARGS}}

# Format every crate.
fmt:
    cargo fmt --all

# Formatting check and clippy with warnings denied, as CI runs them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# The whole suite: SQLite always, PostgreSQL at TEST_DATABASE_URL when reachable.
test:
    cargo test --workspace

# What CI runs.
ci:
    bash .ci/run

# Criterion benchmarks of the domain crate (substitution engine vs template engines).
bench:
    cargo bench -p integrations-domain --bench substitution
