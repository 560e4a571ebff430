//! Costs that do not grow with the data: totals from per-org counters kept in
//! each change's transaction, and keyset cursors that page exactly like
//! offsets (ties on `created_at` included) even while items are created.

use std::collections::HashSet;
use std::fmt::Debug;

use integrations_domain::{AuditId, OrgId, Page, Pipeline, Template};
use integrations_ports::{
    AttachmentStore, AuditEntry, AuditStore, ListPage, Newest, PipelineStore, StoreError,
    TemplateChanges, TemplateStore, Window,
};
use integrations_store::{DatabaseUrl, DieselStore, migrations};
use integrations_testing::{Backend, TestDb};
use serde_json::json;
use time::OffsetDateTime;
use ulid::Ulid;

use crate::attachments::attach_new;
use crate::support::{Raw, audit, name, new_pipeline, new_revision, new_template, org, tick};

/// An audit entry of `org` at `at`.
fn entry(org_id: &OrgId, at: OffsetDateTime) -> AuditEntry {
    AuditEntry {
        id: AuditId::from_ulid(Ulid::generate()),
        org: org_id.clone(),
        at,
        ..audit()
    }
}

/// What the database holds, counted the slow way.
fn counted(raw: &mut Raw, org_id: &str) -> (u64, u64, u64) {
    let count = |raw: &mut Raw, sql: String| u64::try_from(raw.count(&sql)).expect("a count");
    (
        count(
            raw,
            format!(
                "SELECT COUNT(*) AS n FROM templates WHERE org_id = '{org_id}' AND deleted_at IS NULL"
            ),
        ),
        count(
            raw,
            format!(
                "SELECT COUNT(*) AS n FROM pipelines WHERE org_id = '{org_id}' AND deleted_at IS NULL"
            ),
        ),
        count(
            raw,
            format!("SELECT COUNT(*) AS n FROM audit_log WHERE org_id = '{org_id}'"),
        ),
    )
}

/// The totals the store answers.
fn totals(store: &DieselStore, org_id: &OrgId) -> (u64, u64, u64) {
    let window = || Window::from(Page::default());
    (
        store.templates(org_id, window()).expect("listed").total,
        store.pipelines(org_id, window()).expect("listed").total,
        store.audit_log(org_id, None, window()).expect("read").total,
    )
}

#[track_caller]
fn assert_exact(store: &DieselStore, raw: &mut Raw, step: &str) {
    for org_id in ["org_a", "org_b"] {
        assert_eq!(
            totals(store, &org(org_id)),
            counted(raw, org_id),
            "{org_id} after {step}"
        );
    }
}

fn totals_stay_exact_through_every_change(db: &TestDb) {
    let store = crate::support::store(db);
    let mut raw = Raw::connect(db);
    let (a, b) = (org("org_a"), org("org_b"));
    assert_exact(&store, &mut raw, "nothing");
    let t1 = store
        .create_template(new_template(&a, "T1"), entry(&a, tick()).into())
        .expect("created");
    let t2 = store
        .create_template(new_template(&a, "T2"), entry(&a, tick()).into())
        .expect("created");
    store
        .create_template(new_template(&b, "T1"), entry(&b, tick()).into())
        .expect("created");
    assert_exact(&store, &mut raw, "creates");
    assert!(matches!(
        store.create_template(new_template(&a, "t1"), entry(&a, tick()).into()),
        Err(StoreError::NameTaken)
    ));
    assert_exact(&store, &mut raw, "a refused create");
    let r1 = store
        .create_revision(&a, t1.id, new_revision(json!({})), entry(&a, tick()).into())
        .expect("revised");
    store
        .update_template(
            &a,
            t2.id,
            TemplateChanges {
                name: Some(name("T2b")),
                description: None,
                updated_at: tick(),
                expected_updated_at: None,
            },
            entry(&a, tick()),
        )
        .expect("updated");
    assert_exact(&store, &mut raw, "a revision and an update");
    let p1 = store
        .create_pipeline(new_pipeline(&a, "P1", json!({})), entry(&a, tick()).into())
        .expect("created");
    let p2 = store
        .create_pipeline(new_pipeline(&a, "P2", json!({})), entry(&a, tick()).into())
        .expect("created");
    let pinned = store
        .attach(
            &a,
            p1.id,
            attach_new(t1.id, r1.id),
            entry(&a, tick()).into(),
        )
        .expect("attached");
    store
        .attach(
            &a,
            p2.id,
            attach_new(t1.id, r1.id),
            entry(&a, tick()).into(),
        )
        .expect("attached");
    assert_exact(&store, &mut raw, "pipelines and attaches");
    assert!(matches!(
        store.delete_template(&a, t1.id, tick(), None, entry(&a, tick())),
        Err(StoreError::TemplateInUse { .. })
    ));
    assert_exact(&store, &mut raw, "a refused delete");
    store
        .detach(&a, p1.id, pinned.id, entry(&a, tick()))
        .expect("detached");
    store
        .delete_pipeline(&a, p2.id, tick(), entry(&a, tick()), &|_| entry(&a, tick()))
        .expect("deleted with its attachment");
    assert_exact(&store, &mut raw, "a detach and a pipeline delete");
    store
        .delete_template(&a, t1.id, tick(), None, entry(&a, tick()))
        .expect("deleted");
    assert!(matches!(
        store.delete_template(&a, t1.id, tick(), None, entry(&a, tick())),
        Err(StoreError::NotFound)
    ));
    assert_exact(&store, &mut raw, "template deletes");
    store
        .install(
            new_template(&b, "Installed"),
            new_revision(json!({})),
            entry(&b, tick()).into(),
        )
        .expect("installed");
    assert_exact(&store, &mut raw, "an install");
    assert_eq!(totals(&store, &a).0, 1, "T2b is left");
}

