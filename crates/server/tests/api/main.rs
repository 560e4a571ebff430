//! HTTP integration tests: the real server on a random port over a fresh
//! database, on SQLite always and on PostgreSQL wherever it is reachable.

#![expect(
    clippy::expect_used,
    reason = "tests: a broken fixture must fail the test at once"
)]

mod attachments;
mod audit;
mod auth;
mod binary;
mod bodies;
mod bounded;
mod catalog;
mod console;
mod cursors;
mod engine_limits;
mod errors;
mod events;
mod history;
mod idempotency;
mod key_rotation;
mod limits;
mod me;
mod observability;
mod openapi;
mod outage;
mod pipelines;
mod process;
mod regressions;
mod review_fixes;
mod revisions;
mod rollouts;
mod search;
mod secret_binding;
mod secret_parameters;
mod secrets;
mod startup;
mod support;
mod templates;
mod tokens_and_limits;
mod versioning;
