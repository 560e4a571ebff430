//! HTTP integration tests: the real server on a random port over a fresh
//! database, on SQLite always and on PostgreSQL wherever it is reachable.

#![expect(
    clippy::expect_used,
    reason = "tests: a broken fixture must fail the test at once"
)]

mod auth;
mod binary;
mod errors;
mod outage;
mod revisions;
pub mod support;
mod templates;
