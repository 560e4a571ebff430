//! A pipeline's secret parameters: write-only for every role, echo-safe,
//! one namespace with `parameters`, masked in every string they flow into
//! (for all but `service`), warned about when a secret field is filled from
//! a plain parameter, sealed at rest and never in a response, the audit log
//! or an idempotency record.

use integrations_domain::Role;
use serde_json::{Value, json};

use crate::secrets::{assert_clean, assert_storage_is_clean, new_canary};
use crate::support::{Reply, TestApp};

const ROLES: [Role; 5] = [
    Role::Owner,
    Role::Admin,
    Role::Editor,
    Role::Viewer,
    Role::Service,
];

/// A Meta template whose token comes from a parameter, and a webhook whose
/// URL (not a secret field) embeds one; returns their ids and revision ids.
fn templates(app: &TestApp) -> [(String, String); 2] {
    let meta = app.template("Meta", "meta_capi");
    let meta_rev = app.revision(
        &meta,
        &json!({ "pixel_id": "{{pipeline_param.pixel}}", "access_token": "{{pipeline_param.token}}" }),
    )["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let hook = app.template("Hook", "webhook");
    let hook_rev = app.revision(
        &hook,
        &json!({ "url": "https://hooks.example.com/{{pipeline_param.token}}/in?p={{pipeline_param.pixel}}",
                 "headers": { "X-Pixel": "{{pipeline_param.pixel}}" } }),
    )["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    [(meta, meta_rev), (hook, hook_rev)]
}

/// A pipeline with both templates attached: its id and the attachment ids.
fn pipeline_with(app: &TestApp, body: &Value) -> (String, Vec<String>) {
    let owner = app.owner();
    let pipeline = app.create_pipeline(&owner, body).expect(201);
    let id = pipeline.id();
    let attached = templates(app)
        .iter()
        .map(|(template, revision)| {
            app.attach(
                &owner,
                &id,
                &json!({ "integration_id": template, "revision_id": revision }),
            )
            .expect(201)
            .id()
        })
        .collect();
    (id, attached)
}

/// The entry of `attachment` in a pipeline-config answer.
fn entry<'a>(all: &'a Reply, attachment: &str) -> &'a Value {
    all.body["integrations"]
        .as_array()
        .and_then(|entries| entries.iter().find(|e| e["id"] == attachment))
        .unwrap_or_else(|| panic!("{attachment} in {}", all.body))
}

fn config_for(app: &TestApp, role: Role, pipeline: &str, attachment: &str) -> Reply {
    app.attachment_config(&app.token("org_a", role), pipeline, attachment)
}

fn secret_parameters_are_write_only_for_every_role(app: &TestApp) {
    let canary = new_canary();
    let owner = app.owner();
    let created = app
        .create_pipeline(
            &owner,
            &json!({ "name": "Shop", "parameters": { "pixel": "123" },
                     "secret_parameters": { "token": canary } }),
        )
        .expect(201);
    assert_eq!(created.body["secret_parameters"], json!({ "token": "***" }));
    assert_eq!(created.body["parameters"], json!({ "pixel": "123" }));
    let id = created.id();
    for role in ROLES {
        let token = app.token("org_a", role);
        let one = app.get_pipeline(&token, &id).expect(200);
        assert_eq!(
            one.body["secret_parameters"],
            json!({ "token": "***" }),
            "{role:?}"
        );
        assert_clean("GET pipeline", &one, &canary);
        let list = app.list_pipelines(&token, "").expect(200);
        assert_eq!(
            list.body["pipelines"][0]["secret_parameters"],
            json!({ "token": "***" })
        );
        assert_clean("list pipelines", &list, &canary);
    }
}

