use std::sync::Arc;

use integrations_domain::{Page, RevisionNumber};
use integrations_ports::{StoreError, TemplateStore};
use integrations_testing::TestDb;
use serde_json::json;

use crate::support::{audit, new_revision, new_template, org, store};

fn revisions_are_numbered_from_one_and_move_updated_at(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let t = store
        .create_template(new_template(&a, "T"), audit().into())
        .expect("created");
    for expected in 1..=3 {
        let new = new_revision(json!({ "batch_size": expected }));
        let created_at = new.created_at;
        let revision = store
            .create_revision(&a, t.id, new, audit().into())
            .expect("revised");
        assert_eq!(revision.number.get(), expected);
        assert_eq!(revision.template_id, t.id);
        assert_eq!(revision.created_by.as_str(), "user_123");
        let template = store.template(&a, t.id).expect("found");
        assert_eq!(template.latest_revision, expected);
        assert_eq!(
            template.updated_at, created_at,
            "updated_at follows the newest revision"
        );
        assert_eq!(template.created_at, t.created_at);
    }
}

fn configs_are_stored_without_loss(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let t = store
        .create_template(new_template(&a, "T"), audit().into())
        .expect("created");
    let config = json!({
        "u64": u64::MAX, "i64": i64::MIN, "float": 0.1, "tiny": 5e-324, "huge": 1.797_693_134_862_315_7e308,
        "unicode": "日本語 é 🎉 \u{0} \u{1f} \"quoted\" \\ back",
        "nested": { "a": [1, [2, [3, { "b": null }]]], "empty_object": {}, "empty_array": [] },
        "bools": [true, false], "placeholder": "{{pipeline_param.x}}"
    });
    let mut new = new_revision(config.clone());
    new.change_summary =
        Some(integrations_domain::Description::parse("line 1\nline 2 — ü").expect("valid"));
    let created = store
        .create_revision(&a, t.id, new, audit().into())
        .expect("revised");
    let read = store.revision(&a, t.id, created.number).expect("found");
    assert_eq!(serde_json::Value::Object(read.config.clone()), config);
    assert_eq!(read, created);
}

fn reads_revisions_by_number_and_in_pages(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let t = store
        .create_template(new_template(&a, "T"), audit().into())
        .expect("created");
    assert_eq!(store.latest_revision(&a, t.id).expect("read"), None);
    assert_eq!(
        store
            .revisions(&a, t.id, Page::all().into())
            .expect("listed")
            .total,
        0
    );
    for i in 1..=5 {
        store
            .create_revision(&a, t.id, new_revision(json!({ "i": i })), audit().into())
            .expect("revised");
    }
    let third = store
        .revision(&a, t.id, RevisionNumber::new(3).expect("valid"))
        .expect("found");
    assert_eq!(third.config["i"], json!(3));
    let missing = store.revision(&a, t.id, RevisionNumber::new(6).expect("valid"));
    assert!(matches!(missing, Err(StoreError::NotFound)));
    let all = store
        .revisions(&a, t.id, Page::all().into())
        .expect("listed");
    assert_eq!(all.total, 5);
    assert_eq!(
        all.items.iter().map(|r| r.number.get()).collect::<Vec<_>>(),
        [5, 4, 3, 2, 1]
    );
    let window = store
        .revisions(&a, t.id, Page::new(Some(2), Some(2)).expect("valid").into())
        .expect("listed");
    assert_eq!(
        window
            .items
            .iter()
            .map(|r| r.number.get())
            .collect::<Vec<_>>(),
        [3, 2]
    );
    assert_eq!(window.total, 5);
    let latest = store
        .latest_revision(&a, t.id)
        .expect("read")
        .expect("some");
    assert_eq!(latest.number.get(), 5);
}

fn expected_latest_guards_against_stale_writes(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let t = store
        .create_template(new_template(&a, "T"), audit().into())
        .expect("created");
    let mut first = new_revision(json!({}));
    first.expected_latest = Some(0);
    assert_eq!(
        store
            .create_revision(&a, t.id, first, audit().into())
            .expect("revised")
            .number
            .get(),
        1
    );
    let mut stale = new_revision(json!({ "lost": "update" }));
    stale.expected_latest = Some(0);
    match store.create_revision(&a, t.id, stale, audit().into()) {
        Err(StoreError::StaleRevision { latest }) => assert_eq!(latest, 1),
        other => panic!("expected StaleRevision, got {other:?}"),
    }
    let template = store.template(&a, t.id).expect("found");
    assert_eq!(
        template.latest_revision, 1,
        "the stale write changed nothing"
    );
    let mut current = new_revision(json!({}));
    current.expected_latest = Some(1);
    assert_eq!(
        store
            .create_revision(&a, t.id, current, audit().into())
            .expect("revised")
            .number
            .get(),
        2
    );
    let mut elsewhere = new_revision(json!({}));
    elsewhere.expected_latest = Some(2);
    let other_org = store.create_revision(&org("org_b"), t.id, elsewhere, audit().into());
    assert!(matches!(other_org, Err(StoreError::NotFound)));
}

fn concurrent_revision_creates_are_gapless(db: &TestDb) {
    const WRITERS: u32 = 50;
    let store = Arc::new(store(db));
    let a = org("org_a");
    let t = store
        .create_template(new_template(&a, "Hot"), audit().into())
        .expect("created");
    let handles: Vec<_> = (0..WRITERS)
        .map(|i| {
            let (store, a) = (Arc::clone(&store), a.clone());
            std::thread::spawn(move || {
                store.create_revision(
                    &a,
                    t.id,
                    new_revision(json!({ "writer": i })),
                    audit().into(),
                )
            })
        })
        .collect();
    let mut numbers: Vec<u32> = handles
        .into_iter()
        .map(|h| {
            h.join()
                .expect("no panic")
                .expect("every create succeeds")
                .number
                .get()
        })
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=WRITERS).collect::<Vec<_>>());
    let listed = store
        .revisions(&a, t.id, Page::all().into())
        .expect("listed");
    assert_eq!(listed.items.len(), WRITERS as usize);
    assert_eq!(
        store.template(&a, t.id).expect("found").latest_revision,
        WRITERS
    );
}

fn install_creates_template_and_first_revision_atomically(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let mut new = new_template(&a, "Installed");
    new.catalog_vendor_key = Some("meta_capi".into());
    new.catalog_variant_key = Some("retail".into());
    let revision = new_revision(json!({ "pixel_id": "1" }));
    let (template, first) = store
        .install(new, revision.clone(), audit().into())
        .expect("installed");
    assert_eq!(first.number, RevisionNumber::FIRST);
    assert_eq!(template.latest_revision, 1);
    assert_eq!(template.updated_at, revision.created_at);
    assert_eq!(template.catalog_variant_key.as_deref(), Some("retail"));
    // A clash leaves nothing behind: no template, no orphan revision.
    let clash = store.install(
        new_template(&a, "installed"),
        new_revision(json!({})),
        audit().into(),
    );
    assert!(matches!(clash, Err(StoreError::NameTaken)));
    let mut raw = crate::support::Raw::connect(db);
    assert_eq!(raw.count("SELECT COUNT(*) AS n FROM revisions"), 1);
    assert_eq!(raw.count("SELECT COUNT(*) AS n FROM templates"), 1);
}

integrations_testing::backend_tests!(
    revisions_are_numbered_from_one_and_move_updated_at,
    configs_are_stored_without_loss,
    reads_revisions_by_number_and_in_pages,
    expected_latest_guards_against_stale_writes,
    concurrent_revision_creates_are_gapless,
    install_creates_template_and_first_revision_atomically,
);
