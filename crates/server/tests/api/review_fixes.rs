//! Fixes from review: a bound on secret sub-keys, and `TEMPLATE_IN_USE`
//! details listing at most a hundred pinning pipelines.

use serde_json::{Map, Value, json};

use crate::support::{TestApp, stored_sealed};

fn headers(count: usize) -> Map<String, Value> {
    (0..count)
        .map(|i| (format!("X-H{i:03}"), json!(format!("value-{i}"))))
        .collect()
}

fn install(app: &TestApp, headers: &Map<String, Value>) -> crate::support::Reply {
    app.install(
        &app.owner(),
        "webhook",
        &json!({ "name": "Hook", "config": { "headers": headers } }),
    )
}

/// Every header value is sealed, stored and opened on its own: at most a
/// hundred of them per object, refused as a whole beyond that.
fn secret_sub_keys_are_capped_at_a_hundred(app: &TestApp) {
    let refused = install(app, &headers(101)).expect_error(422, "VALIDATION_FAILED");
    assert!(
        refused.has_detail("config.headers", "too_many"),
        "{:?}",
        refused.details()
    );
    assert!(stored_sealed(app).is_empty(), "nothing is sealed");

    let installed = install(app, &headers(100)).expect(201).body;
    let id = installed["template"]["id"].as_str().expect("an id");
    let first = stored_sealed(app);
    assert_eq!(first.len(), 100);
    // All hundred echoed as "***": kept one by one, under the same versions.
    let masked: Map<String, Value> = headers(100)
        .into_iter()
        .map(|(key, _)| (key, json!("***")))
        .collect();
    let second = app
        .create_revision(
            &app.owner(),
            id,
            &json!({ "config": { "url": "https://example.com", "headers": masked },
                     "delivery_mode": "server_side" }),
        )
        .expect(201)
        .body;
    assert_eq!(second["config"]["headers"], Value::Object(masked));
    let all = stored_sealed(app);
    assert_eq!(all.len(), 200);
    let owner = &all.last().expect("rows").owner_id;
    let mut kept: Vec<(String, String)> = all
        .iter()
        .filter(|row| &row.owner_id == owner)
        .map(|row| (row.field_path.clone(), row.version_id.clone()))
        .collect();
    let mut entered: Vec<(String, String)> = first
        .iter()
        .map(|row| (row.field_path.clone(), row.version_id.clone()))
        .collect();
    kept.sort();
    entered.sort();
    assert_eq!(kept, entered);
}

/// A template pinned by 101 pipelines: the first hundred are named (by
/// name), then one `truncated` detail counts the rest.
fn template_in_use_names_at_most_a_hundred_pipelines(app: &TestApp) {
    let template = app.template("Hook", "webhook");
    let revision = app.revision(
        &template,
        &json!({ "url": "https://example.com", "signing_secret": "s" }),
    );
    for i in 0..101 {
        let pipeline = app
            .create_pipeline(
                &app.owner(),
                &json!({ "name": format!("P{i:03}"), "parameters": {} }),
            )
            .expect(201)
            .body;
        let pipeline = pipeline["id"].as_str().expect("an id");
        app.attach(
            &app.owner(),
            pipeline,
            &json!({ "integration_id": template, "revision_id": revision["id"] }),
        )
        .expect(201);
    }
    let refused = app
        .delete_template(&app.owner(), &template)
        .expect_error(409, "TEMPLATE_IN_USE");
    let details = refused.body["error"]["details"]
        .as_array()
        .expect("details");
    assert_eq!(details.len(), 101, "{details:?}");
    let expected: Vec<String> = (0..100).map(|i| format!("P{i:03}")).collect();
    assert_eq!(refused.details_of("pipeline_name"), expected);
    assert_eq!(
        details[100],
        json!({ "field": "pipelines", "problem": "truncated", "more": 1,
                "message": "1 more pipeline(s) not listed" })
    );
    // Refused as a whole: the template is still there.
    app.get_template(&app.owner(), &template).expect(200);
}

crate::api_tests!(
    secret_sub_keys_are_capped_at_a_hundred,
    template_in_use_names_at_most_a_hundred_pipelines,
);
