//! Regressions found by review and by schemathesis.

use serde_json::{Value, json};

use crate::support::{TestApp, paths::TEMPLATES};

fn control_characters_in_free_text_are_422_not_500(app: &TestApp) {
    let token = app.owner();
    let reply = app
        .create_template(
            &token,
            &json!({ "name": "T", "vendor": "ga4", "description": "nul\u{0}byte" }),
        )
        .expect_error(422, "VALIDATION_FAILED");
    assert_eq!(reply.first_field(), "description");
    let id = app.template("T", "webhook");
    app.create_revision(&token, &id, &json!({ "config": { "url": "https://a.example" }, "delivery_mode": "server_side", "change_summary": "a\u{0}b" }))
    .expect_error(422, "VALIDATION_FAILED");
    app.get("/v1/admin/audit-log?resource_id=%00", &token)
        .expect_error(422, "VALIDATION_FAILED");
    // Tabs and line breaks are fine.
    app.update_template(&token, &id, &json!({ "description": "line 1\n\tline 2" }))
        .expect(200);
}

fn configs_nested_past_the_parser_limit_are_422(app: &TestApp) {
    let id = app.template("T", "webhook");
    let mut deep = json!(1);
    for _ in 0..200 {
        deep = json!([deep]);
    }
    let body = json!({ "config": { "url": "https://a.example", "deep": deep }, "delivery_mode": "server_side" });
    let reply = app
        .create_revision(&app.owner(), &id, &body)
        .expect_error(422, "VALIDATION_FAILED");
    assert_eq!(reply.body["error"]["details"][0]["problem"], "too_deep");
}

fn lookups_come_before_validation(app: &TestApp) {
    let token = app.owner();
    let missing = "tmpl_01ARZ3NDEKTSV4RRFFQ69G5FAV";
    app.list_revisions(&token, missing, "?limit=0")
        .expect_error(404, "NOT_FOUND");
    let id = app.template("T", "webhook");
    app.raw(
        "POST",
        &format!("{TEMPLATES}/{id}/revisions/7/restore"),
        Some(&token),
        Some(("application/json", b"not json".to_vec())),
    )
    .expect_error(404, "NOT_FOUND");
    // A malformed If-Match names the latest revision.
    let reply = app
        .raw_with(
            "POST",
            &format!("{TEMPLATES}/{id}/revisions"),
            &token,
            &[("If-Match", "soon")],
            Some((
                "application/json",
                json!({ "config": { "url": "https://a.example" }, "delivery_mode": "server_side" })
                    .to_string()
                    .into_bytes(),
            )),
        )
        .expect_error(412, "PRECONDITION_FAILED");
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("latest revision is 0")
    );
}

fn placeholders_inside_secrets_count_for_every_role(app: &TestApp) {
    let token = app.owner();
    let id = app.template("Hook", "webhook");
    let revision = app.revision(
        &id,
        &json!({ "url": "https://a.example", "signing_secret": "sig-{{pipeline_param.sig}}" }),
    );
    let pipeline = app
        .create_pipeline(&token, &json!({ "name": "P" }))
        .expect(201)
        .body;
    let pid = pipeline["id"].as_str().expect("an id");
    let attached = app
        .attach(
            &token,
            pid,
            &json!({ "integration_id": id, "revision_id": revision["id"] }),
        )
        .expect(201)
        .body;
    let path = format!("/v1/admin/pipelines/{pid}/config");
    let as_viewer = app
        .get(
            &path,
            &app.token("org_a", integrations_domain::Role::Viewer),
        )
        .expect(200)
        .body;
    let as_service = app
        .get(
            &path,
            &app.token("org_a", integrations_domain::Role::Service),
        )
        .expect(200)
        .body;
    for body in [&as_viewer, &as_service] {
        assert_eq!(
            body["integrations"][0]["missing_parameters"],
            json!(["sig"]),
            "{body}"
        );
    }
    let one = format!(
        "/v1/admin/pipelines/{pid}/integrations/{}/config",
        attached["id"].as_str().expect("an id")
    );
    let reply = app
        .get(
            &one,
            &app.token("org_a", integrations_domain::Role::Service),
        )
        .expect_error(422, "VALIDATION_FAILED");
    assert_eq!(reply.first_field(), "config.signing_secret");
    // With the parameter defined, the service role sees the value, others the mask.
    app.update_pipeline(&token, pid, &json!({ "parameters": { "sig": "xyz" } }))
        .expect(200);
    let shown = |role| {
        app.get(&path, &app.token("org_a", role)).expect(200).body["integrations"][0]["config"]["signing_secret"].clone()
    };
    assert_eq!(
        shown(integrations_domain::Role::Service),
        Value::from("sig-xyz")
    );
    assert_eq!(shown(integrations_domain::Role::Viewer), Value::from("***"));
}

fn made_up_methods_do_not_become_metric_labels(app: &TestApp) {
    use std::io::{Read as _, Write as _};
    let address = app.base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).expect("connected");
    stream
        .write_all(b"BREW /v1/admin/integration-templates HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("sent");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
    let url = format!("{}/metrics", app.base);
    let body = ureq::get(&url)
        .call()
        .expect("scraped")
        .body_mut()
        .read_to_string()
        .expect("text");
    assert!(!body.contains("BREW"), "{body}");
    assert!(body.contains("method=\"OTHER\""), "{body}");
}

crate::api_tests!(
    control_characters_in_free_text_are_422_not_500,
    configs_nested_past_the_parser_limit_are_422,
    lookups_come_before_validation,
    placeholders_inside_secrets_count_for_every_role,
    made_up_methods_do_not_become_metric_labels,
);
