//! docs/api.md "Pipeline integrations and rendered configs" and "Secrets" over HTTP: pipeline integrations, rendered configs with the
//! pipeline's parameters substituted, secrets, and the pipeline config's `ETag`.

use std::sync::Barrier;

use integrations_domain::Role;
use serde_json::{Value, json};

use crate::support::{Reply, TestApp, meta_config, paths};

const UNKNOWN_PIPELINE: &str = "pip_01ARZ3NDEKTSV4RRFFQ69G5FAV";
const UNKNOWN_TEMPLATE: &str = "tmpl_01ARZ3NDEKTSV4RRFFQ69G5FAV";
const UNKNOWN_REVISION: &str = "rev_01ARZ3NDEKTSV4RRFFQ69G5FAV";
const UNKNOWN_ATTACHMENT: &str = "pi_01ARZ3NDEKTSV4RRFFQ69G5FAV";

fn id_of(body: &Value) -> String {
    body["id"].as_str().expect("an id").to_owned()
}

/// Creates a pipeline in `org_a` (as owner) and returns its id.
fn pipeline(app: &TestApp, name: &str, parameters: &Value) -> String {
    let body = app
        .create_pipeline(
            &app.owner(),
            &json!({ "name": name, "parameters": parameters }),
        )
        .expect(201)
        .body;
    id_of(&body)
}

/// Attaches `revision` (a revision body) of `template` to `pipeline` as owner; returns the attachment.
fn attach(app: &TestApp, pipeline: &str, template: &str, revision: &Value) -> Value {
    app.attach(
        &app.owner(),
        pipeline,
        &json!({ "integration_id": template, "revision_id": revision["id"] }),
    )
    .expect(201)
    .body
}

/// A webhook template with one revision of `config`: (template id, revision body).
fn webhook(app: &TestApp, name: &str, config: &Value) -> (String, Value) {
    let template = app.template(name, "webhook");
    let revision = app.revision(&template, config);
    (template, revision)
}

/// `(field, problem)` of every detail of an error body.
/// A GET of the pipeline config, with `If-None-Match` when given; also returns the raw body.
fn pipeline_config(
    app: &TestApp,
    pipeline: &str,
    token: &str,
    if_none_match: Option<&str>,
) -> (Reply, String) {
    let headers: Vec<(&str, &str)> = if_none_match
        .map(|tag| ("If-None-Match", tag))
        .into_iter()
        .collect();
    let reply = app.send_raw(
        "GET",
        &paths::pipeline_config(pipeline),
        Some(token),
        &headers,
        None,
    );
    let text = reply.text.clone();
    (reply, text)
}

/// The pipeline config's current `ETag` for `token` (asserting a 200 with a strong tag).
fn etag(app: &TestApp, pipeline: &str, token: &str) -> String {
    let (reply, _) = pipeline_config(app, pipeline, token, None);
    let reply = reply.expect(200);
    let tag = reply.header("etag").expect("an ETag").to_owned();
    assert!(
        tag.starts_with('"') && tag.ends_with('"') && tag.len() > 2,
        "a strong ETag: {tag}"
    );
    tag
}