/// The counters' migration fills them from the rows a database already holds.
fn an_existing_database_gets_its_counts(db: &TestDb) {
    let store = crate::support::store(db);
    let (a, b) = (org("org_a"), org("org_b"));
    for i in 0..3 {
        store
            .create_template(new_template(&a, &format!("T{i}")), entry(&a, tick()).into())
            .expect("created");
    }
    let gone = store
        .create_template(new_template(&b, "Gone"), entry(&b, tick()).into())
        .expect("created");
    store
        .delete_template(&b, gone.id, tick(), None, entry(&b, tick()))
        .expect("deleted");
    store
        .create_pipeline(new_pipeline(&b, "P", json!({})), entry(&b, tick()).into())
        .expect("created");
    drop(store);
    // Back to the schema before the counters, then forward again.
    let mut raw = Raw::connect(db);
    #[expect(
        clippy::match_same_arms,
        reason = "each tree has its own file; today they hold the same statements"
    )]
    let down = match db.backend() {
        Backend::Sqlite => {
            include_str!("../../../../migrations/sqlite/2026-12-10-000001_flat_costs/down.sql")
        }
        Backend::Postgres => {
            include_str!("../../../../migrations/postgres/2026-12-10-000001_flat_costs/down.sql")
        }
    };
    raw.execute(down).expect("the counters' migration reverted");
    raw.execute("DELETE FROM __diesel_schema_migrations WHERE version = '20261210000001'")
        .expect("forgotten");
    // Rows written behind the service's back, as an older release left them.
    raw.execute(
        "INSERT INTO audit_log (id, org_id, actor, action, resource_type, resource_id, created_at) \
         VALUES ('log_01KBZ0N4XW5D7Q2V6T3M9R8P1A', 'org_c', 'u', 'template.create', 'template', 'x', '2026-01-01 00:00:00')",
    )
    .expect("an old audit entry");
    let url = DatabaseUrl::parse(db.url()).expect("valid");
    assert_eq!(migrations::run_pending(&url).expect("migrated").len(), 1);
    let store = crate::support::store(db);
    assert_eq!(totals(&store, &a), (3, 0, 3));
    assert_eq!(totals(&store, &b), (0, 1, 3));
    assert_eq!(totals(&store, &org("org_c")), (0, 0, 1));
    assert_exact(&store, &mut raw, "the migration");
}

/// Pages through a list with offsets, then with cursors (creating an item
/// before each cursor page), and checks both visit the same items in the same
/// order, each once.
fn same_walk<T: Clone + Debug, K: Clone, I: PartialEq + Eq + std::hash::Hash + Debug>(
    mut list: impl FnMut(Window<K>) -> ListPage<T>,
    key: impl Fn(&T) -> K,
    id: impl Fn(&T) -> I,
    mut create_one: impl FnMut(),
) {
    let limit = 3;
    let mut by_offset = Vec::new();
    loop {
        let offset = i64::try_from(by_offset.len()).expect("small");
        let page = list(Window::from(
            Page::new(Some(i64::from(limit)), Some(offset)).expect("valid"),
        ));
        let is_last = !page.more;
        by_offset.extend(page.items.iter().map(&id));
        if is_last {
            break;
        }
    }
    let mut by_cursor = Vec::new();
    let mut page = list(Window::from(
        Page::new(Some(i64::from(limit)), None).expect("valid"),
    ));
    loop {
        by_cursor.extend(page.items.iter().map(&id));
        if !page.more {
            break;
        }
        create_one();
        let after = key(page.items.last().expect("a page with more has items"));
        page = list(Window::after(limit, after));
    }
    assert_eq!(by_cursor, by_offset);
    assert_eq!(
        by_cursor.iter().collect::<HashSet<_>>().len(),
        by_cursor.len(),
        "each once"
    );
    assert!(by_offset.len() > 6, "several pages");
}

