//! Units of work: a session's calls share one pooled connection; a pooled
//! connection whose backend was terminated is replaced and the call retried
//! once, but only when no statement of the session had reached the
//! database — a change is never made twice.

use diesel::RunQueryDsl as _;
use integrations_domain::Page;
use integrations_ports::{Store, StoreError, TemplateStore};
use integrations_testing::TestDb;
use serde_json::json;

use crate::support::{audit, new_revision, new_template, org, revision_audit, store};

/// A session holds one connection from its first call until it is dropped;
/// the store without a session gives each call's connection back at once.
fn a_session_keeps_one_connection_for_all_its_calls(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let t = store
        .create_template(new_template(&a, "T"), audit().into())
        .expect("created");
    let (open, idle) = store.pool_state();
    assert_eq!(open, idle, "nothing is checked out between calls");
    let session = store.open_session();
    assert_eq!(
        session.statements_sent(),
        None,
        "no connection before the first call"
    );
    for _ in 0..3 {
        session.template(&a, t.id).expect("found");
        session
            .templates(&a, Page::default().into())
            .expect("listed");
        let (open, idle) = store.pool_state();
        assert_eq!(idle + 1, open, "the session holds exactly one connection");
    }
    // Each round: the template (one statement), the list (its total, its page).
    assert_eq!(session.statements_sent(), Some(9));
    drop(session);
    let (open, idle) = store.pool_state();
    assert_eq!(open, idle, "dropping the session gives its connection back");
}

/// On PostgreSQL, a session that has sent a statement keeps its backend:
/// once that backend is terminated, the session's next call fails rather
/// than run on another connection — a session never spreads over two, and
/// never retries once a statement reached the database.
#[test]
fn postgres_a_session_does_not_retry_after_its_first_statement() {
    let Some(db) = TestDb::postgres() else { return };
    let store = store(&db);
    let a = org("org_a");
    let t = store
        .create_template(new_template(&a, "T"), audit().into())
        .expect("created");
    let session = store.open_session();
    session.template(&a, t.id).expect("found");
    terminate_other_backends(&db);
    let refused = session.create_revision(&a, t.id, new_revision(json!({})), audit().into());
    assert!(
        matches!(refused, Err(StoreError::Unavailable(_))),
        "{refused:?}"
    );
    drop(session);
    // Nothing was written; the store recovers on the next call.
    let template = store.template(&a, t.id).expect("found after the outage");
    assert_eq!(template.latest_revision, 0);
}

/// The server terminates every pooled backend (a restart, a failover, an
/// administrator): the next read and the next write each succeed on a fresh
/// connection, and the write happens exactly once.
#[test]
fn postgres_a_terminated_backend_is_replaced_and_retried_once() {
    let Some(db) = TestDb::postgres() else { return };
    let store = store(&db);
    let a = org("org_a");
    let t = store
        .create_template(new_template(&a, "T"), audit().into())
        .expect("created");
    // Several pooled connections, all idle.
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| store.template(&a, t.id).expect("found"));
        }
    });
    assert!(store.pool_state().1 >= 1, "idle connections to break");

    terminate_other_backends(&db);
    let found = store.open_session().template(&a, t.id);
    assert!(found.is_ok(), "a read after the termination: {found:?}");

    terminate_other_backends(&db);
    let session = store.open_session();
    let template = session.template(&a, t.id).expect("found");
    let revision = session
        .create_revision(&a, template.id, new_revision(json!({})), audit().into())
        .expect("a write after the termination");
    drop(session);

    terminate_other_backends(&db);
    let revision_again = store.create_revision(&a, t.id, new_revision(json!({})), audit().into());
    assert!(revision_again.is_ok(), "{revision_again:?}");

    let numbers = db.texts(&format!(
        "SELECT revision_number::text AS value FROM revisions WHERE template_id = '{}' \
         ORDER BY revision_number",
        t.id
    ));
    assert_eq!(numbers, ["1", "2"], "each write happened exactly once");
    assert_eq!(revision.number.get(), 1);
    store.ping().expect("healthy");
}

/// Terminates every backend of the test database but the caller's, and
/// waits until they are gone.
fn terminate_other_backends(db: &TestDb) {
    let mut conn = <diesel::PgConnection as diesel::Connection>::establish(db.url())
        .expect("a direct connection");
    diesel::sql_query(
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .execute(&mut conn)
    .expect("backends terminated");
}

/// Creating a revision, as the use case does it (find the template, then
/// create): one connection and, on PostgreSQL, two statements — the read,
/// then the whole change as one statement (the number, the audit row, the
/// revision, the org's counter and the change's event). SQLite, in-process,
/// runs the transaction statement by statement: nine.
fn creating_a_revision_takes_two_statements_on_postgres(db: &TestDb) {
    let expected = match db.backend() {
        integrations_testing::Backend::Postgres => 2,
        integrations_testing::Backend::Sqlite => 9,
    };
    let store = store(db);
    let a = org("org_a");
    let t = store
        .create_template(new_template(&a, "T"), audit().into())
        .expect("created");
    for expected_latest in [None, Some(1)] {
        let session = store.open_session();
        let template = session.template(&a, t.id).expect("found");
        let mut revision = new_revision(json!({ "n": 1 }));
        revision.expected_latest = expected_latest;
        let entry = revision_audit(template.id, &revision);
        session
            .create_revision(&a, template.id, revision, entry.into())
            .expect("created");
        assert_eq!(
            session.statements_sent(),
            Some(expected),
            "{expected_latest:?}"
        );
    }
    // A stale number costs one more read, to say what the latest is.
    let session = store.open_session();
    let mut stale = new_revision(json!({}));
    stale.expected_latest = Some(1);
    let entry = revision_audit(t.id, &stale);
    let refused = session.create_revision(&a, t.id, stale, entry.into());
    assert!(
        matches!(refused, Err(StoreError::StaleRevision { latest: 2 })),
        "{refused:?}"
    );
}

integrations_testing::backend_tests!(
    a_session_keeps_one_connection_for_all_its_calls,
    creating_a_revision_takes_two_statements_on_postgres,
);