#[expect(clippy::too_many_lines, reason = "one scenario, step by step")]
fn attachments_are_attached_listed_fetched_repinned_toggled_and_detached(app: &TestApp) {
    let token = app.owner();
    let editor = app.token("org_a", Role::Editor);
    let meta = app.template("Meta CAPI Production", "meta_capi");
    let first = app.revision(&meta, &meta_config());
    let mut second_config = meta_config();
    second_config["batch_size"] = json!(50);
    let second = app.revision(&meta, &second_config);
    let web = pipeline(app, "Web", &json!({}));

    // An editor attaches; enabled defaults to true.
    let created = app
        .attach(
            &editor,
            &web,
            &json!({ "integration_id": meta, "revision_id": first["id"] }),
        )
        .expect(201);
    let attachment = created.body.clone();
    let id = id_of(&attachment);
    assert!(id.starts_with("pi_") && id.len() == 29, "{id}");
    assert_eq!(
        created.header("location"),
        Some(paths::attachment(&web, &id).as_str())
    );
    let mut keys: Vec<&str> = attachment
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "created_at",
            "enabled",
            "id",
            "integration_id",
            "integration_name",
            "latest_revision",
            "pipeline_id",
            "revision_id",
            "revision_number",
            "updated_at",
            "vendor"
        ]
    );
    assert_eq!(attachment["pipeline_id"], web.as_str());
    assert_eq!(attachment["integration_id"], meta.as_str());
    assert_eq!(attachment["integration_name"], "Meta CAPI Production");
    assert_eq!(attachment["vendor"], "meta_capi");
    assert_eq!(attachment["revision_id"], first["id"]);
    assert_eq!(attachment["revision_number"], 1);
    assert_eq!(attachment["latest_revision"], 2);
    assert_eq!(attachment["enabled"], true);
    assert_eq!(attachment["created_at"], attachment["updated_at"]);
    assert_eq!(
        app.get_attachment(&token, &web, &id).expect(200).body,
        attachment
    );

    // A second template, attached disabled; lists are newest first.
    let (hook, hook_revision) = webhook(app, "Hook", &json!({ "url": "https://example.com/a" }));
    let disabled = app
        .attach(&token, &web, &json!({ "integration_id": hook, "revision_id": hook_revision["id"], "enabled": false }))
        .expect(201)
        .body;
    assert_eq!(disabled["enabled"], false);
    assert_eq!(disabled["vendor"], "webhook");
    assert_eq!(
        (&disabled["revision_number"], &disabled["latest_revision"]),
        (&json!(1), &json!(1))
    );
    assert_eq!(
        app.list_attachments(&app.token("org_a", Role::Viewer), &web, "")
            .expect(200)
            .body,
        json!({ "integrations": [disabled, attachment] })
    );

    // A new revision upgrades nothing: the pin stays, latest_revision shows the newer one.
    let third = app.revision(&meta, &meta_config());
    let stale = app.get_attachment(&token, &web, &id).expect(200).body;
    assert_eq!(stale["revision_number"], 1);
    assert_eq!(stale["revision_id"], first["id"]);
    assert_eq!(stale["latest_revision"], 3);
    let rendered = app.attachment_config(&token, &web, &id).expect(200).body;
    assert_eq!(rendered["revision_number"], 1);
    assert_eq!(rendered["config"]["batch_size"], 100);

    // Template renames show through.
    app.update_template(&token, &meta, &json!({ "name": "Meta CAPI - E-commerce" }))
        .expect(200);
    assert_eq!(
        app.get_attachment(&token, &web, &id).expect(200).body["integration_name"],
        "Meta CAPI - E-commerce"
    );

    // Re-pin (an editor may), then disable: each keeps the other's value.
    let repinned = app
        .update_attachment(&editor, &web, &id, &json!({ "revision_id": second["id"] }))
        .expect(200)
        .body;
    assert_eq!(repinned["revision_id"], second["id"]);
    assert_eq!(repinned["revision_number"], 2);
    assert_eq!(repinned["latest_revision"], 3);
    assert_eq!(repinned["enabled"], true);
    assert_eq!(repinned["created_at"], attachment["created_at"]);
    assert_ne!(repinned["updated_at"], attachment["updated_at"]);
    assert_eq!(
        app.attachment_config(&token, &web, &id).expect(200).body["config"]["batch_size"],
        50,
        "the rendered config follows the pin"
    );
    let toggled = app
        .update_attachment(&editor, &web, &id, &json!({ "enabled": false }))
        .expect(200)
        .body;
    assert_eq!(toggled["enabled"], false);
    assert_eq!(toggled["revision_number"], 2);
    let both = app
        .update_attachment(
            &token,
            &web,
            &id,
            &json!({ "enabled": true, "revision_id": third["id"] }),
        )
        .expect(200)
        .body;
    assert_eq!(
        (&both["enabled"], &both["revision_number"]),
        (&json!(true), &json!(3))
    );

    // Bad updates change nothing.
    app.update_attachment(&token, &web, &id, &json!({}))
        .expect_error(422, "VALIDATION_FAILED");
    let reply = app
        .update_attachment(
            &token,
            &web,
            &id,
            &json!({ "revision_id": hook_revision["id"] }),
        )
        .expect_error(422, "VALIDATION_FAILED");
    assert_eq!(reply.fields(), ["revision_id"]);
    for bad in ["garbage", UNKNOWN_REVISION] {
        let reply = app
            .update_attachment(&token, &web, &id, &json!({ "revision_id": bad }))
            .expect_error(422, "VALIDATION_FAILED");
        assert_eq!(reply.fields(), ["revision_id"], "{bad}");
    }
    for body in [
        json!({ "enabled": "yes" }),
        json!({ "integration_id": hook }),
        json!({ "pipeline_id": web }),
    ] {
        app.update_attachment(&token, &web, &id, &body)
            .expect_error(400, "INVALID_REQUEST");
    }
    assert_eq!(app.get_attachment(&token, &web, &id).expect(200).body, both);

    // Detaching needs admin.
    app.detach(&editor, &web, &id)
        .expect_error(403, "FORBIDDEN");
    let admin = app.token("org_a", Role::Admin);
    assert_eq!(
        app.detach(&admin, &web, &id).expect(200).body,
        json!({ "status": "deleted" })
    );
    for path in [
        paths::attachment(&web, &id),
        paths::attachment_config(&web, &id),
    ] {
        app.get(&path, &token).expect_error(404, "NOT_FOUND");
    }
    app.update_attachment(&token, &web, &id, &json!({ "enabled": true }))
        .expect_error(404, "NOT_FOUND");
    app.detach(&admin, &web, &id).expect_error(404, "NOT_FOUND");
    let listed = app.list_attachments(&token, &web, "").expect(200).body;
    assert_eq!(listed["integrations"].as_array().map(Vec::len), Some(1));
    assert_eq!(listed["integrations"][0]["id"], disabled["id"]);

    // Detached, the template may be attached again.
    let again = attach(app, &web, &meta, &third);
    assert_ne!(again["id"], json!(id));
    assert_eq!(again["revision_number"], 3);
}

