//! docs/api.md "Optimistic concurrency" and "Revisions" over HTTP: ETags and If-Match,
//! revision diffs, restores, pins.

use serde_json::{Value, json};

use crate::support::{TestApp, meta_config, paths::TEMPLATES};

fn if_match(
    app: &TestApp,
    method: &str,
    path: &str,
    tag: &str,
    body: Option<&Value>,
) -> crate::support::Reply {
    let bytes = body.map(|b| ("application/json", b.to_string().into_bytes()));
    app.raw_with(method, path, &app.owner(), &[("If-Match", tag)], bytes)
}

fn templates_carry_etags_and_honour_if_match(app: &TestApp) {
    let token = app.owner();
    let created = app
        .create_template(&token, &json!({ "name": "T", "vendor": "webhook" }))
        .expect(201);
    let id = created.body["id"].as_str().expect("an id").to_owned();
    let path = format!("{TEMPLATES}/{id}");
    let etag = created
        .header("etag")
        .expect("an ETag on create")
        .to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert_eq!(
        app.get(&path, &token).expect(200).header("etag"),
        Some(etag.as_str()),
        "stable while unchanged"
    );

    // A matching If-Match updates; the ETag moves.
    let renamed = if_match(app, "PUT", &path, &etag, Some(&json!({ "name": "T2" }))).expect(200);
    let moved = renamed.header("etag").expect("an ETag").to_owned();
    assert_ne!(moved, etag);
    // A stale If-Match changes nothing.
    if_match(app, "PUT", &path, &etag, Some(&json!({ "name": "T3" })))
        .expect_error(412, "PRECONDITION_FAILED");
    if_match(app, "DELETE", &path, &etag, None).expect_error(412, "PRECONDITION_FAILED");
    let current = app.get(&path, &token).expect(200);
    assert_eq!(current.body["name"], "T2");
    assert_eq!(current.header("etag"), Some(moved.as_str()));
    // A new revision moves the ETag too.
    app.revision(&id, &json!({ "url": "https://example.com" }));
    let after_revision = app
        .get(&path, &token)
        .expect(200)
        .header("etag")
        .map(str::to_owned);
    assert_ne!(after_revision.as_deref(), Some(moved.as_str()));
    // `*` matches any live template; the current tag deletes.
    if_match(
        app,
        "PUT",
        &path,
        "*",
        Some(&json!({ "description": "any" })),
    )
    .expect(200);
    let latest = app
        .get(&path, &token)
        .expect(200)
        .header("etag")
        .expect("an ETag")
        .to_owned();
    if_match(app, "DELETE", &path, &latest, None).expect(200);
    app.get(&path, &token).expect_error(404, "NOT_FOUND");
}

fn revision_creation_honours_if_match_on_the_latest_number(app: &TestApp) {
    let id = app.template("T", "webhook");
    let path = format!("{TEMPLATES}/{id}/revisions");
    let body = json!({ "config": { "url": "https://a.example" }, "delivery_mode": "server_side" });
    assert_eq!(
        if_match(app, "POST", &path, "\"0\"", Some(&body))
            .expect(201)
            .body["revision_number"],
        1
    );
    assert_eq!(
        if_match(app, "POST", &path, "\"1\"", Some(&body))
            .expect(201)
            .body["revision_number"],
        2
    );
    let stale =
        if_match(app, "POST", &path, "\"1\"", Some(&body)).expect_error(412, "PRECONDITION_FAILED");
    let message = stale.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("latest revision is 2"), "{message}");
    if_match(app, "POST", &path, "garbage", Some(&body)).expect_error(412, "PRECONDITION_FAILED");
    // Beyond the largest revision number: stale, not a 500 (found by schemathesis).
    if_match(app, "POST", &path, "\"2147483648\"", Some(&body))
        .expect_error(412, "PRECONDITION_FAILED");
    for beyond in ["2147483648", "4294967296"] {
        app.get(&format!("{path}/{beyond}"), &app.owner())
            .expect_error(404, "NOT_FOUND");
        app.get(&format!("{path}/1/diff/{beyond}"), &app.owner())
            .expect_error(404, "NOT_FOUND");
        app.call(
            "POST",
            &format!("{path}/{beyond}/restore"),
            Some(&app.owner()),
            None,
        )
        .expect_error(404, "NOT_FOUND");
    }
    assert_eq!(
        app.get(&path, &app.owner()).expect(200).body["total"],
        2,
        "the refused creates changed nothing"
    );
}

