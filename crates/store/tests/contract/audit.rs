use integrations_domain::Page;
use integrations_ports::{AuditAction, AuditStore, ResourceType, StoreError, TemplateStore};
use integrations_testing::TestDb;
use serde_json::json;

use crate::support::{Raw, audit, new_revision, new_template, org, store};

fn audit_entries_commit_and_roll_back_with_their_change(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let mut created = audit();
    created.resource_id = "first".into();
    let t = store
        .create_template(new_template(&a, "T"), created.into())
        .expect("created");
    // A refused change leaves no entry: the clash rolls the entry back too.
    let mut refused = audit();
    refused.resource_id = "refused".into();
    let clash = store.create_template(new_template(&a, "t"), refused.into());
    assert!(matches!(clash, Err(StoreError::NameTaken)));
    let mut revised = audit();
    revised.resource_id = t.id.to_string();
    revised.action = AuditAction::RevisionCreate;
    store
        .create_revision(&a, t.id, new_revision(json!({})), revised.into())
        .expect("revised");
    let log = store
        .audit_log(&a, None, Page::default().into())
        .expect("read");
    assert_eq!(log.total, 2);
    let ids: Vec<&str> = log.items.iter().map(|e| e.resource_id.as_str()).collect();
    assert_eq!(ids, [t.id.to_string().as_str(), "first"], "newest first");
    // The store adds the number it assigned to a revision's entry.
    assert_eq!(
        log.items[0].new_value,
        Some(json!({ "k": 1, "revision_number": 1 }))
    );
    assert_eq!(log.items[0].actor.as_str(), "user_123");
    // Filtered by resource, paged, and scoped to the org.
    let only = store
        .audit_log(&a, Some("first"), Page::default().into())
        .expect("read");
    assert_eq!((only.total, only.items.len()), (1, 1));
    let paged = store
        .audit_log(&a, None, Page::new(Some(1), Some(1)).expect("valid").into())
        .expect("read");
    assert_eq!(paged.items[0].resource_id, "first");
    assert_eq!(
        store
            .audit_log(&org("org_b"), None, Page::default().into())
            .expect("read")
            .total,
        0
    );
}

fn audit_values_are_stored_as_their_wire_strings(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let mut installed = audit();
    installed.action = AuditAction::TemplateInstall;
    installed.resource_type = ResourceType::Template;
    store
        .create_template(new_template(&a, "T"), installed.into())
        .expect("created");
    let mut raw = Raw::connect(db);
    assert_eq!(
        raw.count(
            "SELECT COUNT(*) AS n FROM audit_log \
             WHERE action = 'template.install' AND resource_type = 'template'"
        ),
        1
    );
    let log = store
        .audit_log(&a, None, Page::default().into())
        .expect("read");
    assert_eq!(
        (log.items[0].action, log.items[0].resource_type),
        (AuditAction::TemplateInstall, ResourceType::Template)
    );
    // A value this release does not know is reported, not guessed at.
    raw.execute("UPDATE audit_log SET action = 'template.archive'")
        .expect("updated");
    let unknown = store.audit_log(&a, None, Page::default().into());
    assert!(
        matches!(&unknown, Err(StoreError::Unexpected(err)) if err.to_string().contains("template.archive")),
        "{unknown:?}"
    );
}

integrations_testing::backend_tests!(
    audit_entries_commit_and_roll_back_with_their_change,
    audit_values_are_stored_as_their_wire_strings,
);