fn one_attachment_per_template_and_references_are_checked(app: &TestApp) {
    let token = app.owner();
    let (hook, first) = webhook(app, "Hook", &json!({ "url": "https://example.com/1" }));
    let second = app.revision(&hook, &json!({ "url": "https://example.com/2" }));
    let (other, other_revision) = webhook(app, "Other", &json!({ "url": "https://example.com/o" }));
    let web = pipeline(app, "Web", &json!({}));
    let app_pipeline = pipeline(app, "App", &json!({}));
    attach(app, &web, &hook, &first);

    // One attachment per (pipeline, template), whatever the revision.
    for revision in [&first, &second] {
        app.attach(
            &token,
            &web,
            &json!({ "integration_id": hook, "revision_id": revision["id"], "enabled": false }),
        )
        .expect_error(409, "ALREADY_ATTACHED");
    }
    // Another pipeline may attach the same template.
    attach(app, &app_pipeline, &hook, &second);

    // A revision of another template.
    let reply = app
        .attach(
            &token,
            &web,
            &json!({ "integration_id": other, "revision_id": first["id"] }),
        )
        .expect_error(422, "VALIDATION_FAILED");
    assert_eq!(reply.fields(), ["revision_id"]);

    // Malformed or unknown references name their field.
    let org_b_template = app
        .create_template(
            &app.token("org_b", Role::Owner),
            &json!({ "name": "Theirs", "vendor": "webhook" }),
        )
        .expect(201)
        .body;
    let org_b_template = id_of(&org_b_template);
    let deleted = app.template("Gone", "webhook");
    let deleted_revision = app.revision(&deleted, &json!({ "url": "https://example.com/gone" }));
    app.delete_template(&token, &deleted).expect(200);
    for bad in [
        "nope",
        "tmpl_",
        UNKNOWN_TEMPLATE,
        org_b_template.as_str(),
        deleted.as_str(),
        other_revision["id"].as_str().expect("an id"),
    ] {
        let reply = app
            .attach(
                &token,
                &web,
                &json!({ "integration_id": bad, "revision_id": other_revision["id"] }),
            )
            .expect_error(422, "VALIDATION_FAILED");
        assert_eq!(reply.fields(), ["integration_id"], "{bad}");
    }
    for bad in [
        "nope",
        "rev_",
        UNKNOWN_REVISION,
        other.as_str(),
        deleted_revision["id"].as_str().expect("an id"),
    ] {
        let reply = app
            .attach(
                &token,
                &web,
                &json!({ "integration_id": other, "revision_id": bad }),
            )
            .expect_error(422, "VALIDATION_FAILED");
        assert_eq!(reply.fields(), ["revision_id"], "{bad}");
    }
    // Malformed bodies.
    for body in [
        json!({ "integration_id": other }),
        json!({ "revision_id": other_revision["id"] }),
        json!({ "integration_id": other, "revision_id": other_revision["id"], "enabled": "no" }),
        json!({ "integration_id": other, "revision_id": other_revision["id"], "id": "pi_x" }),
        json!({ "integration_id": other, "revision_id": other_revision["id"], "revision_number": 1 }),
    ] {
        app.attach(&token, &web, &body)
            .expect_error(400, "INVALID_REQUEST");
    }
    let listed = app.list_attachments(&token, &web, "").expect(200).body;
    assert_eq!(
        listed["integrations"].as_array().map(Vec::len),
        Some(1),
        "nothing else was attached: {listed}"
    );
    // And the template that was refused above attaches fine.
    attach(app, &web, &other, &other_revision);
}

fn attachment_roles_and_tenancy(app: &TestApp) {
    let viewer = app.token("org_a", Role::Viewer);
    let editor = app.token("org_a", Role::Editor);
    let admin = app.token("org_a", Role::Admin);
    let service = app.token("org_a", Role::Service);
    let stranger = app.token("org_b", Role::Owner);
    let (hook, revision) = webhook(app, "Hook", &json!({ "url": "https://example.com/h" }));
    let (spare, spare_revision) = webhook(app, "Spare", &json!({ "url": "https://example.com/s" }));
    let web = pipeline(app, "Web", &json!({}));
    let other = pipeline(app, "App", &json!({}));
    let body = json!({ "integration_id": hook, "revision_id": revision["id"] });

    // Attaching needs editor.
    for reader in [&viewer, &service] {
        app.attach(reader, &web, &body)
            .expect_error(403, "FORBIDDEN");
    }
    // The role comes before the pipeline lookup and the body.
    app.attach(&viewer, UNKNOWN_PIPELINE, &json!({ "bogus": true }))
        .expect_error(403, "FORBIDDEN");
    let attachment = app.attach(&editor, &web, &body).expect(201).body;
    let id = id_of(&attachment);
    let path = paths::attachment(&web, &id);

    // Everyone in the org reads.
    for reader in [&viewer, &service, &editor] {
        assert_eq!(app.get(&path, reader).expect(200).body, attachment);
        assert_eq!(
            app.list_attachments(reader, &web, "").expect(200).body,
            json!({ "integrations": [attachment] })
        );
        app.attachment_config(reader, &web, &id).expect(200);
        app.pipeline_config(reader, &web).expect(200);
    }
    // Re-pinning, enabling and disabling need editor.
    for reader in [&viewer, &service] {
        app.put(&path, reader, &json!({ "enabled": false }))
            .expect_error(403, "FORBIDDEN");
        app.put(&path, reader, &json!({ "revision_id": revision["id"] }))
            .expect_error(403, "FORBIDDEN");
    }
    app.put(&path, &editor, &json!({ "enabled": false }))
        .expect(200);
    app.put(&path, &editor, &json!({ "enabled": true }))
        .expect(200);
    // Detaching needs admin.
    for below in [&viewer, &service, &editor] {
        app.delete(&path, below).expect_error(403, "FORBIDDEN");
    }

    // Another org: every route is a 404, as for ids that do not exist.
    let foreign = [
        ("GET", paths::attachments(&web)),
        ("POST", paths::attachments(&web)),
        ("GET", path.clone()),
        ("PUT", path.clone()),
        ("DELETE", path.clone()),
        ("GET", paths::attachment_config(&web, &id)),
        ("GET", paths::pipeline_config(&web)),
    ];
    for (method, target) in &foreign {
        let body = match *method {
            "POST" => Some(json!({ "integration_id": spare, "revision_id": spare_revision["id"] })),
            "PUT" => Some(json!({ "enabled": false })),
            _ => None,
        };
        app.call(method, target, Some(&stranger), body.as_ref())
            .expect_error(404, "NOT_FOUND");
    }
    // An attachment id under another pipeline of the org, an unknown one, a malformed one.
    for target in [
        paths::attachment(&other, &id),
        paths::attachment(&web, UNKNOWN_ATTACHMENT),
        paths::attachment(&web, "nope"),
        paths::attachment(&web, &hook),
        paths::attachment(UNKNOWN_PIPELINE, &id),
    ] {
        app.get(&target, &admin).expect_error(404, "NOT_FOUND");
        app.get(&format!("{target}/config"), &admin)
            .expect_error(404, "NOT_FOUND");
        app.put(&target, &admin, &json!({ "enabled": false }))
            .expect_error(404, "NOT_FOUND");
        app.delete(&target, &admin).expect_error(404, "NOT_FOUND");
    }
    for target in [
        paths::attachments(UNKNOWN_PIPELINE),
        paths::pipeline_config(UNKNOWN_PIPELINE),
        paths::attachments("nope"),
        paths::pipeline_config("nope"),
    ] {
        app.get(&target, &admin).expect_error(404, "NOT_FOUND");
    }
    app.attach(&admin, UNKNOWN_PIPELINE, &body)
        .expect_error(404, "NOT_FOUND");
    // No token.
    assert_eq!(app.call("GET", &path, None, None).status, 401);
    assert_eq!(
        app.call("GET", &paths::pipeline_config(&web), None, None)
            .status,
        401
    );

    assert_eq!(
        app.get(&path, &admin).expect(200).body["enabled"],
        true,
        "nothing above changed it"
    );
    app.delete(&path, &admin).expect(200);
}