fn renders_resolve_both_maps_and_mask_every_string_a_secret_flowed_into(app: &TestApp) {
    let canary = new_canary();
    let (pipeline, attached) = pipeline_with(
        app,
        &json!({ "name": "Shop", "parameters": { "pixel": "123", "spare": 1 },
                 "secret_parameters": { "token": canary, "unused_secret": "x" } }),
    );
    let (meta, hook) = (&attached[0], &attached[1]);
    // The processor sees the values, whole and embedded.
    let service = config_for(app, Role::Service, &pipeline, meta)
        .expect(200)
        .body;
    assert_eq!(
        service["config"],
        json!({ "pixel_id": "123", "access_token": canary })
    );
    assert_eq!(
        service["unused_parameters"],
        json!(["spare", "unused_secret"])
    );
    assert_eq!(service["warnings"], json!([]));
    let service = config_for(app, Role::Service, &pipeline, hook)
        .expect(200)
        .body;
    assert_eq!(
        service["config"]["url"],
        format!("https://hooks.example.com/{canary}/in?p=123")
    );
    // Everyone else: the whole string that took the secret is masked, in a
    // secret field or not; plain values stay.
    for role in [Role::Owner, Role::Admin, Role::Editor, Role::Viewer] {
        let reply = config_for(app, role, &pipeline, meta).expect(200);
        assert_eq!(
            reply.body["config"],
            json!({ "pixel_id": "123", "access_token": "***" })
        );
        assert_clean("attachment config", &reply, &canary);
        let reply = config_for(app, role, &pipeline, hook).expect(200);
        assert_eq!(
            reply.body["config"],
            json!({ "url": "***", "headers": { "X-Pixel": "***" } }),
            "the webhook's header values are secrets of their own"
        );
        let all = app
            .pipeline_config(&app.token("org_a", role), &pipeline)
            .expect(200);
        assert_clean("pipeline config", &all, &canary);
        assert_eq!(entry(&all, hook)["config"]["url"], "***");
    }
    // A secret parameter the config needs but the pipeline lacks is missing.
    app.update_pipeline(&app.owner(), &pipeline, &json!({ "secret_parameters": {} }))
        .expect(200);
    let reply =
        config_for(app, Role::Service, &pipeline, meta).expect_error(422, "VALIDATION_FAILED");
    assert!(
        reply.has_detail("config.access_token", "missing_parameter"),
        "{}",
        reply.body
    );
}

fn a_secret_field_filled_from_a_plain_parameter_is_warned_about_and_masked(app: &TestApp) {
    let canary = new_canary();
    let (pipeline, attached) = pipeline_with(
        app,
        &json!({ "name": "Careless", "parameters": { "pixel": "123", "token": canary } }),
    );
    let warning = json!([{ "code": "SECRET_IN_PLAIN_PARAMETER", "field": "config.access_token", "parameter": "token" }]);
    let service = config_for(app, Role::Service, &pipeline, &attached[0])
        .expect(200)
        .body;
    assert_eq!(service["config"]["access_token"], canary);
    assert_eq!(service["warnings"], warning);
    for role in [Role::Owner, Role::Viewer] {
        let meta = config_for(app, role, &pipeline, &attached[0]).expect(200);
        assert_eq!(meta.body["config"]["access_token"], "***");
        assert_eq!(meta.body["warnings"], warning);
        // The webhook puts the plain `pixel` into a header value (every
        // header value is a secret): warned, and masked wherever it flows in
        // that config — the URL too.
        let hook = config_for(app, role, &pipeline, &attached[1]).expect(200);
        assert_eq!(hook.body["config"]["url"], "***");
        assert_eq!(
            hook.body["warnings"],
            json!([{ "code": "SECRET_IN_PLAIN_PARAMETER", "field": "config.headers[\"X-Pixel\"]", "parameter": "pixel" }])
        );
        let all = app
            .pipeline_config(&app.token("org_a", role), &pipeline)
            .expect(200);
        assert_eq!(entry(&all, &attached[0])["warnings"], warning);
        assert_clean("pipeline config", &all, &canary);
    }
    // The pipeline itself still shows the plain parameter as written: moving
    // it into secret_parameters is the fix. Both at once is refused…
    let both = app
        .update_pipeline(
            &app.owner(),
            &pipeline,
            &json!({ "secret_parameters": { "token": canary } }),
        )
        .expect_error(422, "VALIDATION_FAILED");
    assert!(
        both.has_detail("secret_parameters.token", "in_both"),
        "{}",
        both.body
    );
    // …so move it in one request.
    app.update_pipeline(
        &app.owner(),
        &pipeline,
        &json!({ "parameters": { "pixel": "123" }, "secret_parameters": { "token": canary } }),
    )
    .expect(200);
    let fixed = config_for(app, Role::Viewer, &pipeline, &attached[0]).expect(200);
    assert_eq!(fixed.body["warnings"], json!([]));
    assert_eq!(fixed.body["config"]["access_token"], "***");
}

