//! docs/api.md "Revisions" over HTTP: numbering, immutability, validation, masking.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::support::{TestApp, meta_config, paths};

fn seed_revisions_are_numbered_listed_and_fetched(app: &TestApp) {
    let token = app.owner();
    let id = app.template("Meta CAPI Production", "meta_capi");
    let mut created = Vec::new();
    for (batch, summary) in [
        (50, "Increased batch size"),
        (100, "Rotated access token for Q1 2026"),
    ] {
        // The seed's "Create Revision" request.
        let body = json!({
            "config": { "pixel_id": "1234567890", "access_token": "EAABsb_new_token...", "batch_size": batch, "hash_pii": true },
            "delivery_mode": "server_side",
            "change_summary": summary
        });
        let reply = app.create_revision(&token, &id, &body).expect(201);
        created.push(reply.body);
    }
    let second = &created[1];
    assert_eq!(second["revision_number"], 2);
    assert_eq!(second["integration_id"], id.as_str());
    assert_eq!(second["org_id"], "org_a");
    assert_eq!(second["created_by"], "user_123");
    assert_eq!(second["delivery_mode"], "server_side");
    assert_eq!(second["change_summary"], "Rotated access token for Q1 2026");
    assert!(second["id"].as_str().is_some_and(|r| r.starts_with("rev_")));
    // The secret is masked in every response; the other values are as sent.
    assert_eq!(
        second["config"],
        json!({ "pixel_id": "1234567890", "access_token": "***", "batch_size": 100, "hash_pii": true })
    );

    // The template's updated_at is the newest revision's created_at (the seed's two examples).
    let template = app.get_template(&token, &id).expect(200).body;
    assert_eq!(template["updated_at"], second["created_at"]);
    assert_eq!(template["latest_revision"], 2);

    // The seed's "List Revisions": newest first, all of them.
    let listed = app.list_revisions(&token, &id, "").expect(200).body;
    assert_eq!(
        listed,
        json!({ "revisions": [created[1], created[0]], "total": 2 })
    );
    let paged = app
        .get(
            &format!("{}?limit=1&offset=1", paths::revisions(&id)),
            &token,
        )
        .expect(200)
        .body;
    assert_eq!(
        paged,
        json!({ "revisions": [created[0]], "total": 2, "limit": 1, "offset": 1 })
    );

    // The seed's "Get Revision" by number.
    assert_eq!(
        app.get(&format!("{}/2", paths::revisions(&id)), &token)
            .expect(200)
            .body,
        *second
    );
    assert_eq!(
        app.get(&format!("{}/1", paths::revisions(&id)), &token)
            .expect(200)
            .body,
        created[0]
    );
    app.get(&format!("{}/3", paths::revisions(&id)), &token)
        .expect_error(404, "NOT_FOUND");
}

fn revisions_are_immutable_over_http(app: &TestApp) {
    let token = app.owner();
    let id = app.template("T", "meta_capi");
    let first = app.revision(&id, &meta_config());
    for method in ["PUT", "PATCH", "DELETE"] {
        let reply = app.call(
            method,
            &format!("{}/1", paths::revisions(&id)),
            Some(&token),
            Some(&json!({ "config": {} })),
        );
        let reply = reply.expect_error(405, "METHOD_NOT_ALLOWED");
        assert_eq!(reply.header("allow"), Some("GET"));
    }
    assert_eq!(
        app.get(&format!("{}/1", paths::revisions(&id)), &token)
            .expect(200)
            .body,
        first
    );
}

fn configs_are_validated_against_the_vendor(app: &TestApp) {
    let token = app.owner();
    let id = app.template("T", "meta_capi");
    let reply = app
        .create_revision(&token, &id, &json!({ "config": { "pixel_id": 42, "batch_size": "{{pipeline_param.batch}}" }, "delivery_mode": "client_side" }))
        .expect_error(422, "VALIDATION_FAILED");
    assert!(
        reply.has_detail("config.pixel_id", "invalid_type"),
        "{:?}",
        reply.details()
    );
    assert!(
        reply.has_detail("config.access_token", "required"),
        "{:?}",
        reply.details()
    );
    assert_eq!(
        app.list_revisions(&token, &id, "").expect(200).body["total"],
        0,
        "nothing was created"
    );
    // Unknown keys and whole placeholders are fine; the seed's GA4 example validates.
    let ga4 = app.template("GA4", "ga4");
    let seed = json!({
        "config": { "measurement_id": "{{pipeline_param.ga4_measurement_id}}", "api_secret": "{{pipeline_param.ga4_api_secret}}", "debug_mode": false, "extra": { "any": [1] } },
        "delivery_mode": "server_side",
        "change_summary": "GA4 config with pipeline parameter references"
    });
    let created = app.create_revision(&token, &ga4, &seed).expect(201).body;
    // A placeholder in a secret field is a name, not a secret: it is shown.
    assert_eq!(
        created["config"]["api_secret"],
        "{{pipeline_param.ga4_api_secret}}"
    );
}

fn an_echoed_mask_keeps_the_secret(app: &TestApp) {
    let token = app.owner();
    let id = app.template("T", "meta_capi");
    let first = app.revision(&id, &meta_config());
    // Round-trip what we read, changing only the batch size.
    let mut config = first["config"].clone();
    config["batch_size"] = json!(250);
    assert_eq!(config["access_token"], "***");
    let second = app.revision(&id, &config);
    assert_eq!(second["config"]["access_token"], "***");
    assert_eq!(second["config"]["batch_size"], 250);
    // The stored value is the first revision's secret, not "***" (checked through the database).
    let stored: Vec<Value> = crate::support::stored_configs(app);
    assert_eq!(stored.len(), 2);
    assert!(
        stored.iter().all(|c| c["access_token"] != "***"),
        "{stored:?}"
    );
    assert_eq!(stored[0]["access_token"], stored[1]["access_token"]);
    // Echoing the mask with no earlier value is refused.
    let fresh = app.template("U", "meta_capi");
    let reply = app
        .create_revision(&token, &fresh, &json!({ "config": { "pixel_id": "1", "access_token": "***" }, "delivery_mode": "server_side" }))
        .expect_error(422, "VALIDATION_FAILED");
    assert_eq!(
        reply.details()[..1],
        [("config.access_token".into(), "no_previous_secret".into())]
    );
}

fn concurrent_creates_are_numbered_one_to_forty(app: &TestApp) {
    const WRITERS: u64 = 40;
    let id = Arc::new(app.template("Hot", "webhook"));
    let numbers: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|i| {
                let id = Arc::clone(&id);
                scope.spawn(move || {
                    let config = json!({ "url": format!("https://example.com/{i}") });
                    app.revision(&id, &config)["revision_number"]
                        .as_u64()
                        .expect("a number")
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("no panic"))
            .collect()
    });
    let mut sorted = numbers;
    sorted.sort_unstable();
    assert_eq!(sorted, (1..=WRITERS).collect::<Vec<_>>());
    let listed = app.list_revisions(&app.owner(), &id, "").expect(200).body;
    assert_eq!(listed["total"], WRITERS);
}

crate::api_tests!(
    seed_revisions_are_numbered_listed_and_fetched,
    revisions_are_immutable_over_http,
    configs_are_validated_against_the_vendor,
    an_echoed_mask_keeps_the_secret,
    concurrent_creates_are_numbered_one_to_forty,
);