fn deleting_an_attached_template_is_refused_naming_the_pipelines(app: &TestApp) {
    let token = app.owner();
    let (hook, revision) = webhook(app, "Hook", &json!({ "url": "https://example.com/h" }));
    let web = pipeline(app, "Web", &json!({}));
    let shop = pipeline(app, "Shop", &json!({}));
    let untouched = pipeline(app, "Untouched", &json!({}));
    let on_web = attach(app, &web, &hook, &revision);
    let on_shop = attach(app, &shop, &hook, &revision);
    // A disabled attachment still pins the template.
    app.update_attachment(
        &token,
        &shop,
        &id_of(&on_shop),
        &json!({ "enabled": false }),
    )
    .expect(200);

    let pipelines_named = |reply: &Reply| {
        let mut named: Vec<(String, String)> = reply.body["error"]["details"]
            .as_array()
            .expect("details")
            .iter()
            .map(|d| {
                (
                    d["pipeline_id"].as_str().expect("a pipeline_id").to_owned(),
                    d["pipeline_name"]
                        .as_str()
                        .expect("a pipeline_name")
                        .to_owned(),
                )
            })
            .collect();
        named.sort_unstable();
        named
    };
    let reply = app
        .delete_template(&token, &hook)
        .expect_error(409, "TEMPLATE_IN_USE");
    let mut expected = vec![
        (web.clone(), "Web".to_owned()),
        (shop.clone(), "Shop".to_owned()),
    ];
    expected.sort_unstable();
    assert_eq!(pipelines_named(&reply), expected);
    assert!(
        !reply.body.to_string().contains(&untouched),
        "{}",
        reply.body
    );
    // The template and its attachments are all still there.
    app.get_template(&token, &hook).expect(200);
    app.get_attachment(&token, &web, &id_of(&on_web))
        .expect(200);

    app.detach(&token, &web, &id_of(&on_web)).expect(200);
    let reply = app
        .delete_template(&token, &hook)
        .expect_error(409, "TEMPLATE_IN_USE");
    assert_eq!(pipelines_named(&reply), [(shop.clone(), "Shop".to_owned())]);
    app.detach(&token, &shop, &id_of(&on_shop)).expect(200);
    app.delete_template(&token, &hook).expect(200);
    app.get_template(&token, &hook)
        .expect_error(404, "NOT_FOUND");
}

fn concurrent_attach_and_delete_never_leave_a_dangling_attachment(app: &TestApp) {
    const ROUNDS: usize = 24;
    let token = app.owner();
    let web = pipeline(app, "Web", &json!({}));
    let (mut attach_won, mut delete_won) = (0, 0);
    for round in 0..ROUNDS {
        let (template, revision) = webhook(
            app,
            &format!("Racer {round}"),
            &json!({ "url": format!("https://example.com/{round}") }),
        );
        let start = Barrier::new(2);
        let (attached, deleted) = std::thread::scope(|scope| {
            let attacher = scope.spawn(|| {
                start.wait();
                app.attach(
                    &token,
                    &web,
                    &json!({ "integration_id": template, "revision_id": revision["id"] }),
                )
            });
            let deleter = scope.spawn(|| {
                start.wait();
                app.delete_template(&token, &template)
            });
            (
                attacher.join().expect("no panic"),
                deleter.join().expect("no panic"),
            )
        });
        match (attached.status, deleted.status) {
            (201, 409) => {
                assert_eq!(deleted.code(), "TEMPLATE_IN_USE", "{}", deleted.body);
                attach_won += 1;
                app.get_template(&token, &template).expect(200);
                app.get_attachment(&token, &web, &id_of(&attached.body))
                    .expect(200);
            }
            (422, 200) => {
                assert_eq!(attached.fields(), ["integration_id"], "{}", attached.body);
                delete_won += 1;
                app.get_template(&token, &template)
                    .expect_error(404, "NOT_FOUND");
            }
            other => panic!(
                "round {round}: exactly one must win, got {other:?}: {} / {}",
                attached.body, deleted.body
            ),
        }
    }
    assert_eq!(attach_won + delete_won, ROUNDS);
    let dangling = app.db.texts(
        "SELECT CAST(COUNT(*) AS TEXT) AS value FROM attachments a JOIN templates t ON t.id = a.template_id WHERE t.deleted_at IS NOT NULL",
    );
    assert_eq!(dangling, ["0"]);
    let listed = app.list_attachments(&token, &web, "").expect(200).body;
    assert_eq!(
        listed["integrations"].as_array().map(Vec::len),
        Some(attach_won)
    );
}