fn writes_are_checked_and_an_echoed_mask_keeps_the_value(app: &TestApp) {
    let owner = app.owner();
    let canary = new_canary();
    let (pipeline, attached) = pipeline_with(
        app,
        &json!({ "name": "Echo", "parameters": { "pixel": "1" }, "secret_parameters": { "token": canary } }),
    );
    let etag = app
        .pipeline_config(&app.token("org_a", Role::Service), &pipeline)
        .expect(200)
        .header("etag")
        .expect("an ETag")
        .to_owned();
    // Round-trip what a GET shows: nothing changes, the value is kept.
    let shown = app.get_pipeline(&owner, &pipeline).expect(200).body;
    app.update_pipeline(
        &owner,
        &pipeline,
        &json!({ "secret_parameters": shown["secret_parameters"] }),
    )
    .expect(200);
    let service = config_for(app, Role::Service, &pipeline, &attached[0]).expect(200);
    assert_eq!(service.body["config"]["access_token"], canary);
    let same = app
        .pipeline_config(&app.token("org_a", Role::Service), &pipeline)
        .expect(200);
    assert_eq!(
        same.header("etag"),
        Some(etag.as_str()),
        "the same versions: the same ETag"
    );
    // A new value: a new version, a new ETag, the new value rendered.
    app.update_pipeline(
        &owner,
        &pipeline,
        &json!({ "secret_parameters": { "token": "second" } }),
    )
    .expect(200);
    let moved = app
        .pipeline_config(&app.token("org_a", Role::Service), &pipeline)
        .expect(200);
    assert_ne!(moved.header("etag"), Some(etag.as_str()));
    assert_eq!(
        entry(&moved, &attached[0])["config"]["access_token"],
        "second"
    );
}

fn bad_secret_parameters_are_refused_and_change_nothing(app: &TestApp) {
    let owner = app.owner();
    let pipeline = app
        .create_pipeline(
            &owner,
            &json!({ "name": "Checked", "parameters": { "pixel": "1" }, "secret_parameters": { "token": "t" } }),
        )
        .expect(201)
        .id();
    let before = app.get_pipeline(&owner, &pipeline).expect(200).body;
    let refused: [(Value, &str, &str); 7] = [
        (
            json!({ "secret_parameters": { "other": "***" } }),
            "secret_parameters.other",
            "no_previous_secret",
        ),
        (
            json!({ "secret_parameters": { "token": 5 } }),
            "secret_parameters.token",
            "invalid_type",
        ),
        (
            json!({ "secret_parameters": { "bad-key": "x" } }),
            "secret_parameters.bad-key",
            "invalid_key",
        ),
        (
            json!({ "secret_parameters": { "token": "x".repeat(8193) } }),
            "secret_parameters.token",
            "too_long",
        ),
        (
            json!({ "secret_parameters": (0..101).map(|i| (format!("k{i}"), json!("v"))).collect::<serde_json::Map<_, _>>() }),
            "secret_parameters",
            "too_many",
        ),
        // Only `parameters`, with a key the stored secrets have.
        (
            json!({ "parameters": { "token": "plain" } }),
            "secret_parameters.token",
            "in_both",
        ),
        (
            json!({ "parameters": { "pixel": "2" }, "secret_parameters": { "pixel": "s" } }),
            "secret_parameters.pixel",
            "in_both",
        ),
    ];
    for (body, field, problem) in refused {
        let reply = app
            .update_pipeline(&owner, &pipeline, &body)
            .expect_error(422, "VALIDATION_FAILED");
        let details = reply.details();
        assert!(
            details.iter().any(|(f, p)| f == field && p == problem),
            "{field} {problem}: {details:?}"
        );
    }
    assert_eq!(
        app.get_pipeline(&owner, &pipeline).expect(200).body,
        before,
        "nothing changed"
    );
    // `null` is not a map (as for `parameters`).
    app.update_pipeline(&owner, &pipeline, &json!({ "secret_parameters": null }))
        .expect_error(400, "INVALID_REQUEST");
    // On create, "***" has nothing to keep.
    app.create_pipeline(
        &owner,
        &json!({ "name": "Fresh", "secret_parameters": { "token": "***" } }),
    )
    .expect_error(422, "VALIDATION_FAILED");
}

