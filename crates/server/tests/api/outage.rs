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
    // `/readyz` answers from its last check for a second: the outage shows
    // once that answer is older.
    while app.get("/readyz", "").status == 200 {
        assert!(started.elapsed() < HANG, "/readyz never saw the outage");
        std::thread::sleep(Duration::from_millis(100));
    }
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

/// PostgreSQL terminates every backend of the pool (a failover, a restart,
/// an administrator): the pool hands out connections without pinging them,
/// so the next requests meet dead connections — and still succeed, each
/// retried once on a fresh connection, a write exactly once.
#[test]
fn terminated_postgres_backends_are_replaced_without_an_error() {
    let Some(db) = TestDb::postgres() else { return };
    let app = TestApp::over(db);
    let owner = app.owner();
    let id = app.template("T", "webhook");
    let template = format!("/v1/admin/integration-templates/{id}");
    app.get(&template, &owner).expect(200);
    let terminate = "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()";

    app.db.texts(&format!(
        "SELECT count(*)::text AS value FROM ({terminate}) AS t"
    ));
    app.get(&template, &owner).expect(200);

    app.db.texts(&format!(
        "SELECT count(*)::text AS value FROM ({terminate}) AS t"
    ));
    let body = serde_json::json!({
        "config": { "url": "https://a.example" },
        "delivery_mode": "server_side",
    });
    app.post(&format!("{template}/revisions"), &owner, &body)
        .expect(201);
    let created = app.db.texts(&format!(
        "SELECT count(*)::text AS value FROM revisions WHERE template_id = '{id}'"
    ));
    assert_eq!(created, ["1"], "the revision was created exactly once");
    app.get("/readyz", "").expect(200);
}
