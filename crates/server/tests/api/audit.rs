//! The audit log (docs/api.md, "Audit log") over HTTP: every change, its actor, old and new
//! values — never a secret.

use integrations_domain::Role;
use serde_json::{Value, json};

use crate::support::{TestApp, meta_config};

fn entries(app: &TestApp, query: &str) -> Vec<Value> {
    let body = app
        .get(&format!("/v1/admin/audit-log{query}"), &app.owner())
        .expect(200)
        .body;
    body["entries"].as_array().cloned().unwrap_or_default()
}

fn every_change_is_logged_with_actor_and_values(app: &TestApp) {
    let token = app.owner();
    let id = app.template("Meta", "meta_capi");
    app.revision(&id, &meta_config());
    app.update_template(&token, &id, &json!({ "name": "Meta 2" }))
        .expect(200);
    let pipeline = app
        .create_pipeline(&token, &json!({ "name": "Web", "parameters": { "a": 1 } }))
        .expect(201)
        .body;
    let pid = pipeline["id"].as_str().expect("an id");
    let revision = app.get_revision(&token, &id, 1).expect(200).body;
    let attached = app
        .attach(
            &token,
            pid,
            &json!({ "integration_id": id, "revision_id": revision["id"] }),
        )
        .expect(201)
        .body;
    let pi = attached["id"].as_str().expect("an id");
    app.update_attachment(&token, pid, pi, &json!({ "enabled": false }))
        .expect(200);
    app.detach(&token, pid, pi).expect(200);
    app.delete_pipeline(&token, pid).expect(200);
    app.delete_template(&token, &id).expect(200);
    // A refused change is not logged.
    app.create_template(&token, &json!({ "name": "", "vendor": "ga4" }))
        .expect(422);

    let log = entries(app, "");
    let actions: Vec<&str> = log.iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(
        actions,
        [
            "template.delete",
            "pipeline.delete",
            "attachment.delete",
            "attachment.disable",
            "attachment.create",
            "pipeline.create",
            "template.update",
            "revision.create",
            "template.create"
        ]
    );
    assert!(log.iter().all(|e| e["actor"] == "user_123"));
    let update = &log[6];
    assert_eq!(
        (
            update["resource_type"].as_str(),
            update["resource_id"].as_str()
        ),
        (Some("template"), Some(id.as_str()))
    );
    assert_eq!(update["old_value"]["name"], "Meta");
    assert_eq!(update["new_value"]["name"], "Meta 2");
    let revised = &log[7];
    assert_eq!(revised["new_value"]["revision_number"], 1);
    assert_eq!(revised["new_value"]["config"]["access_token"], "***");
    assert_eq!(revised["new_value"]["config"]["pixel_id"], "1234567890");
    assert!(
        !json!(log).to_string().contains("canary"),
        "no secret in the audit log"
    );
    assert!(
        !json!(log).to_string().contains("enc:v"),
        "not even a sealed one, nor a reference to one"
    );
    assert_eq!(log[3]["old_value"]["enabled"], true);
    assert_eq!(log[3]["new_value"]["enabled"], false);
    // Filtered by resource, paginated.
    let about = entries(app, &format!("?resource_id={id}"));
    assert_eq!(
        about.len(),
        4,
        "create, revision, update, delete of the template"
    );
    let page = app
        .get("/v1/admin/audit-log?limit=2&offset=1", &token)
        .expect(200)
        .body;
    assert_eq!(
        (
            page["total"].as_u64(),
            page["limit"].as_u64(),
            page["offset"].as_u64()
        ),
        (Some(9), Some(2), Some(1))
    );
    assert_eq!(page["entries"][0]["action"], "pipeline.delete");
}

fn the_audit_log_is_for_admins_of_the_org(app: &TestApp) {
    app.template("T", "webhook");
    for role in [Role::Editor, Role::Viewer, Role::Service] {
        app.audit_log(&app.token("org_a", role), "")
            .expect_error(403, "FORBIDDEN");
    }
    app.audit_log(&app.token("org_a", Role::Admin), "")
        .expect(200);
    let other = app
        .audit_log(&app.token("org_b", Role::Owner), "")
        .expect(200)
        .body;
    assert_eq!(other["total"], 0);
    app.get("/v1/admin/audit-log?limit=0", &app.owner())
        .expect_error(422, "VALIDATION_FAILED");
}

crate::api_tests!(
    every_change_is_logged_with_actor_and_values,
    the_audit_log_is_for_admins_of_the_org
);
