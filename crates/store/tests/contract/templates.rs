use integrations_domain::{Description, Page, TemplateId};
use integrations_ports::{StoreError, TemplateChanges, TemplateStore};
use integrations_testing::TestDb;
use ulid::Ulid;

use crate::support::{Raw, audit, name, new_template, org, store, tick};

fn creates_and_reads_a_template(db: &TestDb) {
    let store = store(db);
    let new = new_template(&org("org_a"), "Meta CAPI Production");
    let created = store
        .create_template(new.clone(), audit().into())
        .expect("created");
    assert_eq!(created.id, new.id);
    assert_eq!(created.name.as_str(), "Meta CAPI Production");
    assert_eq!(created.vendor, "meta_capi");
    assert_eq!(created.latest_revision, 0);
    assert_eq!(created.created_at, new.created_at);
    assert_eq!(created.updated_at, new.created_at);
    assert_eq!(
        store.template(&org("org_a"), new.id).expect("found"),
        created
    );
    let missing = TemplateId::from_ulid(Ulid::generate());
    assert!(matches!(
        store.template(&org("org_a"), missing),
        Err(StoreError::NotFound)
    ));
}

fn names_are_unique_per_org_case_insensitively(db: &TestDb) {
    let store = store(db);
    let (a, b) = (org("org_a"), org("org_b"));
    let first = store
        .create_template(new_template(&a, "GA4 Web"), audit().into())
        .expect("created");
    for clash in ["GA4 Web", "ga4 web", "  GA4 WEB "] {
        let result = store.create_template(new_template(&a, clash), audit().into());
        assert!(matches!(result, Err(StoreError::NameTaken)), "{clash}");
    }
    assert!(
        store
            .create_template(new_template(&b, "GA4 Web"), audit().into())
            .is_ok()
    );
    // Unicode case folding, the same on every backend.
    store
        .create_template(new_template(&a, "Été"), audit().into())
        .expect("created");
    assert!(matches!(
        store.create_template(new_template(&a, "ÉTÉ"), audit().into()),
        Err(StoreError::NameTaken)
    ));
    // A deleted template's name is free again.
    store
        .delete_template(&a, first.id, tick(), None, audit())
        .expect("deleted");
    assert!(
        store
            .create_template(new_template(&a, "ga4 web"), audit().into())
            .is_ok()
    );
    assert_eq!(
        store
            .templates(&a, Page::default().into())
            .expect("listed")
            .total,
        2
    );
}

fn lists_templates_newest_first_in_windows(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let ids: Vec<TemplateId> = (0..5)
        .map(|i| {
            store
                .create_template(new_template(&a, &format!("t{i}")), audit().into())
                .expect("created")
                .id
        })
        .collect();
    store
        .create_template(new_template(&org("org_b"), "elsewhere"), audit().into())
        .expect("created");
    let all = store.templates(&a, Page::default().into()).expect("listed");
    assert_eq!(all.total, 5);
    let newest_first: Vec<TemplateId> = ids.iter().rev().copied().collect();
    assert_eq!(
        all.items.iter().map(|t| t.id).collect::<Vec<_>>(),
        newest_first
    );
    let window = store
        .templates(&a, Page::new(Some(2), Some(1)).expect("valid page").into())
        .expect("listed");
    assert_eq!(window.total, 5);
    assert_eq!(
        window.items.iter().map(|t| t.id).collect::<Vec<_>>(),
        newest_first[1..3]
    );
    let past_the_end = store
        .templates(&a, Page::new(Some(10), Some(50)).expect("valid").into())
        .expect("listed");
    assert!(past_the_end.items.is_empty());
    assert_eq!(past_the_end.total, 5);
}

