//! Engine limits over HTTP: parameter values and maps, renders refused before
//! they are allocated, at most 100 problems in a 422, and names that cannot
//! impersonate one another.

use integrations_domain::Role;
use serde_json::{Value, json};

use crate::support::{
    Reply, TestApp,
    paths::{PIPELINES, TEMPLATES},
};

/// `(field, problem)` of every detail of an error body.
fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(f, p)| ((*f).to_owned(), (*p).to_owned()))
        .collect()
}

fn id_of(body: &Value) -> String {
    body["id"].as_str().expect("an id").to_owned()
}

fn pipeline_count(app: &TestApp) -> u64 {
    app.list_pipelines(&app.owner(), "").expect(200).body["total"]
        .as_u64()
        .expect("a total")
}

fn a_parameter_value_is_at_most_8_kib(app: &TestApp) {
    let token = app.owner();
    let over = app
        .create_pipeline(
            &token,
            &json!({ "name": "Big", "parameters": { "big": "x".repeat(8_193), "ok": "y" } }),
        )
        .expect_error(422, "VALIDATION_FAILED");
    assert_eq!(over.details(), pairs(&[("parameters.big", "too_long")]));
    assert_eq!(pipeline_count(app), 0, "nothing was created");

    // 8 KiB of UTF-8 is the limit, counted in bytes: 4,096 two-byte characters fit.
    let created = app
        .create_pipeline(
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
    assert_eq!(over.details(), pairs(&[("parameters.big", "too_long")]));
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
        .create_pipeline(&token, &json!({ "name": "Wide", "parameters": map(101) }))
        .expect_error(422, "VALIDATION_FAILED");
    assert_eq!(over.details(), pairs(&[("parameters", "too_many")]));
    assert_eq!(pipeline_count(app), 0, "nothing was created");

    let created = app
        .create_pipeline(&token, &json!({ "name": "Wide", "parameters": map(100) }))
        .expect(201)
        .body;
    let path = format!("{PIPELINES}/{}", id_of(&created));
    let over = app
        .put(&path, &token, &json!({ "parameters": map(101) }))
        .expect_error(422, "VALIDATION_FAILED");
    assert_eq!(over.details(), pairs(&[("parameters", "too_many")]));
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
        .create_pipeline(
            &app.owner(),
            &json!({ "name": "Target", "parameters": { "big": "x".repeat(8_192) } }),
        )
        .expect(201)
        .body;
    let pipeline = id_of(&pipeline);
    let attachment = app
        .attach(
            &app.owner(),
            &pipeline,
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
            refused.details(),
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
        .create_revision(&app.owner(), &template, &body)
        .expect_error(422, "VALIDATION_FAILED");
    let found = refused.details();
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
        .list_revisions(&app.owner(), &template, "")
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
        assert_eq!(refused.details(), pairs(&[("name", "format_character")]));
        let refused = app
            .post(collection, &token, &body("Caf\u{200b}\u{e9}"))
            .expect_error(422, "VALIDATION_FAILED");
        assert_eq!(refused.details(), pairs(&[("name", "format_character")]));
    }
}

/// Creates a pipeline with `parameters` and attaches each template at the
/// given revision; returns the pipeline's id and the attachments' ids.
fn pipeline_with(
    app: &TestApp,
    parameters: &Value,
    pins: &[(String, Value)],
) -> (String, Vec<String>) {
    let pipeline = app
        .create_pipeline(
            &app.owner(),
            &json!({ "name": "Mixed", "parameters": parameters }),
        )
        .expect(201)
        .body;
    let pipeline = id_of(&pipeline);
    let attachments = pins
        .iter()
        .map(|(template, revision)| {
            let attached = app
                .attach(
                    &app.owner(),
                    &pipeline,
                    &json!({ "integration_id": template, "revision_id": revision["id"] }),
                )
                .expect(201)
                .body;
            id_of(&attached)
        })
        .collect();
    (pipeline, attachments)
}

/// The entry of the pipeline route's answer for `template`.
fn entry_for<'a>(answer: &'a Reply, template: &str) -> &'a Value {
    answer.body["integrations"]
        .as_array()
        .and_then(|entries| entries.iter().find(|e| e["integration_id"] == template))
        .unwrap_or(&Value::Null)
}

/// On the pipeline route, an attachment that cannot render keeps its place
/// with `config: null` and an `error`; the others render.
fn the_pipeline_route_reports_each_failure_in_place(app: &TestApp) {
    let amplifier = app.template("Amplifier", "webhook");
    let amplifying_revision = app.revision(
        &amplifier,
        &json!({ "url": "{{pipeline_param.big}}".repeat(20_000) }),
    );
    let plain = app.template("Plain", "webhook");
    let rendered = app.revision(
        &plain,
        &json!({ "url": "https://{{pipeline_param.host}}/hook" }),
    );
    let lacking = app.template("Lacking", "webhook");
    let missing = app.revision(&lacking, &json!({ "url": "{{pipeline_param.nowhere}}" }));
    let (pipeline, _) = pipeline_with(
        app,
        &json!({ "big": "x".repeat(8_192), "host": "a.example" }),
        &[
            (amplifier.clone(), amplifying_revision),
            (plain.clone(), rendered),
            (lacking.clone(), missing),
        ],
    );
    for role in [Role::Viewer, Role::Service] {
        let answer = app
            .pipeline_config(&app.token("org_a", role), &pipeline)
            .expect(200);
        assert_eq!(
            answer.body["integrations"].as_array().map(Vec::len),
            Some(3)
        );
        let too_large = entry_for(&answer, &amplifier);
        assert_eq!(too_large["config"], Value::Null, "{role:?}");
        assert_eq!(too_large["error"]["code"], "VALIDATION_FAILED");
        assert_eq!(too_large["error"]["problem"], "too_large");
        let fine = entry_for(&answer, &plain);
        assert_eq!(fine["config"]["url"], "https://a.example/hook");
        assert!(fine.get("error").is_none(), "{fine}");
        let lacks = entry_for(&answer, &lacking);
        assert_eq!(lacks["config"], Value::Null);
        assert_eq!(lacks["error"]["problem"], "missing_parameters");
        assert_eq!(lacks["missing_parameters"], json!(["nowhere"]));
    }
}

