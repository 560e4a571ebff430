//! Bounded answers and quotas: the attachment limit (also under a race), the
//! audit of a pipeline's deletion per attachment, the keyset walk down a
//! template's history, the paged pins list, and the migration lock's wait.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use integrations_domain::{Attachment, AuditId, Page, Template};
use integrations_ports::{
    AttachmentStore, AuditAction, AuditStore, PipelineStore, ResourceType, StoreError,
    TemplateStore,
};
use integrations_store::{DatabaseUrl, DieselStore, OpenError, migrations};
use integrations_testing::{Backend, TestDb};
use serde_json::json;
use ulid::Ulid;

use crate::attachments::attach_new;
use crate::support::{Raw, audit, new_pipeline, new_revision, new_template, org, store, tick};

/// `count` templates of `org_a` with one revision each.
fn templates(
    store: &DieselStore,
    count: usize,
) -> Vec<(Template, integrations_domain::RevisionId)> {
    let a = org("org_a");
    (0..count)
        .map(|i| {
            let t = store
                .create_template(new_template(&a, &format!("T{i}")), audit().into())
                .expect("created");
            let r = store
                .create_revision(&a, t.id, new_revision(json!({ "i": i })), audit().into())
                .expect("revised");
            (t, r.id)
        })
        .collect()
}

fn attach_refuses_a_pipeline_past_its_limit(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let p = store
        .create_pipeline(new_pipeline(&a, "Web", json!({})), audit().into())
        .expect("created");
    let other = store
        .create_pipeline(new_pipeline(&a, "App", json!({})), audit().into())
        .expect("created");
    let made = templates(&store, 4);
    let limited = |i: usize| {
        let mut new = attach_new(made[i].0.id, made[i].1);
        new.max_per_pipeline = 3;
        new
    };
    let attached: Vec<Attachment> = (0..3)
        .map(|i| {
            store
                .attach(&a, p.id, limited(i), audit().into())
                .expect("under the limit")
        })
        .collect();
    assert!(matches!(
        store.attach(&a, p.id, limited(3), audit().into()),
        Err(StoreError::LimitReached { limit: 3 })
    ));
    assert_eq!(store.attachments(&a, p.id).expect("listed").len(), 3);
    // The limit is per pipeline…
    store
        .attach(&a, other.id, limited(3), audit().into())
        .expect("another pipeline has room");
    // …and a detach makes room again.
    store
        .detach(&a, p.id, attached[0].id, audit())
        .expect("detached");
    store
        .attach(&a, p.id, limited(3), audit().into())
        .expect("room again");
}