fn the_seed_ga4_example_renders_exactly(app: &TestApp) {
    let ga4 = app.template("GA4 web", "ga4");
    let revision = app
        .post(
            &format!("{}/revisions", paths::template(&ga4)),
            &app.owner(),
            &json!({
                "config": {
                    "measurement_id": "{{pipeline_param.ga4_measurement_id}}",
                    "api_secret": "{{pipeline_param.ga4_api_secret}}",
                    "debug_mode": false
                },
                "delivery_mode": "server_side",
                "change_summary": "GA4 config with pipeline parameter references"
            }),
        )
        .expect(201)
        .body;
    let web = pipeline(
        app,
        "Web",
        &json!({ "ga4_measurement_id": "G-ABC123XYZ", "ga4_api_secret": "sEcReT-ga4-canary" }),
    );
    let attachment = attach(app, &web, &ga4, &revision);
    let id = id_of(&attachment);
    let service = app.token("org_a", Role::Service);

    // The event processor gets exactly the substituted object, secret in clear.
    let rendered = app.attachment_config(&service, &web, &id).expect(200).body;
    assert_eq!(
        rendered["config"],
        json!({ "measurement_id": "G-ABC123XYZ", "api_secret": "sEcReT-ga4-canary", "debug_mode": false })
    );
    assert_eq!(rendered["id"], id.as_str());
    assert_eq!(rendered["integration_id"], ga4.as_str());
    assert_eq!(rendered["vendor"], "ga4");
    assert_eq!(rendered["revision_id"], revision["id"]);
    assert_eq!(rendered["revision_number"], 1);
    assert_eq!(rendered["delivery_mode"], "server_side");
    assert_eq!(rendered["missing_parameters"], json!([]));
    assert_eq!(rendered["unused_parameters"], json!([]));
    let (whole, _) = pipeline_config(app, &web, &service, None);
    let whole = whole.expect(200).body;
    assert_eq!(whole["pipeline_id"], web.as_str());
    assert_eq!(whole["integrations"], json!([rendered]));

    // Every other role sees the substituted secret masked; the rest is the same.
    let masked =
        json!({ "measurement_id": "G-ABC123XYZ", "api_secret": "***", "debug_mode": false });
    for role in [Role::Viewer, Role::Editor, Role::Admin, Role::Owner] {
        let token = app.token("org_a", role);
        let reply = app.attachment_config(&token, &web, &id).expect(200);
        assert_eq!(reply.body["config"], masked, "{role:?}");
        assert!(
            !reply.body.to_string().contains("sEcReT-ga4-canary"),
            "{role:?}: {}",
            reply.body
        );
        let (whole, text) = pipeline_config(app, &web, &token, None);
        assert_eq!(whole.expect(200).body["integrations"][0]["config"], masked);
        assert!(!text.contains("sEcReT-ga4-canary"), "{role:?}: {text}");
    }
    // The revision itself shows the reference, which is a name, not a secret.
    let stored = app
        .get(
            &format!("{}/revisions/1", paths::template(&ga4)),
            &app.owner(),
        )
        .expect(200)
        .body;
    assert_eq!(
        stored["config"]["api_secret"],
        "{{pipeline_param.ga4_api_secret}}"
    );
}

fn literal_secrets_are_clear_only_for_the_service_role(app: &TestApp) {
    let meta = app.template("Meta", "meta_capi");
    let revision = app.revision(&meta, &meta_config());
    let web = pipeline(app, "Web", &json!({ "spare": 1 }));
    let id = id_of(&attach(app, &web, &meta, &revision));
    let service = app.token("org_a", Role::Service);
    let clear = app.attachment_config(&service, &web, &id).expect(200).body;
    assert_eq!(clear["config"], meta_config());
    assert_eq!(clear["unused_parameters"], json!(["spare"]));
    let masked = app
        .attachment_config(&app.owner(), &web, &id)
        .expect(200)
        .body;
    let mut expected = meta_config();
    expected["access_token"] = json!("***");
    assert_eq!(masked["config"], expected);
    let (whole, text) = pipeline_config(app, &web, &app.owner(), None);
    assert_eq!(
        whole.expect(200).body["integrations"][0]["config"],
        expected
    );
    assert!(!text.contains("EAABsb-canary-secret"), "{text}");
}