fn the_audit_log_names_changed_secret_keys_never_values(app: &TestApp) {
    let owner = app.owner();
    let canary = new_canary();
    let pipeline = app
        .create_pipeline(
            &owner,
            &json!({ "name": "Audited", "secret_parameters": { "a": canary, "b": "kept" } }),
        )
        .expect(201)
        .id();
    app.update_pipeline(
        &owner,
        &pipeline,
        &json!({ "secret_parameters": { "b": "***", "c": format!("{canary}-c") } }),
    )
    .expect(200);
    app.update_pipeline(&owner, &pipeline, &json!({ "name": "Audited again" }))
        .expect(200);
    let log = app
        .audit_log(&owner, &format!("?resource_id={pipeline}"))
        .expect(200);
    assert_clean("audit log", &log, &canary);
    let entries = log.body["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 3);
    let (renamed, changed, created) = (&entries[0], &entries[1], &entries[2]);
    assert_eq!(
        created["new_value"]["secret_parameters_changed"],
        json!(["a", "b"])
    );
    assert_eq!(
        created["new_value"]["secret_parameters"],
        json!({ "a": "***", "b": "***" })
    );
    assert_eq!(
        changed["new_value"]["secret_parameters_changed"],
        json!(["a", "c"])
    );
    assert_eq!(
        changed["new_value"]["secret_parameters"],
        json!({ "b": "***", "c": "***" })
    );
    assert_eq!(
        changed["old_value"]["secret_parameters"],
        json!({ "a": "***", "b": "***" })
    );
    assert!(
        renamed["new_value"]
            .get("secret_parameters_changed")
            .is_none()
    );
}

fn a_canary_secret_parameter_is_nowhere_but_in_the_service_render(app: &TestApp) {
    let canary = new_canary();
    let marker = format!("Pipeline marker {:08x}", rand::random::<u32>());
    let owner = app.owner();
    // Created with an idempotency key, so a record of the request is stored.
    let created = app.raw_with(
        "POST",
        "/v1/admin/pipelines",
        &owner,
        &[("Idempotency-Key", "secret-params-1")],
        Some((
            "application/json",
            json!({ "name": marker, "parameters": { "pixel": "1" }, "secret_parameters": { "token": canary } })
                .to_string()
                .into_bytes(),
        )),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    assert_clean("create", &created, &canary);
    let pipeline = created.id();
    let [(meta, meta_rev), _] = templates(app);
    let attachment = app
        .attach(
            &owner,
            &pipeline,
            &json!({ "integration_id": meta, "revision_id": meta_rev }),
        )
        .expect(201)
        .id();
    app.update_pipeline(
        &owner,
        &pipeline,
        &json!({ "secret_parameters": { "token": "***" } }),
    )
    .expect(200);
    for role in ROLES {
        let token = app.token("org_a", role);
        // Every read route, answered or refused for this role.
        let reads = [
            app.get_pipeline(&token, &pipeline),
            app.list_pipelines(&token, ""),
            app.list_attachments(&token, &pipeline, ""),
            app.get_attachment(&token, &pipeline, &attachment),
            app.audit_log(&token, ""),
            app.list_templates(&token, ""),
            app.get_template(&token, &meta),
            app.list_revisions(&token, &meta, ""),
            app.get_revision(&token, &meta, 1),
            app.template_pipelines(&token, &meta, ""),
            app.list_catalog(&token),
            app.get("/v1/admin/keys", &token),
        ];
        for reply in &reads {
            assert_clean(&format!("{role:?}"), reply, &canary);
        }
        let rendered = [
            app.attachment_config(&token, &pipeline, &attachment),
            app.pipeline_config(&token, &pipeline),
        ];
        for reply in &rendered {
            assert_eq!(reply.status, 200, "{}", reply.text);
            if role == Role::Service {
                assert!(reply.text.contains(&canary), "the processor gets the value");
            } else {
                assert_clean(&format!("{role:?} render"), reply, &canary);
            }
        }
    }
    // A replayed create answers the stored response: no value in it.
    let replayed = app.raw_with(
        "POST",
        "/v1/admin/pipelines",
        &owner,
        &[("Idempotency-Key", "secret-params-1")],
        Some((
            "application/json",
            json!({ "name": marker, "parameters": { "pixel": "1" }, "secret_parameters": { "token": canary } })
                .to_string()
                .into_bytes(),
        )),
    );
    assert_eq!(replayed.status, 201);
    assert_clean("replay", &replayed, &canary);
    let stored: Vec<String> = app
        .db
        .texts("SELECT COALESCE(response_body, '') AS value FROM idempotency_keys");
    assert!(!stored.is_empty() && stored.iter().all(|t| !t.contains(&canary)));
    let columns = app
        .db
        .texts("SELECT secret_parameters || parameters AS value FROM pipelines");
    assert!(
        columns
            .iter()
            .all(|t| !t.contains(&canary) && !t.is_empty()),
        "{columns:?}"
    );
    assert_storage_is_clean(app, &canary, &marker);
    // Deleting the pipeline deletes its sealed values.
    app.delete_pipeline(&owner, &pipeline).expect(200);
    assert_eq!(
        app.db
            .texts("SELECT owner_id AS value FROM sealed_values WHERE owner_kind = 'pipeline'"),
        Vec::<String>::new()
    );
}

fn a_revisions_audit_entry_names_the_secret_fields_entered(app: &TestApp) {
    let owner = app.owner();
    let canary = new_canary();
    let hook = app.template("Hook", "webhook");
    let config = json!({ "url": "https://example.com", "signing_secret": canary,
                         "headers": { "A": "one", "B": "two" } });
    app.revision(&hook, &config);
    // Echo the signing secret and header A; enter header B again.
    app.revision(
        &hook,
        &json!({ "url": "https://example.com", "signing_secret": "***",
                 "headers": { "A": "***", "B": "two" } }),
    );
    let log = app
        .audit_log(&owner, &format!("?resource_id={hook}"))
        .expect(200);
    assert_clean("audit log", &log, &canary);
    let entries = log.body["entries"].as_array().expect("entries");
    assert_eq!(
        entries[0]["new_value"]["secret_fields_changed"],
        json!(["config.headers.B"])
    );
    assert_eq!(
        entries[1]["new_value"]["secret_fields_changed"],
        json!([
            "config.signing_secret",
            "config.headers.A",
            "config.headers.B"
        ])
    );
}

crate::api_tests!(
    a_revisions_audit_entry_names_the_secret_fields_entered,
    secret_parameters_are_write_only_for_every_role,
    renders_resolve_both_maps_and_mask_every_string_a_secret_flowed_into,
    a_secret_field_filled_from_a_plain_parameter_is_warned_about_and_masked,
    writes_are_checked_and_an_echoed_mask_keeps_the_value,
    bad_secret_parameters_are_refused_and_change_nothing,
    the_audit_log_names_changed_secret_keys_never_values,
    a_canary_secret_parameter_is_nowhere_but_in_the_service_render,
);
