use integrations_domain::{Page, Parameters};
use integrations_ports::{PipelineChanges, PipelineStore, StoreError};
use integrations_testing::TestDb;
use serde_json::json;

use crate::support::{Raw, audit, name, new_pipeline, org, store, tick};

fn pipelines_round_trip_with_parameters(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let new = new_pipeline(
        &a,
        "Web",
        json!({ "ga4_measurement_id": "G-1", "batch": 25, "ratio": 0.5, "debug": false }),
    );
    let created = store
        .create_pipeline(new.clone(), audit().into())
        .expect("created");
    assert_eq!(created.parameters, new.parameters);
    assert_eq!(store.pipeline(&a, new.id).expect("found"), created);
    assert!(matches!(
        store.pipeline(&org("org_b"), new.id),
        Err(StoreError::NotFound)
    ));

    let replaced: Parameters = serde_json::from_value(json!({ "only": "this" })).expect("valid");
    let at = tick();
    let updated = store
        .update_pipeline(
            &a,
            new.id,
            PipelineChanges {
                secret_parameters: None,
                name: None,
                description: Some(Some(
                    integrations_domain::Description::parse("d").expect("valid"),
                )),
                parameters: Some(replaced.clone()),
                updated_at: at,
            },
            audit(),
        )
        .expect("updated");
    assert_eq!(
        updated.parameters, replaced,
        "parameters are replaced whole"
    );
    assert_eq!(updated.updated_at, at);
    assert_eq!(updated.name.as_str(), "Web");

    store
        .create_pipeline(new_pipeline(&a, "App", json!({})), audit().into())
        .expect("created");
    let listed = store.pipelines(&a, Page::default().into()).expect("listed");
    assert_eq!(listed.total, 2);
    assert_eq!(listed.items[0].name.as_str(), "App", "newest first");
    let elsewhere = PipelineChanges {
        secret_parameters: None,
        name: Some(name("X")),
        description: None,
        parameters: None,
        updated_at: tick(),
    };
    assert!(matches!(
        store.update_pipeline(&org("org_b"), new.id, elsewhere, audit()),
        Err(StoreError::NotFound)
    ));
}

fn pipeline_names_are_unique_and_deletes_are_soft(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let web = store
        .create_pipeline(new_pipeline(&a, "Web", json!({})), audit().into())
        .expect("created");
    let app = store
        .create_pipeline(new_pipeline(&a, "App", json!({})), audit().into())
        .expect("created");
    assert!(matches!(
        store.create_pipeline(new_pipeline(&a, "WEB", json!({})), audit().into()),
        Err(StoreError::NameTaken)
    ));
    let rename = PipelineChanges {
        secret_parameters: None,
        name: Some(name("web")),
        description: None,
        parameters: None,
        updated_at: tick(),
    };
    assert!(matches!(
        store.update_pipeline(&a, app.id, rename, audit()),
        Err(StoreError::NameTaken)
    ));
    assert!(matches!(
        store.delete_pipeline(&org("org_b"), web.id, tick(), audit(), &|_| audit()),
        Err(StoreError::NotFound)
    ));
    store
        .delete_pipeline(&a, web.id, tick(), audit(), &|_| audit())
        .expect("deleted");
    assert!(matches!(
        store.pipeline(&a, web.id),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_pipeline(&a, web.id, tick(), audit(), &|_| audit()),
        Err(StoreError::NotFound)
    ));
    assert!(
        store
            .create_pipeline(new_pipeline(&a, "Web", json!({})), audit().into())
            .is_ok(),
        "the name is free again"
    );
    let mut raw = Raw::connect(db);
    assert_eq!(
        raw.count("SELECT COUNT(*) AS n FROM pipelines WHERE deleted_at IS NOT NULL"),
        1
    );
}

/// Rows written before names refused format characters (or were normalised)
/// still load, exactly as stored; so do parameters over today's size limits.
fn rows_written_under_older_rules_still_load(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let new = new_pipeline(&a, "Legacy", json!({}));
    store
        .create_pipeline(new.clone(), audit().into())
        .expect("created");
    let legacy_name = "Cafe\u{301} \u{202e}gpj.exe";
    let big = "x".repeat(3 * integrations_domain::MAX_PARAM_VALUE_BYTES);
    let mut raw = Raw::connect(db);
    raw.execute(&format!(
        "UPDATE pipelines SET name = '{legacy_name}', parameters = '{{\"big\":\"{big}\"}}' WHERE id = '{}'",
        new.id
    ))
    .expect("updated in place");
    let loaded = store.pipeline(&a, new.id).expect("a legacy row loads");
    assert_eq!(loaded.name.as_str(), legacy_name);
    assert!(loaded.parameters.check_limits().is_err());
    let listed = store.pipelines(&a, Page::default().into()).expect("listed");
    assert_eq!(listed.items[0].name.as_str(), legacy_name);
}

integrations_testing::backend_tests!(
    pipelines_round_trip_with_parameters,
    pipeline_names_are_unique_and_deletes_are_soft,
    rows_written_under_older_rules_still_load,
);