fn substitution_preserves_types_and_interpolates_text(app: &TestApp) {
    let config = json!({
        "url": "https://{{pipeline_param.host}}/v1",
        "timeout_ms": "{{pipeline_param.timeout}}",
        "batch_size": "{{ pipeline_param.batch }}",
        "verify": "{{pipeline_param.verify}}",
        "ratio": "{{pipeline_param.ratio}}",
        "label": "t={{pipeline_param.timeout}} v={{pipeline_param.verify}} r={{pipeline_param.ratio}} h={{pipeline_param.host}}",
        "headers": { "X-Env": "{{pipeline_param.env}}", "{{pipeline_param.host}}": "key kept" },
        "list": ["{{pipeline_param.timeout}}", ["{{pipeline_param.verify}}"], 7, null],
        "payload_template": "{\"event\": \"{{event.name}}\", \"env\": \"{{pipeline_param.env}}\"}",
        "literal": "{{pipeline_param.tricky}}!",
        "signing_secret": "whsec-{{pipeline_param.sig}}"
    });
    let (hook, revision) = webhook(app, "Hook", &config);
    let tricky = "{{pipeline_param.host}} \"quoted\" back\\slash\nline";
    let web = pipeline(
        app,
        "Web",
        &json!({
            "host": "api.example.com",
            "timeout": 2500,
            "batch": 10,
            "verify": true,
            "ratio": 0.25,
            "env": "prod",
            "tricky": tricky,
            "sig": "canary-sig",
            "unused_b": false,
            "unused_a": "x"
        }),
    );
    let id = id_of(&attach(app, &web, &hook, &revision));
    let service = app.token("org_a", Role::Service);
    let rendered = app.attachment_config(&service, &web, &id).expect(200).body;
    let expected = json!({
        "url": "https://api.example.com/v1",
        "timeout_ms": 2500,
        "batch_size": 10,
        "verify": true,
        "ratio": 0.25,
        "label": "t=2500 v=true r=0.25 h=api.example.com",
        "headers": { "X-Env": "prod", "{{pipeline_param.host}}": "key kept" },
        "list": [2500, [true], 7, null],
        "payload_template": "{\"event\": \"{{event.name}}\", \"env\": \"prod\"}",
        "literal": format!("{tricky}!"),
        "signing_secret": "whsec-canary-sig"
    });
    assert_eq!(rendered["config"], expected);
    assert_eq!(rendered["missing_parameters"], json!([]));
    assert_eq!(
        rendered["unused_parameters"],
        json!(["unused_a", "unused_b"])
    );
    let (whole, _) = pipeline_config(app, &web, &service, None);
    assert_eq!(
        whole.expect(200).body["integrations"][0]["config"],
        expected
    );

    // For a viewer only the secret positions differ (the signing secret, the
    // header values): a substituted credential is masked too.
    let viewed = app
        .attachment_config(&app.token("org_a", Role::Viewer), &web, &id)
        .expect(200)
        .body;
    let mut masked = expected;
    masked["signing_secret"] = json!("***");
    for value in masked["headers"]
        .as_object_mut()
        .expect("headers")
        .values_mut()
    {
        *value = json!("***");
    }
    // `env` and `sig` are plain parameters filling secret positions (a
    // header value, the signing secret): warned about, and masked wherever
    // they flow in this config — the payload template too.
    masked["payload_template"] = json!("***");
    assert_eq!(viewed["config"], masked);
    assert_eq!(
        viewed["warnings"],
        json!([
            { "code": "SECRET_IN_PLAIN_PARAMETER", "field": "config.headers[\"X-Env\"]", "parameter": "env" },
            { "code": "SECRET_IN_PLAIN_PARAMETER", "field": "config.signing_secret", "parameter": "sig" },
        ])
    );
}

fn missing_parameters_fail_the_attachment_and_mark_the_pipeline(app: &TestApp) {
    let token = app.owner();
    let (broken, broken_revision) = webhook(
        app,
        "Broken",
        &json!({
            "url": "https://{{pipeline_param.host}}/x",
            "headers": { "Authorization": "Bearer {{pipeline_param.token}}" },
            "batch_size": "{{pipeline_param.batch}}"
        }),
    );
    let (fine, fine_revision) = webhook(
        app,
        "Fine",
        &json!({ "url": "https://{{pipeline_param.host}}/ok" }),
    );
    let web = pipeline(app, "Web", &json!({ "host": "example.com", "extra": 1 }));
    let broken_id = id_of(&attach(app, &web, &broken, &broken_revision));
    let fine_id = id_of(&attach(app, &web, &fine, &fine_revision));

    // The per-attachment route refuses, naming where each missing key is used.
    let reply = app
        .attachment_config(&token, &web, &broken_id)
        .expect_error(422, "VALIDATION_FAILED");
    let mut found = reply.details();
    found.sort_unstable();
    assert_eq!(
        found,
        [
            (
                "config.batch_size".to_owned(),
                "missing_parameter".to_owned()
            ),
            (
                "config.headers.Authorization".to_owned(),
                "missing_parameter".to_owned()
            ),
        ]
    );
    assert!(
        !reply.body.to_string().contains("Bearer "),
        "no partial config: {}",
        reply.body
    );
    app.attachment_config(&app.token("org_a", Role::Service), &web, &broken_id)
        .expect_error(422, "VALIDATION_FAILED");

    // The pipeline route marks that attachment and renders the others.
    let (whole, _) = pipeline_config(app, &web, &token, None);
    let whole = whole.expect(200).body;
    let entries = whole["integrations"].as_array().expect("a list");
    assert_eq!(entries.len(), 2, "{whole}");
    let entry = |id: &str| {
        entries
            .iter()
            .find(|e| e["id"] == id)
            .unwrap_or_else(|| panic!("{id} in {whole}"))
    };
    let marked = entry(&broken_id);
    assert_eq!(marked["config"], Value::Null);
    assert_eq!(marked["missing_parameters"], json!(["batch", "token"]));
    assert_eq!(marked["unused_parameters"], json!(["extra"]));
    let rendered = entry(&fine_id);
    assert_eq!(
        rendered["config"],
        json!({ "url": "https://example.com/ok" })
    );
    assert_eq!(rendered["missing_parameters"], json!([]));
    assert_eq!(rendered["unused_parameters"], json!(["extra"]));

    // Defining the keys fixes it.
    app.update_pipeline(
        &token,
        &web,
        &json!({ "parameters": { "host": "example.com", "token": "t0k", "batch": 5 } }),
    )
    .expect(200);
    let rendered = app
        .attachment_config(&token, &web, &broken_id)
        .expect(200)
        .body;
    // Header values are secrets: masked for all but the service role.
    assert_eq!(
        rendered["config"],
        json!({ "url": "https://example.com/x", "headers": { "Authorization": "***" }, "batch_size": 5 })
    );
    let service = app
        .attachment_config(&app.token("org_a", Role::Service), &web, &broken_id)
        .expect(200)
        .body;
    assert_eq!(
        service["config"]["headers"],
        json!({ "Authorization": "Bearer t0k" })
    );
    assert_eq!(rendered["missing_parameters"], json!([]));
    assert_eq!(rendered["unused_parameters"], json!([]));
}