fn updates_name_and_description(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let t = store
        .create_template(new_template(&a, "Old"), audit().into())
        .expect("created");
    store
        .create_template(new_template(&a, "Taken"), audit().into())
        .expect("created");
    let at = tick();
    let renamed = store
        .update_template(
            &a,
            t.id,
            TemplateChanges {
                name: Some(name("New")),
                description: None,
                updated_at: at,
                expected_updated_at: None,
            },
            audit(),
        )
        .expect("updated");
    assert_eq!(renamed.name.as_str(), "New");
    assert_eq!(renamed.description, t.description);
    assert_eq!(renamed.updated_at, at);
    assert_eq!(renamed.created_at, t.created_at);
    // Renaming to its own name in another case is not a clash with itself.
    assert!(
        store
            .update_template(
                &a,
                t.id,
                TemplateChanges {
                    name: Some(name("NEW")),
                    description: None,
                    updated_at: tick(),
                    expected_updated_at: None
                },
                audit()
            )
            .is_ok()
    );
    let clash = store.update_template(
        &a,
        t.id,
        TemplateChanges {
            name: Some(name("taken")),
            description: None,
            updated_at: tick(),
            expected_updated_at: None,
        },
        audit(),
    );
    assert!(matches!(clash, Err(StoreError::NameTaken)));
    assert_eq!(
        store.template(&a, t.id).expect("found").name.as_str(),
        "NEW"
    );
    let cleared = store
        .update_template(
            &a,
            t.id,
            TemplateChanges {
                name: None,
                description: Some(None),
                updated_at: tick(),
                expected_updated_at: None,
            },
            audit(),
        )
        .expect("updated");
    assert_eq!(cleared.description, None);
    let described = store
        .update_template(
            &a,
            t.id,
            TemplateChanges {
                name: None,
                description: Some(Some(Description::parse("x").expect("valid"))),
                updated_at: tick(),
                expected_updated_at: None,
            },
            audit(),
        )
        .expect("updated");
    assert_eq!(
        described.description.map(|d| d.as_str().to_owned()),
        Some("x".into())
    );
}

fn soft_delete_hides_the_template_and_keeps_the_row(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let t = store
        .create_template(new_template(&a, "Doomed"), audit().into())
        .expect("created");
    store
        .create_revision(
            &a,
            t.id,
            crate::support::new_revision(serde_json::json!({"k": 1})),
            audit().into(),
        )
        .expect("revised");
    store
        .delete_template(&a, t.id, tick(), None, audit())
        .expect("deleted");
    assert!(matches!(
        store.template(&a, t.id),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.revisions(&a, t.id, Page::all().into()),
        Err(StoreError::NotFound)
    ));
    let first = integrations_domain::RevisionNumber::FIRST;
    assert!(matches!(
        store.revision(&a, t.id, first),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.latest_revision(&a, t.id),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_template(&a, t.id, tick(), None, audit()),
        Err(StoreError::NotFound)
    ));
    let revise = store.create_revision(
        &a,
        t.id,
        crate::support::new_revision(serde_json::json!({})),
        audit().into(),
    );
    assert!(matches!(revise, Err(StoreError::NotFound)));
    assert_eq!(
        store
            .templates(&a, Page::default().into())
            .expect("listed")
            .total,
        0
    );
    let mut raw = Raw::connect(db);
    let kept = raw.count(&format!(
        "SELECT COUNT(*) AS n FROM templates WHERE id = '{}' AND deleted_at IS NOT NULL",
        t.id
    ));
    assert_eq!(kept, 1);
}

fn other_orgs_see_nothing(db: &TestDb) {
    let store = store(db);
    let (a, b) = (org("org_a"), org("org_b"));
    let t = store
        .create_template(new_template(&a, "Mine"), audit().into())
        .expect("created");
    store
        .create_revision(
            &a,
            t.id,
            crate::support::new_revision(serde_json::json!({})),
            audit().into(),
        )
        .expect("revised");
    assert!(matches!(
        store.template(&b, t.id),
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store
            .templates(&b, Page::default().into())
            .expect("listed")
            .total,
        0
    );
    let rename = TemplateChanges {
        name: Some(name("Theirs")),
        description: None,
        updated_at: tick(),
        expected_updated_at: None,
    };
    assert!(matches!(
        store.update_template(&b, t.id, rename, audit()),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_template(&b, t.id, tick(), None, audit()),
        Err(StoreError::NotFound)
    ));
    let revise = store.create_revision(
        &b,
        t.id,
        crate::support::new_revision(serde_json::json!({})),
        audit().into(),
    );
    assert!(matches!(revise, Err(StoreError::NotFound)));
    assert!(matches!(
        store.revisions(&b, t.id, Page::all().into()),
        Err(StoreError::NotFound)
    ));
    let first = integrations_domain::RevisionNumber::FIRST;
    assert!(matches!(
        store.revision(&b, t.id, first),
        Err(StoreError::NotFound)
    ));
    // Nothing changed for the owner.
    let mine = store.template(&a, t.id).expect("still there");
    assert_eq!((mine.name.as_str(), mine.latest_revision), ("Mine", 1));
}

integrations_testing::backend_tests!(
    creates_and_reads_a_template,
    names_are_unique_per_org_case_insensitively,
    lists_templates_newest_first_in_windows,
    updates_name_and_description,
    soft_delete_hides_the_template_and_keeps_the_row,
    other_orgs_see_nothing,
);
