//! The storage contract: every port method and every documented error, on
//! SQLite always and on PostgreSQL wherever it is reachable. Each test gets a
//! database of its own.
//!
//! Each module registers its own tests: a scenario is a private
//! `fn name(db: &TestDb)` listed in the `backend_tests!` call at the foot of
//! its module, which makes one test per backend (`templates::sqlite::name`,
//! `templates::postgres::name`). A scenario left out of that list is dead
//! code, which the lints refuse. Tests that pick their backend themselves
//! (`outage.rs`, `plans.rs`) are plain `#[test]`s in their module.

#![expect(
    clippy::expect_used,
    clippy::many_single_char_names,
    reason = "tests: a broken fixture must fail the test at once; a, b, t, u, p read best"
)]

mod attachments;
mod audit;
mod events;
mod flat_costs;
mod history;
mod idempotency;
mod limits;
mod outage;
mod pipelines;
mod plans;
mod rekey;
mod revisions;
mod rollouts;
mod schema;
mod sealed;
mod search;
mod sessions;
mod support;
mod templates;