fn newest_of_template(t: &Template) -> Newest {
    Newest {
        created_at: t.created_at,
        id: t.id.to_string(),
    }
}

fn newest_of_pipeline(p: &Pipeline) -> Newest {
    Newest {
        created_at: p.created_at,
        id: p.id.to_string(),
    }
}

#[expect(clippy::too_many_lines, reason = "one walk per list")]
fn cursors_page_like_offsets_with_ties_and_new_items(db: &TestDb) {
    let store = crate::support::store(db);
    let a = org("org_a");
    // Three items share each creation time: ties are broken by id.
    let shared: Vec<OffsetDateTime> = (0..4).map(|_| tick()).collect();
    let at = |i: usize| shared[i / 3];
    let mut made = Vec::new();
    for i in 0..12 {
        let mut new = new_template(&a, &format!("T{i}"));
        new.created_at = at(i);
        made.push(
            store
                .create_template(new, entry(&a, at(i)).into())
                .expect("created"),
        );
        let mut pipeline = new_pipeline(&a, &format!("P{i}"), json!({}));
        pipeline.created_at = at(i);
        store
            .create_pipeline(pipeline, entry(&a, at(i)).into())
            .expect("created");
    }
    // Other orgs' items never show up.
    store
        .create_template(
            new_template(&org("org_b"), "B"),
            entry(&org("org_b"), tick()).into(),
        )
        .expect("created");
    let mut n = 0;
    same_walk(
        |window| store.templates(&a, window).expect("listed"),
        newest_of_template,
        |t| t.id,
        || {
            n += 1;
            store
                .create_template(
                    new_template(&a, &format!("New{n}")),
                    entry(&a, tick()).into(),
                )
                .expect("created");
        },
    );
    same_walk(
        |window| store.pipelines(&a, window).expect("listed"),
        newest_of_pipeline,
        |p| p.id,
        || {
            n += 1;
            store
                .create_pipeline(
                    new_pipeline(&a, &format!("New{n}"), json!({})),
                    entry(&a, tick()).into(),
                )
                .expect("created");
        },
    );
    same_walk(
        |window| store.audit_log(&a, None, window).expect("read"),
        |e| Newest {
            created_at: e.at,
            id: e.id.to_string(),
        },
        |e| e.id,
        || {
            n += 1;
            store
                .create_template(
                    new_template(&a, &format!("New{n}")),
                    entry(&a, tick()).into(),
                )
                .expect("created");
        },
    );
    // Revisions page by number.
    let t = made[0].id;
    for i in 0..8 {
        store
            .create_revision(
                &a,
                t,
                new_revision(json!({ "i": i })),
                entry(&a, tick()).into(),
            )
            .expect("revised");
    }
    same_walk(
        |window| store.revisions(&a, t, window).expect("listed"),
        |r| r.number.get(),
        |r| r.number,
        || {
            store
                .create_revision(&a, t, new_revision(json!({})), entry(&a, tick()).into())
                .expect("revised");
        },
    );
    // The pins of a template, ties included.
    let latest = store
        .latest_revision(&a, t)
        .expect("read")
        .expect("revised");
    for i in 0..8 {
        let p = store
            .create_pipeline(
                new_pipeline(&a, &format!("Pin{i}"), json!({})),
                entry(&a, tick()).into(),
            )
            .expect("created");
        let mut new = attach_new(t, latest.id);
        new.created_at = at(i);
        store
            .attach(&a, p.id, new, entry(&a, tick()).into())
            .expect("attached");
    }
    same_walk(
        |window| store.template_pins(&a, t, window).expect("listed"),
        |(_, attachment)| Newest {
            created_at: attachment.created_at,
            id: attachment.id.to_string(),
        },
        |(_, attachment)| attachment.id,
        || {
            n += 1;
            let p = store
                .create_pipeline(
                    new_pipeline(&a, &format!("Late{n}"), json!({})),
                    entry(&a, tick()).into(),
                )
                .expect("created");
            store
                .attach(&a, p.id, attach_new(t, latest.id), entry(&a, tick()).into())
                .expect("attached");
        },
    );
}

integrations_testing::backend_tests!(
    totals_stay_exact_through_every_change,
    an_existing_database_gets_its_counts,
    cursors_page_like_offsets_with_ties_and_new_items,
);