fn racing_attaches_at_the_limit_let_exactly_one_win(db: &TestDb) {
    const RACERS: usize = 6;
    let store = Arc::new(store(db));
    let a = org("org_a");
    let p = store
        .create_pipeline(new_pipeline(&a, "Web", json!({})), audit().into())
        .expect("created");
    let made = templates(&store, RACERS + 1);
    let limited = |i: usize| {
        let mut new = attach_new(made[i].0.id, made[i].1);
        new.max_per_pipeline = 2;
        new
    };
    store
        .attach(&a, p.id, limited(0), audit().into())
        .expect("one place left after this");
    let start = Arc::new(Barrier::new(RACERS));
    let outcomes: Vec<_> = (1..=RACERS)
        .map(|i| {
            let (store, a, start, new) = (
                Arc::clone(&store),
                a.clone(),
                Arc::clone(&start),
                limited(i),
            );
            std::thread::spawn(move || {
                start.wait();
                store.attach(&a, p.id, new, audit().into())
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|racer| racer.join().expect("no panic"))
        .collect();
    let won = outcomes.iter().filter(|o| o.is_ok()).count();
    let refused = outcomes
        .iter()
        .filter(|o| matches!(o, Err(StoreError::LimitReached { limit: 2 })))
        .count();
    assert_eq!((won, refused), (1, RACERS - 1), "{outcomes:?}");
    assert_eq!(store.attachments(&a, p.id).expect("listed").len(), 2);
}

fn deleting_a_pipeline_audits_each_attachment_it_removes(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let p = store
        .create_pipeline(new_pipeline(&a, "Web", json!({})), audit().into())
        .expect("created");
    let attached: Vec<Attachment> = templates(&store, 2)
        .into_iter()
        .map(|(t, r)| {
            store
                .attach(&a, p.id, attach_new(t.id, r), audit().into())
                .expect("attached")
        })
        .collect();
    let detached = |removed: &Attachment| {
        let mut entry = audit();
        entry.id = AuditId::from_ulid(Ulid::generate());
        entry.action = AuditAction::AttachmentDelete;
        entry.resource_type = ResourceType::Attachment;
        entry.resource_id = removed.id.to_string();
        entry.old_value = Some(json!({ "revision_number": removed.revision_number.get() }));
        entry.new_value = None;
        entry
    };
    // A pipeline that is not there: nothing is deleted and nothing is audited.
    assert!(matches!(
        store.delete_pipeline(&org("org_b"), p.id, tick(), audit(), &detached),
        Err(StoreError::NotFound)
    ));
    let logged = |resource: &str| {
        store
            .audit_log(&a, Some(resource), Page::default().into())
            .expect("read")
            .items
    };
    assert!(
        attached
            .iter()
            .all(|x| logged(&x.id.to_string()).is_empty())
    );
    store
        .delete_pipeline(&a, p.id, tick(), audit(), &detached)
        .expect("deleted");
    for removed in &attached {
        let entries = logged(&removed.id.to_string());
        assert_eq!(entries.len(), 1, "one entry for {}", removed.id);
        assert_eq!(entries[0].action, AuditAction::AttachmentDelete);
        assert_eq!(entries[0].old_value, Some(json!({ "revision_number": 1 })));
    }
}

fn revisions_below_walk_a_snapshot_of_the_history(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let t = store
        .create_template(new_template(&a, "T"), audit().into())
        .expect("created");
    for v in 1..=5 {
        store
            .create_revision(&a, t.id, new_revision(json!({ "v": v })), audit().into())
            .expect("revised");
    }
    let numbers = |below: u32, limit: u32| -> Vec<u32> {
        store
            .revisions_below(&a, t.id, below, limit)
            .expect("read")
            .iter()
            .map(|r| r.number.get())
            .collect()
    };
    assert_eq!(numbers(6, 2), [5, 4]);
    assert_eq!(numbers(4, 2), [3, 2]);
    assert_eq!(numbers(2, 2), [1]);
    assert!(numbers(1, 2).is_empty());
    assert_eq!(numbers(u32::MAX, 1), [5]);
    let batch = store.revisions_below(&a, t.id, 3, 1).expect("read");
    assert_eq!(batch[0].config.get("v"), Some(&json!(2)));
    assert!(
        store
            .revisions_below(&org("org_b"), t.id, 6, 10)
            .expect("read")
            .is_empty(),
        "never another org's revisions"
    );
    // A walk that began while the template was live finishes after its deletion.
    store
        .delete_template(&a, t.id, tick(), None, audit())
        .expect("deleted");
    assert_eq!(numbers(3, 10), [2, 1]);
}

fn template_pins_come_in_pages(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let made = templates(&store, 1);
    let (t, r) = (&made[0].0, made[0].1);
    let pipelines: Vec<_> = ["P1", "P2", "P3", "P4"]
        .iter()
        .map(|name| {
            let p = store
                .create_pipeline(new_pipeline(&a, name, json!({})), audit().into())
                .expect("created");
            store
                .attach(&a, p.id, attach_new(t.id, r), audit().into())
                .expect("attached");
            p
        })
        .collect();
    store
        .delete_pipeline(&a, pipelines[3].id, tick(), audit(), &|_| audit())
        .expect("deleted");
    let page = |limit: i64, offset: i64| {
        let paged = store
            .template_pins(
                &a,
                t.id,
                Page::new(Some(limit), Some(offset)).expect("valid").into(),
            )
            .expect("listed");
        let names: Vec<String> = paged
            .items
            .iter()
            .map(|(pipeline, _)| pipeline.name.to_string())
            .collect();
        (names, paged.total)
    };
    // Newest attachment first; the deleted pipeline's is gone.
    assert_eq!(page(2, 0), (vec!["P3".to_owned(), "P2".to_owned()], 3));
    assert_eq!(page(2, 2), (vec!["P1".to_owned()], 3));
    assert_eq!(page(2, 4), (vec![], 3));
    assert!(matches!(
        store.template_pins(&org("org_b"), t.id, Page::default().into()),
        Err(StoreError::NotFound)
    ));
}

/// Holds the migration lock the way another process's migration does (a
/// WAL-mode write transaction, or the advisory lock) until dropped.
fn hold_migration_lock(db: &TestDb) -> Raw {
    let mut raw = Raw::connect(db);
    let take = match db.backend() {
        Backend::Sqlite => "PRAGMA journal_mode = WAL; BEGIN IMMEDIATE".to_owned(),
        Backend::Postgres => format!(
            "SELECT pg_advisory_lock({})",
            migrations::POSTGRES_MIGRATION_LOCK
        ),
    };
    raw.execute(&take).expect("the lock");
    raw
}

fn migrations_wait_for_the_lock_then_fail_clearly(db: &TestDb) {
    let url = DatabaseUrl::parse(db.url()).expect("valid");
    let holder = hold_migration_lock(db);
    let err = migrations::run_pending_waiting(&url, Duration::from_millis(1_500))
        .expect_err("the lock is held");
    assert!(matches!(err, OpenError::Migrate { .. }), "{err:?}");
    let mut chain = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        chain = format!("{chain}: {cause}");
        source = cause.source();
    }
    assert!(
        chain.contains("another process holds the migration lock"),
        "{chain}"
    );
    // Released meanwhile: a waiting run gets the lock and migrates.
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1_500));
        drop(holder);
    });
    let applied = migrations::run_pending_waiting(&url, Duration::from_secs(30))
        .expect("migrated once the lock is free");
    assert!(!applied.is_empty());
    release.join().expect("no panic");
}

integrations_testing::backend_tests!(
    attach_refuses_a_pipeline_past_its_limit,
    racing_attaches_at_the_limit_let_exactly_one_win,
    deleting_a_pipeline_audits_each_attachment_it_removes,
    revisions_below_walk_a_snapshot_of_the_history,
    template_pins_come_in_pages,
    migrations_wait_for_the_lock_then_fail_clearly,
);