fn disabled_attachments_are_left_out_of_the_pipeline_config(app: &TestApp) {
    let token = app.owner();
    let (on, on_revision) = webhook(app, "On", &json!({ "url": "https://example.com/on" }));
    let (off, off_revision) = webhook(
        app,
        "Off",
        &json!({ "url": "https://{{pipeline_param.missing}}/off" }),
    );
    let web = pipeline(app, "Web", &json!({}));
    let on_id = id_of(&attach(app, &web, &on, &on_revision));
    let off_id = id_of(
        &app.attach(
            &token,
            &web,
            &json!({ "integration_id": off, "revision_id": off_revision["id"], "enabled": false }),
        )
        .expect(201)
        .body,
    );
    let (whole, _) = pipeline_config(app, &web, &token, None);
    let whole = whole.expect(200).body;
    let ids: Vec<&str> = whole["integrations"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|e| e["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        [on_id.as_str()],
        "a disabled attachment (even a broken one) is left out"
    );
    // The per-attachment route still renders (or checks) a disabled one.
    app.attachment_config(&token, &web, &off_id)
        .expect_error(422, "VALIDATION_FAILED");
    app.update_pipeline(
        &token,
        &web,
        &json!({ "parameters": { "missing": "example.org" } }),
    )
    .expect(200);
    assert_eq!(
        app.attachment_config(&token, &web, &off_id)
            .expect(200)
            .body["config"],
        json!({ "url": "https://example.org/off" })
    );
    // Disabling the other leaves an empty list; enabling brings it back.
    app.update_attachment(&token, &web, &on_id, &json!({ "enabled": false }))
        .expect(200);
    let (whole, _) = pipeline_config(app, &web, &token, None);
    assert_eq!(
        whole.expect(200).body,
        json!({ "pipeline_id": web, "integrations": [] })
    );
    app.update_attachment(&token, &web, &off_id, &json!({ "enabled": true }))
        .expect(200);
    let (whole, _) = pipeline_config(app, &web, &token, None);
    let whole = whole.expect(200).body;
    assert_eq!(whole["integrations"].as_array().map(Vec::len), Some(1));
    assert_eq!(whole["integrations"][0]["id"], off_id.as_str());
    assert_eq!(
        whole["integrations"][0]["config"],
        json!({ "url": "https://example.org/off" })
    );
    // A pipeline with nothing attached has an empty config, not an error.
    let empty = pipeline(app, "Empty", &json!({}));
    let (whole, _) = pipeline_config(app, &empty, &token, None);
    assert_eq!(
        whole.expect(200).body,
        json!({ "pipeline_id": empty, "integrations": [] })
    );
}

fn the_pipeline_config_etag_answers_if_none_match(app: &TestApp) {
    let service = app.token("org_a", Role::Service);
    let (hook, revision) = webhook(
        app,
        "Hook",
        &json!({ "url": "https://{{pipeline_param.host}}/e", "signing_secret": "whsec_canary" }),
    );
    let web = pipeline(app, "Web", &json!({ "host": "example.com" }));
    attach(app, &web, &hook, &revision);

    let (first, text) = pipeline_config(app, &web, &service, None);
    let first = first.expect(200);
    let tag = first.header("etag").expect("an ETag").to_owned();
    assert!(!tag.starts_with("W/"), "a strong ETag: {tag}");
    assert!(
        first
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{:?}",
        first.headers
    );
    assert!(!text.is_empty());
    assert_eq!(
        etag(app, &web, &service),
        tag,
        "the same state, the same tag"
    );

    // A matching If-None-Match: 304, no body, the same ETag.
    for header in [
        tag.clone(),
        format!("\"nope\", {tag}"),
        format!("W/{tag}"),
        "*".to_owned(),
    ] {
        let (reply, text) = pipeline_config(app, &web, &service, Some(&header));
        assert_eq!(reply.status, 304, "{header}");
        assert!(text.is_empty(), "{header}: {text}");
        assert_eq!(reply.header("etag"), Some(tag.as_str()), "{header}");
    }
    // A stale one: the full body.
    let (reply, _) = pipeline_config(app, &web, &service, Some("\"stale\""));
    assert_eq!(reply.expect(200).body, first.body);
    // Roles that see different bodies see different tags.
    let viewer = app.token("org_a", Role::Viewer);
    let (for_viewer, _) = pipeline_config(app, &web, &viewer, None);
    let for_viewer = for_viewer.expect(200);
    assert_eq!(
        for_viewer.body["integrations"][0]["config"]["signing_secret"],
        "***"
    );
    let viewer_tag = for_viewer.header("etag").expect("an ETag").to_owned();
    assert_ne!(viewer_tag, tag);
    let (reply, _) = pipeline_config(app, &web, &service, Some(&viewer_tag));
    assert_eq!(reply.expect(200).body, first.body);
    let (reply, _) = pipeline_config(app, &web, &viewer, Some(&viewer_tag));
    assert_eq!(reply.status, 304);
    // 304 still needs a token and the org.
    let (reply, _) = pipeline_config(app, &web, &app.token("org_b", Role::Service), Some(&tag));
    reply.expect_error(404, "NOT_FOUND");
}

#[expect(clippy::too_many_lines, reason = "one scenario, step by step")]
fn the_pipeline_config_etag_moves_with_pins_flags_and_parameters_only(app: &TestApp) {
    let token = app.owner();
    let service = app.token("org_a", Role::Service);
    let (hook, first) = webhook(
        app,
        "Hook",
        &json!({ "url": "https://{{pipeline_param.host}}/1" }),
    );
    let second = app.revision(
        &hook,
        &json!({ "url": "https://{{pipeline_param.host}}/2" }),
    );
    let web = pipeline(app, "Web", &json!({ "host": "example.com" }));
    let attachment = paths::attachment(&web, &id_of(&attach(app, &web, &hook, &first)));
    let pipeline_path = format!("/v1/admin/pipelines/{web}");
    let tag = etag(app, &web, &service);

    // Changes that do not reach the event processor keep the tag (and 304 keeps answering).
    let unchanged = |what: &str| {
        assert_eq!(
            etag(app, &web, &service),
            tag,
            "{what} must not change the ETag"
        );
        let (reply, _) = pipeline_config(app, &web, &service, Some(&tag));
        assert_eq!(reply.status, 304, "{what}");
    };
    app.update_template(&token, &hook, &json!({ "name": "Renamed hook" }))
        .expect(200);
    unchanged("a template rename");
    app.update_template(&token, &hook, &json!({ "description": "about" }))
        .expect(200);
    unchanged("a template description");
    app.revision(
        &hook,
        &json!({ "url": "https://{{pipeline_param.host}}/3" }),
    );
    unchanged("a new revision that is not pinned");
    app.put(&pipeline_path, &token, &json!({ "description": "shop" }))
        .expect(200);
    unchanged("a pipeline description");
    app.put(&pipeline_path, &token, &json!({ "name": "Web shop" }))
        .expect(200);
    unchanged("a pipeline rename");
    app.put(
        &pipeline_path,
        &token,
        &json!({ "parameters": { "host": "example.com" } }),
    )
    .expect(200);
    unchanged("parameters rewritten to the same values");
    let other = pipeline(app, "Other", &json!({ "host": "elsewhere.com" }));
    attach(app, &other, &hook, &second);
    unchanged("a change to another pipeline");
    app.attach(
        &token,
        &web,
        &json!({ "integration_id": hook, "revision_id": second["id"] }),
    )
    .expect_error(409, "ALREADY_ATTACHED");
    unchanged("a refused attach");

    // Changes the event processor must pick up move it: the old tag then gets
    // the full body, the new one a 304.
    let mut current = tag;
    let mut moved = |what: &str| {
        let now = etag(app, &web, &service);
        assert_ne!(now, current, "{what} must change the ETag");
        let (reply, _) = pipeline_config(app, &web, &service, Some(&current));
        assert_eq!(reply.status, 200, "{what}: the old tag no longer matches");
        let (reply, _) = pipeline_config(app, &web, &service, Some(&now));
        assert_eq!(reply.status, 304, "{what}: the new tag matches");
        current = now;
    };
    app.put(&attachment, &token, &json!({ "revision_id": second["id"] }))
        .expect(200);
    moved("a re-pin");
    app.put(&attachment, &token, &json!({ "enabled": false }))
        .expect(200);
    moved("disabling");
    app.put(&attachment, &token, &json!({ "enabled": true }))
        .expect(200);
    moved("enabling");
    app.put(
        &pipeline_path,
        &token,
        &json!({ "parameters": { "host": "example.org" } }),
    )
    .expect(200);
    moved("a parameter value");
    app.put(
        &pipeline_path,
        &token,
        &json!({ "parameters": { "host": "example.org", "region": "eu" } }),
    )
    .expect(200);
    moved("an added (unused) parameter");
    app.put(
        &pipeline_path,
        &token,
        &json!({ "parameters": { "host": "example.org", "region": 1 } }),
    )
    .expect(200);
    moved("an unused parameter's value");
    let (extra, extra_revision) = webhook(app, "Extra", &json!({ "url": "https://example.com/x" }));
    let extra = id_of(&attach(app, &web, &extra, &extra_revision));
    moved("an attach");
    app.detach(&token, &web, &extra).expect(200);
    moved("a detach");
    app.put(&attachment, &token, &json!({ "revision_id": first["id"] }))
        .expect(200);
    moved("a re-pin back");
}

crate::api_tests!(
    attachments_are_attached_listed_fetched_repinned_toggled_and_detached,
    one_attachment_per_template_and_references_are_checked,
    attachment_roles_and_tenancy,
    deleting_an_attached_template_is_refused_naming_the_pipelines,
    concurrent_attach_and_delete_never_leave_a_dangling_attachment,
    the_seed_ga4_example_renders_exactly,
    literal_secrets_are_clear_only_for_the_service_role,
    substitution_preserves_types_and_interpolates_text,
    missing_parameters_fail_the_attachment_and_mark_the_pipeline,
    disabled_attachments_are_left_out_of_the_pipeline_config,
    the_pipeline_config_etag_answers_if_none_match,
    the_pipeline_config_etag_moves_with_pins_flags_and_parameters_only,
);