/// The whole pipeline answer is capped at 8 MiB: attachments past the cap
/// are reported as too large, in place, without being rendered.
fn the_pipeline_answer_is_capped_at_8_mib(app: &TestApp) {
    // Each renders to a little under 1 MiB: 127 × 8 KiB.
    let config = json!({ "url": "{{pipeline_param.big}}".repeat(127) });
    let pins: Vec<(String, Value)> = (0..9)
        .map(|i| {
            let template = app.template(&format!("Near a megabyte {i}"), "webhook");
            let revision = app.revision(&template, &config);
            (template, revision)
        })
        .collect();
    let (pipeline, _) = pipeline_with(app, &json!({ "big": "x".repeat(8_192) }), &pins);
    let answer = app.pipeline_config(&app.owner(), &pipeline).expect(200);
    let entries = answer.body["integrations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let problems: Vec<Value> = entries
        .iter()
        .map(|e| e["error"]["problem"].clone())
        .collect();
    let mut expected = vec![Value::Null; 8];
    expected.push(json!("too_large"));
    assert_eq!(problems, expected);
    assert_eq!(entries[8]["config"], Value::Null);
}

/// A secret sealed under a key this server does not have: the attachment
/// route answers 500 `KEY_UNAVAILABLE` naming only the key; the pipeline
/// route reports that attachment in place and renders the rest; readiness
/// is unaffected.
fn a_secret_under_an_unknown_key_is_reported_in_place(app: &TestApp) {
    let meta = app.template("Meta", "meta_capi");
    let sealed = app.revision(&meta, &crate::support::meta_config());
    let plain = app.template("Plain", "webhook");
    let rendered = app.revision(&plain, &json!({ "url": "https://a.example/hook" }));
    let (pipeline, attachments) = pipeline_with(
        app,
        &json!({}),
        &[(meta.clone(), sealed), (plain.clone(), rendered)],
    );
    app.db
        .execute("UPDATE sealed_values SET kid = 'retired_key'")
        .expect("the key id changes");
    let service = app.token("org_a", Role::Service);
    let refused = app
        .get(
            &format!(
                "{PIPELINES}/{pipeline}/integrations/{}/config",
                attachments[0]
            ),
            &service,
        )
        .expect_error(500, "KEY_UNAVAILABLE");
    let message = refused.body["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("retired_key"), "{message}");
    assert!(
        !refused.body.to_string().contains("canary"),
        "{}",
        refused.body
    );
    let answer = app.pipeline_config(&service, &pipeline).expect(200);
    let unavailable = entry_for(&answer, &meta);
    assert_eq!(unavailable["config"], Value::Null);
    assert_eq!(unavailable["error"]["code"], "KEY_UNAVAILABLE");
    assert_eq!(
        entry_for(&answer, &plain)["config"]["url"],
        "https://a.example/hook"
    );
    let ready = app.call("GET", "/readyz", None, None);
    assert_eq!(ready.status, 200);
}

/// The pipeline config's ETag comes from the versions of what shaped it:
/// stable while nothing changes, new on a parameter change, different for a
/// role that sees secrets.
fn the_pipeline_etag_follows_versions_not_bodies(app: &TestApp) {
    let plain = app.template("Plain", "webhook");
    let revision = app.revision(
        &plain,
        &json!({ "url": "https://{{pipeline_param.host}}/" }),
    );
    let (pipeline, _) = pipeline_with(app, &json!({ "host": "a.example" }), &[(plain, revision)]);
    let path = format!("{PIPELINES}/{pipeline}/config");
    let etag = |token: &str| {
        app.get(&path, token)
            .expect(200)
            .header("etag")
            .unwrap_or_default()
            .to_owned()
    };
    let viewer = app.token("org_a", Role::Viewer);
    let first = etag(&viewer);
    assert_eq!(etag(&viewer), first);
    assert_ne!(etag(&app.token("org_a", Role::Service)), first);
    app.update_pipeline(
        &app.owner(),
        &pipeline,
        &json!({ "parameters": { "host": "b.example" } }),
    )
    .expect(200);
    assert_ne!(etag(&viewer), first);
}

crate::api_tests!(
    the_pipeline_route_reports_each_failure_in_place,
    the_pipeline_answer_is_capped_at_8_mib,
    a_secret_under_an_unknown_key_is_reported_in_place,
    the_pipeline_etag_follows_versions_not_bodies,
    a_parameter_value_is_at_most_8_kib,
    a_pipeline_defines_at_most_100_parameters,
    an_amplifying_render_is_refused_as_too_large,
    a_megabyte_of_malformed_placeholders_lists_100_problems,
    names_are_normalised_and_refuse_format_characters,
);
