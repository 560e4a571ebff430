use std::time::{Duration, Instant};

use integrations_domain::Page;
use integrations_ports::{Store, StoreError, TemplateStore};
use integrations_store::{DatabaseUrl, DieselStore, OpenError, PoolOptions};
use integrations_testing::TestDb;

use crate::support::{Raw, audit, new_template, org, store};

/// Generous bound that only a hang would exceed: the budget is seconds.
const HANG: Duration = Duration::from_secs(15);

#[test]
fn sqlite_write_lock_timeout_is_unavailable() {
    let db = TestDb::sqlite();
    let store = store(&db);
    let mut holder = Raw::connect(&db);
    holder
        .execute("BEGIN IMMEDIATE")
        .expect("the test holds the write lock");
    let started = Instant::now();
    let blocked = store.create_template(new_template(&org("org_a"), "T"), audit().into());
    assert!(
        matches!(blocked, Err(StoreError::Unavailable(_))),
        "{blocked:?}"
    );
    assert!(started.elapsed() < HANG);
    // Readers are not blocked by the writer (WAL).
    assert_eq!(
        store
            .templates(&org("org_a"), Page::default().into())
            .expect("read")
            .total,
        0
    );
    holder.execute("COMMIT").expect("released");
    assert!(
        store
            .create_template(new_template(&org("org_a"), "T"), audit().into())
            .is_ok()
    );
}

#[test]
fn postgres_gone_is_unavailable_quickly() {
    let Some(db) = TestDb::postgres() else { return };
    let store = store(&db);
    store.ping().expect("reachable at first");
    db.destroy();
    let started = Instant::now();
    let result = store.template(&org("org_a"), new_template(&org("org_a"), "x").id);
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
    assert!(matches!(store.ping(), Err(StoreError::Unavailable(_))));
    assert!(started.elapsed() < HANG, "took {:?}", started.elapsed());
}

#[test]
fn unreachable_server_fails_to_open_quickly() {
    let url = DatabaseUrl::parse("postgres://postgres@127.0.0.1:1/nothing").expect("valid");
    let started = Instant::now();
    let opened = DieselStore::open(&url, PoolOptions::for_url(&url));
    assert!(
        matches!(opened, Err(OpenError::Connect { .. })),
        "{opened:?}"
    );
    assert!(started.elapsed() < HANG);
}
