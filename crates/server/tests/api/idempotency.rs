//! `Idempotency-Key` on POST (docs/api.md, "Idempotency") over HTTP.

use serde_json::json;

use crate::support::{Reply, TestApp, paths::TEMPLATES};

fn post_with_key(
    app: &TestApp,
    token: &str,
    path: &str,
    key: &str,
    body: &serde_json::Value,
) -> Reply {
    app.raw_with(
        "POST",
        path,
        token,
        &[("Idempotency-Key", key)],
        Some(("application/json", body.to_string().into_bytes())),
    )
}

fn total(app: &TestApp) -> u64 {
    app.list_templates(&app.owner(), "").expect(200).body["total"]
        .as_u64()
        .unwrap_or_default()
}

fn a_retry_replays_the_first_response_and_creates_nothing(app: &TestApp) {
    let body = json!({ "name": "Once", "vendor": "ga4" });
    let first = post_with_key(app, &app.owner(), TEMPLATES, "key-1", &body).expect(201);
    assert_eq!(first.header("idempotent-replayed"), None);
    let retry = post_with_key(app, &app.owner(), TEMPLATES, "key-1", &body).expect(201);
    assert_eq!(retry.body, first.body);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.header("location"), first.header("location"));
    assert_eq!(total(app), 1);
    // Errors are remembered too: the same request replays the same 409.
    let clash =
        post_with_key(app, &app.owner(), TEMPLATES, "key-2", &body).expect_error(409, "NAME_TAKEN");
    let again = post_with_key(app, &app.owner(), TEMPLATES, "key-2", &body).expect(409);
    assert_eq!(again.body, clash.body);
    // Revisions too.
    let id = first.body["id"].as_str().expect("an id");
    let revision = json!({ "config": { "measurement_id": "G-1", "api_secret": "s" }, "delivery_mode": "server_side" });
    let path = format!("{TEMPLATES}/{id}/revisions");
    let created = post_with_key(app, &app.owner(), &path, "rev-1", &revision).expect(201);
    assert_eq!(
        post_with_key(app, &app.owner(), &path, "rev-1", &revision)
            .expect(201)
            .body,
        created.body
    );
    assert_eq!(app.get(&path, &app.owner()).expect(200).body["total"], 1);
}

