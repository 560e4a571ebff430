//! A database that goes away: quick 503s with `Retry-After`, never a hang.

use std::time::{Duration, Instant};

use integrations_testing::TestDb;

use crate::support::TestApp;

/// Only a hang would take this long; the budget is a few seconds.
const HANG: Duration = Duration::from_secs(15);

#[test]
fn a_vanished_postgres_answers_503_quickly_and_health_stays_up() {
    let Some(db) = TestDb::postgres() else { return };
    let app = TestApp::over(db);
    let id = app.template("T", "webhook");
    app.get("/readyz", "").expect(200);
    app.db.destroy();
    let started = Instant::now();
    let reply = app
        .get_template(&app.owner(), &id)
        .expect_error(503, "UNAVAILABLE");
    assert_eq!(reply.header("retry-after"), Some("2"));
    assert!(started.elapsed() < HANG, "took {:?}", started.elapsed());
    let message = reply.body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(
        !message.contains("postgres") && !message.contains("does not exist"),
        "{message}"
    );
    app.get("/readyz", "").expect_error(503, "UNAVAILABLE");
    app.get("/healthz", "").expect(200);
    assert!(started.elapsed() < HANG);
}

#[test]
fn a_locked_sqlite_database_answers_503_for_writes_and_serves_reads() {
    let app = TestApp::over(TestDb::sqlite());
    let id = app.template("T", "webhook");
    let lock = app.db.hold_write_lock();
    let started = Instant::now();
    app.create_template(
        &app.owner(),
        &serde_json::json!({ "name": "U", "vendor": "ga4" }),
    )
    .expect_error(503, "UNAVAILABLE");
    assert!(started.elapsed() < HANG);
    app.get_template(&app.owner(), &id).expect(200);
    drop(lock);
    app.create_template(
        &app.owner(),
        &serde_json::json!({ "name": "U", "vendor": "ga4" }),
    )
    .expect(201);
}
