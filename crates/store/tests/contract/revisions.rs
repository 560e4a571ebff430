use std::sync::Arc;

use integrations_domain::{Page, Revision, RevisionNumber, UserId};
use integrations_ports::{
    AttachmentStore, AuditStore, Change, Claim, ClaimedKey, EventStore, EventType,
    IdempotencyScope, IdempotencyStore, PipelineStore, SealedValueStore, StoreError,
    StoredResponse, TemplateStore,
};
use integrations_testing::TestDb;
use serde_json::json;

use crate::attachments::attach_new;
use crate::sealed::sealed;
use crate::support::{
    audit, new_pipeline, new_revision, new_template, org, revision_audit, store, tick,
};

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

/// On PostgreSQL a revision is created in one statement, unless an
/// idempotency record has to join its transaction. Both ways leave the same
/// rows: the revision as returned and as read back, its sealed values, its
/// audit entry (with the number) counted in the total, and its event
/// (numbered next, with the number, listing the pipelines pinning the
/// template). On SQLite both are the same path.
#[expect(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
fn both_ways_of_creating_a_revision_leave_the_same_rows(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let t = store
        .create_template(new_template(&a, "T"), audit().into())
        .expect("created");
    let first = store
        .create_revision(&a, t.id, new_revision(json!({})), audit().into())
        .expect("revised");
    let p = store
        .create_pipeline(new_pipeline(&a, "Web", json!({})), audit().into())
        .expect("created");
    store
        .attach(&a, p.id, attach_new(t.id, first.id), audit().into())
        .expect("attached");
    let audited_before = store
        .audit_log(&a, None, Page::default().into())
        .expect("read")
        .total;
    let seq_before = store.last_seqs(std::slice::from_ref(&a)).expect("read")[0].1;

    let make = || {
        let mut revision = new_revision(json!({ "pixel_id": "1", "token": "enc:v2:x" }));
        revision.secrets = vec![sealed("token", "k1", "c1"), sealed("extra", "k1", "c2")];
        revision
    };
    let plain = make();
    let plain_entry = revision_audit(t.id, &plain);
    let by_statement = store
        .create_revision(&a, t.id, plain, plain_entry.clone().into())
        .expect("revised");
    let scope = IdempotencyScope {
        org: a.clone(),
        user: UserId::parse("user_123").expect("valid"),
        key: "k".into(),
    };
    let now = tick();
    let Claim::Fresh { token } = store
        .claim_key(&scope, "f", now, now, now)
        .expect("claimed")
    else {
        panic!("a fresh key");
    };
    let claimed = ClaimedKey { scope, token };
    let respond = |r: &Revision| StoredResponse {
        status: 201,
        body: r.id.to_string(),
        location: None,
    };
    let keyed = make();
    let keyed_entry = revision_audit(t.id, &keyed);
    let by_transaction = store
        .create_revision(
            &a,
            t.id,
            keyed,
            Change {
                audit: keyed_entry.clone(),
                replay: Some((&claimed, &respond)),
            },
        )
        .expect("revised");

    let audit_log = store
        .audit_log(&a, None, Page::default().into())
        .expect("read");
    assert_eq!(audit_log.total, audited_before + 2, "both entries counted");
    let events = store.events_after(&a, seq_before, 10).expect("read");
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [seq_before + 1, seq_before + 2],
        "numbered next, in order"
    );
    for ((made, entry), (number, event)) in [
        (&by_statement, &plain_entry),
        (&by_transaction, &keyed_entry),
    ]
    .into_iter()
    .zip([2_u32, 3].into_iter().zip(&events))
    {
        assert_eq!(made.number.get(), number);
        assert_eq!(
            &store.revision(&a, t.id, made.number).expect("read"),
            made,
            "the revision returned is the one stored"
        );
        let mut paths: Vec<String> = store
            .revision_secrets(&a, &[made.id])
            .expect("read")
            .into_iter()
            .map(|(id, secret)| {
                assert_eq!(id, made.id);
                secret.field_path
            })
            .collect();
        paths.sort();
        assert_eq!(paths, ["extra", "token"]);

        let recorded = audit_log
            .items
            .iter()
            .find(|e| e.id == entry.id)
            .expect("the entry is in the log");
        let mut expected = entry.new_value.clone().expect("a value");
        expected["revision_number"] = json!(number);
        assert_eq!(recorded.new_value.as_ref(), Some(&expected));
        assert_eq!(
            (recorded.action, &recorded.resource_id, recorded.at),
            (entry.action, &entry.resource_id, entry.at)
        );

        assert_eq!(event.event_type, EventType::RevisionCreated);
        assert_eq!(event.resource_id, made.id.to_string());
        assert_eq!(event.pipeline_ids, [p.id], "the pins of the template");
        assert_eq!(
            serde_json::Value::Object(event.data.clone()),
            json!({
                "revision_id": made.id.to_string(),
                "revision_number": number,
                "restored_from": null,
                "delivery_mode": "server_side",
                "template_id": t.id.to_string(),
            })
        );
    }
}

integrations_testing::backend_tests!(
    revisions_are_numbered_from_one_and_move_updated_at,
    configs_are_stored_without_loss,
    reads_revisions_by_number_and_in_pages,
    expected_latest_guards_against_stale_writes,
    concurrent_revision_creates_are_gapless,
    install_creates_template_and_first_revision_atomically,
    both_ways_of_creating_a_revision_leave_the_same_rows,
);