fn diffs_are_json_patches_without_secret_values(app: &TestApp) {
    let token = app.owner();
    let id = app.template("Meta", "meta_capi");
    app.revision(&id, &meta_config());
    let mut second = meta_config();
    second["batch_size"] = json!(500);
    second["test_event_code"] = json!("TEST123");
    second["access_token"] = json!("EAAB-rotated-canary");
    app.create_revision(
        &token,
        &id,
        &json!({ "config": second, "delivery_mode": "client_side" }),
    )
    .expect(201);
    let diff = app.diff_revisions(&token, &id, 1, 2).expect(200).body;
    assert_eq!(diff["from"], 1);
    assert_eq!(diff["to"], 2);
    assert_eq!(
        diff["delivery_mode"],
        json!({ "from": "server_side", "to": "client_side" })
    );
    let patch = diff["patch"].as_array().expect("a patch");
    assert!(
        patch.contains(&json!({ "op": "replace", "path": "/batch_size", "value": 500 })),
        "{diff}"
    );
    assert!(
        patch.contains(&json!({ "op": "add", "path": "/test_event_code", "value": "TEST123" })),
        "{diff}"
    );
    assert!(
        patch.contains(&json!({ "op": "replace", "path": "/access_token", "value": "***" })),
        "{diff}"
    );
    assert!(!diff.to_string().contains("canary"), "{diff}");
    // A diff with itself is empty; an unchanged secret (echoed) is not reported.
    let same = app.diff_revisions(&token, &id, 2, 2).expect(200).body;
    assert_eq!(
        (same["patch"].clone(), same["delivery_mode"].clone()),
        (json!([]), Value::Null)
    );
    let mut echoed = app.get_revision(&token, &id, 2).expect(200).body["config"].clone();
    echoed["batch_size"] = json!(501);
    app.create_revision(
        &token,
        &id,
        &json!({ "config": echoed, "delivery_mode": "client_side" }),
    )
    .expect(201);
    let quiet = app.diff_revisions(&token, &id, 2, 3).expect(200).body;
    assert_eq!(
        quiet["patch"],
        json!([{ "op": "replace", "path": "/batch_size", "value": 501 }])
    );
    app.diff_revisions(&token, &id, 1, 9)
        .expect_error(404, "NOT_FOUND");
}

fn restore_copies_forward(app: &TestApp) {
    let token = app.owner();
    let id = app.template("Meta", "meta_capi");
    let first = app.revision(&id, &meta_config());
    let mut changed = meta_config();
    changed["batch_size"] = json!(7);
    app.revision(&id, &changed);
    let restored = app.restore_revision(&token, &id, 1, None).expect(201).body;
    assert_eq!(restored["revision_number"], 3);
    assert_eq!(restored["restored_from"], 1);
    assert_eq!(restored["config"], first["config"]);
    assert_eq!(restored["change_summary"], "Restored from revision 1");
    let with_summary = app
        .restore_revision(
            &token,
            &id,
            2,
            Some(&json!({ "change_summary": "back to 7" })),
        )
        .expect(201)
        .body;
    assert_eq!(
        (
            with_summary["revision_number"].as_u64(),
            with_summary["change_summary"].as_str()
        ),
        (Some(4), Some("back to 7"))
    );
    // The restored secret is the original one, not the mask.
    let stored = crate::support::stored_configs(app);
    assert_eq!(stored[2]["access_token"], stored[0]["access_token"]);
    let diff = app.diff_revisions(&token, &id, 1, 3).expect(200).body;
    assert_eq!(diff["patch"], json!([]));
    app.restore_revision(&token, &id, 9, None)
        .expect_error(404, "NOT_FOUND");
    let viewer = app.token("org_a", integrations_domain::Role::Viewer);
    app.restore_revision(&viewer, &id, 1, None)
        .expect_error(403, "FORBIDDEN");
    assert_eq!(
        app.list_revisions(&token, &id, "").expect(200).body["total"],
        4
    );
}

fn pins_list_the_pipelines_using_a_template(app: &TestApp) {
    let token = app.owner();
    let id = app.template("GA4", "webhook");
    let first = app.revision(&id, &json!({ "url": "https://a.example" }));
    app.revision(&id, &json!({ "url": "https://b.example" }));
    assert_eq!(
        app.template_pipelines(&token, &id, "").expect(200).body,
        json!({ "pipelines": [], "total": 0, "limit": 50, "offset": 0 })
    );
    let web = app
        .create_pipeline(&token, &json!({ "name": "Web" }))
        .expect(201)
        .body;
    let web_id = web["id"].as_str().expect("an id");
    let attached = app
        .attach(
            &token,
            web_id,
            &json!({ "integration_id": id, "revision_id": first["id"], "enabled": false }),
        )
        .expect(201)
        .body;
    let pins = app.template_pipelines(&token, &id, "").expect(200).body;
    assert_eq!(
        pins,
        json!({ "pipelines": [{
            "pipeline_id": web_id, "pipeline_name": "Web", "attachment_id": attached["id"],
            "revision_id": first["id"], "revision_number": 1, "latest_revision": 2, "enabled": false
        }], "total": 1, "limit": 50, "offset": 0 })
    );
    app.template_pipelines(
        &app.token("org_b", integrations_domain::Role::Owner),
        &id,
        "",
    )
    .expect_error(404, "NOT_FOUND");
}

crate::api_tests!(
    templates_carry_etags_and_honour_if_match,
    revision_creation_honours_if_match_on_the_latest_number,
    diffs_are_json_patches_without_secret_values,
    restore_copies_forward,
    pins_list_the_pipelines_using_a_template,
);
