//! Unit tests of the use cases, over in-memory fakes of the ports
//! (`fakes.rs`): the application's own logic — the check order, error
//! mapping, preconditions, what is counted — without a database. What the
//! store guarantees is tested against real databases in `crates/store`.

#![expect(
    clippy::expect_used,
    reason = "tests: a broken fixture must fail the test at once"
)]

mod fakes;
mod revisions;
mod templates;
