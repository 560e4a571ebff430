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

# The API documentation of every crate, warnings (a broken intra-doc link…) denied, as CI builds it.
# Opens in target/doc/integrations_domain/index.html (and one index per crate).
doc:
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

# The whole suite: SQLite always, PostgreSQL at TEST_DATABASE_URL when reachable.
test:
    cargo test --workspace

# Schemathesis (from PyPI) against the live server and its own OpenAPI document: no 5xx,
# everything as documented (about two minutes; MAX_TIME=seconds for a longer run).
schemathesis *ARGS:
    bash scripts/schemathesis.sh {{ARGS}}

# What CI runs.
ci:
    bash .ci/run

# Criterion benchmarks of the domain crate (substitution engine vs template engines).
bench:
    cargo bench -p integrations-domain --bench substitution

# Fuzz the substitution engine: hostile configs and parameters, outputs checked, allocations
# measured (docs/decisions.md). CASES=n for more or fewer cases.
fuzz-render CASES="20000":
    PROPTEST_CASES={{CASES}} cargo test --release -p integrations-domain --test render_fuzz

# HTTP load benchmark of the release build on PostgreSQL and SQLite (needs wrk; docs/performance.md).
bench-http:
    bash scripts/bench/bench.sh

# Costs that do not grow with the data: 200,000 templates beside an empty org, then
# 100,000 created through the API by 8 writers (PostgreSQL, needs wrk; docs/performance.md).
bench-scale:
    bash scripts/bench/scale.sh

# Key-rotation throughput: 100,000 sealed values re-sealed by `integrations rekey`
# (PostgreSQL; docs/performance.md).
bench-rekey:
    bash scripts/bench/rekey.sh

# Resilience checks: PostgreSQL outage, kill -9 mid-write, 1,000 idle connections (docs/performance.md).
resilience:
    bash scripts/resilience/outage.sh
    bash scripts/resilience/kill9.sh
    bash scripts/resilience/idle.sh

# Validate the OpenAPI document (openapi-spec-validator) and generate a Python client from it
# with no warning (openapi-python-client); both from PyPI into target/openapi-venv.
openapi-check:
    bash scripts/openapi-check.sh

# Fail when a tracked file outside .ci/ points at a document outside the repository.
standalone-check:
    bash scripts/check-standalone.sh

# Create the migration NAME in both trees, migrations/sqlite and migrations/postgres.
migration NAME:
    bash scripts/new-migration.sh {{NAME}}

# The change feed: change→waiter latency (one and two processes), 10,000 waiting requests
# (memory, connections, GET rate beside them), 304 polls from memory vs pgbench -S
# (PostgreSQL, needs wrk; docs/performance.md).
bench-watch:
    bash scripts/bench/watch.sh

# Rollouts: preview and apply (plus rollback) over 100 pipelines with medium configs,
# one request at a time, on PostgreSQL (docs/performance.md).
bench-rollouts:
    bash scripts/bench/rollouts.sh

# A pipeline's config at a past instant (`?at=`) with 1,000 recorded changes.
bench-history:
    bash scripts/bench/history.sh