fn the_same_key_with_another_request_is_refused(app: &TestApp) {
    post_with_key(
        app,
        &app.owner(),
        TEMPLATES,
        "k",
        &json!({ "name": "A", "vendor": "ga4" }),
    )
    .expect(201);
    post_with_key(
        app,
        &app.owner(),
        TEMPLATES,
        "k",
        &json!({ "name": "B", "vendor": "ga4" }),
    )
    .expect_error(422, "IDEMPOTENCY_KEY_REUSED");
    post_with_key(
        app,
        &app.owner(),
        "/v1/admin/pipelines",
        "k",
        &json!({ "name": "A" }),
    )
    .expect_error(422, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(total(app), 1);
}

fn keys_are_scoped_per_org_and_user(app: &TestApp) {
    let body = json!({ "name": "Mine", "vendor": "ga4" });
    post_with_key(app, &app.owner(), TEMPLATES, "shared", &body).expect(201);
    // Another org and another user of the same org start afresh with the same key.
    post_with_key(
        app,
        &app.token("org_b", integrations_domain::Role::Owner),
        TEMPLATES,
        "shared",
        &body,
    )
    .expect(201);
    let other_user = app.token_for("org_a", "user_456", integrations_domain::Role::Owner);
    post_with_key(app, &other_user, TEMPLATES, "shared", &body).expect_error(409, "NAME_TAKEN");
}

fn malformed_keys_are_400(app: &TestApp) {
    for key in [" ", "ünïcode", &"k".repeat(256)] {
        let reply = post_with_key(
            app,
            &app.owner(),
            TEMPLATES,
            key,
            &json!({ "name": "X", "vendor": "ga4" }),
        );
        reply.expect_error(400, "INVALID_REQUEST");
    }
    assert_eq!(total(app), 0);
}

fn a_malformed_key_is_looked_at_only_after_authentication_and_role(app: &TestApp) {
    let body = json!({ "name": "X", "vendor": "ga4" });
    let bad_key = [("Idempotency-Key", "ünï")];
    let unauthenticated = app.send_raw(
        "POST",
        TEMPLATES,
        None,
        &bad_key,
        Some(("application/json", body.to_string().into_bytes())),
    );
    unauthenticated.expect_error(401, "MISSING_TOKEN");
    let viewer = app.token("org_a", integrations_domain::Role::Viewer);
    post_with_key(app, &viewer, TEMPLATES, "ünï", &body).expect_error(403, "FORBIDDEN");
    assert_eq!(total(app), 0);
}

/// Each creating POST records its response with its change: a retry of
/// every one of them replays the first answer and creates nothing more.
fn every_creating_post_replays(app: &TestApp) {
    let token = app.owner();
    let once = |path: &str, key: &str, body: serde_json::Value| {
        let first = post_with_key(app, &token, path, key, &body).expect(201);
        let again = post_with_key(app, &token, path, key, &body).expect(201);
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        assert_eq!(first.body, again.body);
        assert_eq!(first.header("location"), again.header("location"));
        first.body
    };
    let template = once(TEMPLATES, "t", json!({ "name": "T", "vendor": "webhook" }));
    let revisions = format!(
        "{TEMPLATES}/{}/revisions",
        template["id"].as_str().unwrap_or_default()
    );
    let revision = once(
        &revisions,
        "r",
        json!({ "config": { "url": "https://a.example" }, "delivery_mode": "server_side" }),
    );
    once(&format!("{revisions}/1/restore"), "restore", json!({}));
    let installed = once(
        "/v1/admin/integration-catalog/webhook/install",
        "install",
        json!({ "name": "Installed", "config": { "url": "https://b.example" } }),
    );
    let pipeline = once("/v1/admin/pipelines", "p", json!({ "name": "P" }));
    once(
        &format!(
            "/v1/admin/pipelines/{}/integrations",
            pipeline["id"].as_str().unwrap_or_default()
        ),
        "attach",
        json!({ "integration_id": template["id"], "revision_id": revision["id"] }),
    );
    assert_eq!(installed["revision"]["revision_number"], 1);
    let listed = app.get(&revisions, &token).expect(200);
    assert_eq!(listed.body["total"], 2, "one revision and one restore");
    assert_eq!(total(app), 2);
}

fn ten_concurrent_posts_with_one_key_create_one_object(app: &TestApp) {
    let body = json!({ "name": "Raced", "vendor": "webhook" });
    let replies: Vec<Reply> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..10)
            .map(|_| scope.spawn(|| post_with_key(app, &app.owner(), TEMPLATES, "race", &body)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("no panic"))
            .collect()
    });
    let created: Vec<&Reply> = replies.iter().filter(|r| r.status == 201).collect();
    assert!(!created.is_empty());
    let first_id = &created[0].body["id"];
    assert!(
        created.iter().all(|r| r.body["id"] == *first_id),
        "every 201 is the same object"
    );
    assert!(
        replies
            .iter()
            .all(|r| r.status == 201 || (r.status == 409 && r.code() == "IDEMPOTENCY_IN_PROGRESS")),
        "{:?}",
        replies
            .iter()
            .map(|r| (r.status, r.code().to_owned()))
            .collect::<Vec<_>>()
    );
    assert_eq!(total(app), 1);
}

crate::api_tests!(
    a_retry_replays_the_first_response_and_creates_nothing,
    the_same_key_with_another_request_is_refused,
    keys_are_scoped_per_org_and_user,
    malformed_keys_are_400,
    a_malformed_key_is_looked_at_only_after_authentication_and_role,
    every_creating_post_replays,
    ten_concurrent_posts_with_one_key_create_one_object,
);
