//! Engine limits over HTTP: parameter values and maps, renders refused before
//! they are allocated, at most 100 problems in a 422, and names that cannot
//! impersonate one another.

use integrations_domain::Role;
use serde_json::{Value, json};

use crate::support::{Reply, TestApp};

const PIPELINES: &str = "/v1/admin/pipelines";
const TEMPLATES: &str = "/v1/admin/integration-templates";

/// `(field, problem)` of every detail of an error body.
fn details(reply: &Reply) -> Vec<(String, String)> {
    reply.body["error"]["details"]
        .as_array()
        .map(|details| {
            details
                .iter()
                .map(|d| {
                    (
                        d["field"].as_str().unwrap_or_default().to_owned(),
                        d["problem"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(f, p)| ((*f).to_owned(), (*p).to_owned()))
        .collect()
}

fn id_of(body: &Value) -> String {
    body["id"].as_str().expect("an id").to_owned()
}

fn pipeline_count(app: &TestApp) -> u64 {
    app.get(PIPELINES, &app.owner()).expect(200).body["total"]
        .as_u64()
        .expect("a total")
}

fn a_parameter_value_is_at_most_8_kib(app: &TestApp) {
    let token = app.owner();
    let over = app
        .post(
            PIPELINES,
            &token,
            &json!({ "name": "Big", "parameters": { "big": "x".repeat(8_193), "ok": "y" } }),
        )
        .expect_error(422, "VALIDATION_FAILED");
    assert_eq!(details(&over), pairs(&[("parameters.big", "too_long")]));
    assert_eq!(pipeline_count(app), 0, "nothing was created");

    // 8 KiB of UTF-8 is the limit, counted in bytes: 4,096 two-byte characters fit.
    let created = app
        .post(
            PIPELINES,
            &token,
            &json!({ "name": "Big", "parameters": { "big": "é".repeat(4_096) } }),
        )
        .expect(201)
        .body;
    let path = format!("{PIPELINES}/{}", id_of(&created));
    let over = app
        .put(
            &path,
            &token,
            &json!({ "parameters": { "big": "é".repeat(4_097) } }),
        )
        .expect_error(422, "VALIDATION_FAILED");
    assert_eq!(details(&over), pairs(&[("parameters.big", "too_long")]));
    let kept = app.get(&path, &token).expect(200).body;
    assert_eq!(
        kept["parameters"]["big"],
        json!("é".repeat(4_096)),
        "nothing changed"
    );
}

fn a_pipeline_defines_at_most_100_parameters(app: &TestApp) {
    let token = app.owner();
    let map = |n: usize| -> Value {
        Value::Object((0..n).map(|i| (format!("k{i}"), json!(i))).collect())
    };
    let over = app
        .post(
            PIPELINES,
            &token,
            &json!({ "name": "Wide", "parameters": map(101) }),
        )
        .expect_error(422, "VALIDATION_FAILED");
    assert_eq!(details(&over), pairs(&[("parameters", "too_many")]));
    assert_eq!(pipeline_count(app), 0, "nothing was created");

    let created = app
        .post(
            PIPELINES,
            &token,
            &json!({ "name": "Wide", "parameters": map(100) }),
        )
        .expect(201)
        .body;
    let path = format!("{PIPELINES}/{}", id_of(&created));
    let over = app
        .put(&path, &token, &json!({ "parameters": map(101) }))
        .expect_error(422, "VALIDATION_FAILED");
    assert_eq!(details(&over), pairs(&[("parameters", "too_many")]));
    let kept = app.get(&path, &token).expect(200).body;
    assert_eq!(
        kept["parameters"].as_object().map(serde_json::Map::len),
        Some(100)
    );
}

/// The attack: 20,000 placeholders in one string and an 8 KiB value would
/// render 160 MB (with the old 500 KB values, 10 GB). Any viewer's read of the
/// rendered config is refused by arithmetic, before anything is rendered.
fn an_amplifying_render_is_refused_as_too_large(app: &TestApp) {
    let template = app.template("Amplifier", "webhook");
    let url = "{{pipeline_param.big}}".repeat(20_000);
    let revision = app.revision(&template, &json!({ "url": url }));
    let pipeline = app
        .post(
            PIPELINES,
            &app.owner(),
            &json!({ "name": "Target", "parameters": { "big": "x".repeat(8_192) } }),
        )
        .expect(201)
        .body;
    let pipeline = id_of(&pipeline);
    let attachment = app
        .post(
            &format!("{PIPELINES}/{pipeline}/integrations"),
            &app.owner(),
            &json!({ "integration_id": template, "revision_id": revision["id"] }),
        )
        .expect(201)
        .body;
    let path = format!(
        "{PIPELINES}/{pipeline}/integrations/{}/config",
        id_of(&attachment)
    );
    for role in [Role::Viewer, Role::Service, Role::Owner] {
        let refused = app
            .get(&path, &app.token("org_a", role))
            .expect_error(422, "VALIDATION_FAILED");
        assert_eq!(
            details(&refused),
            pairs(&[("config", "too_large")]),
            "{role:?}"
        );
        let message = refused.body["error"]["message"]
            .as_str()
            .unwrap_or_default();
        let size = r#"{"url":""}"#.len() + 20_000 * 8_192;
        assert!(message.contains(&size.to_string()), "{message}");
    }
}

/// About 1 MiB of unterminated placeholders: validation lists 100 problems
/// and counts the rest.
fn a_megabyte_of_malformed_placeholders_lists_100_problems(app: &TestApp) {
    let template = app.template("Broken", "webhook");
    let unit = "{{pipeline_param.x";
    let count = (1_048_576 - 200) / unit.len();
    let body = json!({
        "config": { "url": "https://example.com", "payload_template": unit.repeat(count) },
        "delivery_mode": "server_side"
    });
    assert!(body.to_string().len() <= 1_048_576);
    let refused = app
        .post(
            &format!("{TEMPLATES}/{template}/revisions"),
            &app.owner(),
            &body,
        )
        .expect_error(422, "VALIDATION_FAILED");
    let found = details(&refused);
    assert_eq!(found.len(), 101);
    assert!(
        found[..100]
            .iter()
            .all(|(field, problem)| field == "config.payload_template"
                && problem == "malformed_placeholder")
    );
    assert_eq!(found[100], ("config".to_owned(), "truncated".to_owned()));
    let last = &refused.body["error"]["details"][100];
    assert_eq!(last["more"], json!(count - 100));
    let listed = app
        .get(&format!("{TEMPLATES}/{template}/revisions"), &app.owner())
        .expect(200)
        .body;
    assert_eq!(listed["total"], json!(0), "nothing was stored");
}

fn names_are_normalised_and_refuse_format_characters(app: &TestApp) {
    let token = app.owner();
    for (collection, extra) in [
        (TEMPLATES, json!({ "vendor": "webhook" })),
        (PIPELINES, json!({})),
    ] {
        let body = |name: &str| {
            let mut body = extra.clone();
            body["name"] = json!(name);
            body
        };
        let created = app
            .post(collection, &token, &body("Caf\u{e9}"))
            .expect(201)
            .body;
        assert_eq!(created["name"], "Caf\u{e9}");
        app.post(collection, &token, &body("Cafe\u{301}"))
            .expect_error(409, "NAME_TAKEN");
        app.post(collection, &token, &body("CAFE\u{301}"))
            .expect_error(409, "NAME_TAKEN");
        // Stored in NFC.
        let decomposed = app
            .post(collection, &token, &body("Ole\u{301}"))
            .expect(201)
            .body;
        assert_eq!(decomposed["name"], "Ol\u{e9}");

        let refused = app
            .post(collection, &token, &body("invoice\u{202e}fdp.exe"))
            .expect_error(422, "VALIDATION_FAILED");
        assert_eq!(details(&refused), pairs(&[("name", "format_character")]));
        let refused = app
            .post(collection, &token, &body("Caf\u{200b}\u{e9}"))
            .expect_error(422, "VALIDATION_FAILED");
        assert_eq!(details(&refused), pairs(&[("name", "format_character")]));
    }
}

crate::api_tests!(
    a_parameter_value_is_at_most_8_kib,
    a_pipeline_defines_at_most_100_parameters,
    an_amplifying_render_is_refused_as_too_large,
    a_megabyte_of_malformed_placeholders_lists_100_problems,
    names_are_normalised_and_refuse_format_characters,
);
