//! docs/api.md "Pipelines" over HTTP: pipelines, their parameters, names, roles and tenancy.

use integrations_domain::Role;
use serde_json::{Value, json};

use crate::support::{
    TestApp,
    paths::{self, PIPELINES},
};

/// Creates a pipeline in `org_a` (as owner) and returns its body.
fn create(app: &TestApp, name: &str, parameters: &Value) -> Value {
    app.create_pipeline(
        &app.owner(),
        &json!({ "name": name, "parameters": parameters }),
    )
    .expect(201)
    .body
}

fn id_of(body: &Value) -> String {
    body["id"].as_str().expect("an id").to_owned()
}

/// `(field, problem)` of every detail of an error body.
fn is_rfc3339_utc(value: &Value) -> bool {
    value.as_str().is_some_and(|s| {
        s.ends_with('Z')
            && time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .is_ok()
    })
}

fn ids(list: &Value) -> Vec<String> {
    list["pipelines"]
        .as_array()
        .expect("a list")
        .iter()
        .map(id_of)
        .collect()
}

#[expect(clippy::too_many_lines, reason = "one scenario, step by step")]
fn pipelines_are_created_fetched_listed_updated_and_deleted(app: &TestApp) {
    let token = app.owner();
    let created = app
        .create_pipeline(&token, &json!({
                "name": "Web",
                "description": "The storefront",
                "parameters": { "ga4_measurement_id": "G-ABC123", "batch": 25, "ratio": 2.5, "debug": false }
            }))
        .expect(201);
    let pipeline = created.body.clone();
    let id = id_of(&pipeline);
    assert!(id.starts_with("pip_") && id.len() == 30, "{id}");
    assert_eq!(
        created.header("location"),
        Some(paths::pipeline(&id).as_str())
    );
    let mut keys: Vec<&str> = pipeline
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
            "description",
            "id",
            "name",
            "org_id",
            "parameters",
            "secret_parameters",
            "updated_at"
        ]
    );
    assert_eq!(pipeline["org_id"], "org_a");
    assert_eq!(pipeline["name"], "Web");
    assert_eq!(pipeline["description"], "The storefront");
    // Values keep their JSON types.
    assert_eq!(
        pipeline["parameters"],
        json!({ "ga4_measurement_id": "G-ABC123", "batch": 25, "ratio": 2.5, "debug": false })
    );
    assert!(
        is_rfc3339_utc(&pipeline["created_at"]) && pipeline["created_at"] == pipeline["updated_at"],
        "{pipeline}"
    );
    assert_eq!(app.get_pipeline(&token, &id).expect(200).body, pipeline);

    // Without parameters or a description.
    let bare = app
        .create_pipeline(&token, &json!({ "name": "App" }))
        .expect(201)
        .body;
    assert_eq!(bare["parameters"], json!({}));
    assert_eq!(bare["description"], Value::Null);

    // Lists: newest first, paginated.
    let listed = app.list_pipelines(&token, "").expect(200).body;
    assert_eq!(
        listed,
        json!({ "pipelines": [bare, pipeline], "total": 2, "limit": 50, "offset": 0 })
    );
    let paged = app
        .list_pipelines(&token, "?limit=1&offset=1")
        .expect(200)
        .body;
    assert_eq!(
        paged,
        json!({ "pipelines": [pipeline], "total": 2, "limit": 1, "offset": 1 })
    );
    for (bad, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("offset=-1", "offset"),
    ] {
        let reply = app
            .get(&format!("{PIPELINES}?{bad}"), &token)
            .expect_error(422, "VALIDATION_FAILED");
        assert_eq!(reply.fields(), [field], "{bad}");
    }

    // A description-only update keeps the parameters.
    let described = app
        .update_pipeline(&token, &id, &json!({ "description": "Renamed shop" }))
        .expect(200)
        .body;
    assert_eq!(described["description"], "Renamed shop");
    assert_eq!(described["parameters"], pipeline["parameters"]);
    assert_eq!(described["name"], "Web");
    assert_eq!(described["created_at"], pipeline["created_at"]);
    assert_ne!(described["updated_at"], pipeline["updated_at"]);

    // Parameters are replaced whole: keys left out are gone.
    let replaced = app
        .update_pipeline(
            &token,
            &id,
            &json!({ "parameters": { "batch": 50, "host": "api.example.com" } }),
        )
        .expect(200)
        .body;
    assert_eq!(
        replaced["parameters"],
        json!({ "batch": 50, "host": "api.example.com" })
    );
    assert_eq!(replaced["description"], "Renamed shop");
    assert_eq!(app.get_pipeline(&token, &id).expect(200).body, replaced);
    let emptied = app
        .update_pipeline(&token, &id, &json!({ "parameters": {} }))
        .expect(200)
        .body;
    assert_eq!(emptied["parameters"], json!({}));

    // A rename, and `description: null` clears it.
    let renamed = app
        .update_pipeline(
            &token,
            &id,
            &json!({ "name": "  Web shop ", "description": null }),
        )
        .expect(200)
        .body;
    assert_eq!(renamed["name"], "Web shop");
    assert_eq!(renamed["description"], Value::Null);

    // Delete is soft, and everything then answers 404.
    let deleted = app.delete_pipeline(&token, &id).expect(200).body;
    assert_eq!(deleted, json!({ "status": "deleted" }));
    app.get_pipeline(&token, &id).expect_error(404, "NOT_FOUND");
    app.update_pipeline(&token, &id, &json!({ "name": "Again" }))
        .expect_error(404, "NOT_FOUND");
    app.delete_pipeline(&token, &id)
        .expect_error(404, "NOT_FOUND");
    app.get(&format!("{}/integrations", paths::pipeline(&id)), &token)
        .expect_error(404, "NOT_FOUND");
    app.get(&format!("{}/config", paths::pipeline(&id)), &token)
        .expect_error(404, "NOT_FOUND");
    let listed = app.list_pipelines(&token, "").expect(200).body;
    assert_eq!(listed["total"], 1);
    assert_eq!(ids(&listed), [id_of(&bare)]);
}

fn pipeline_parameters_are_validated(app: &TestApp) {
    let token = app.owner();
    let create_with = |parameters: Value| {
        app.create_pipeline(&token, &json!({ "name": "P", "parameters": parameters }))
    };

    let reply = create_with(json!({ "bad-key": "x" })).expect_error(422, "VALIDATION_FAILED");
    assert_eq!(
        reply.details(),
        [("parameters.bad-key".to_owned(), "invalid_key".to_owned())]
    );
    for bad_key in ["", "a.b", "with space", "ümlaut", &"k".repeat(65)] {
        let reply = create_with(json!({ bad_key: "x" })).expect_error(422, "VALIDATION_FAILED");
        assert_eq!(
            reply.fields(),
            [format!("parameters.{bad_key}")],
            "{bad_key:?}"
        );
    }
    for bad_value in [json!(null), json!([1, 2]), json!({ "nested": true })] {
        let reply =
            create_with(json!({ "ok_key": bad_value })).expect_error(422, "VALIDATION_FAILED");
        assert_eq!(reply.fields(), ["parameters.ok_key"], "{bad_value}");
    }
    // Every problem is reported at once.
    let reply = create_with(json!({ "bad-key": 1, "fine": [], "good": "x" }))
        .expect_error(422, "VALIDATION_FAILED");
    let mut both = reply.fields();
    both.sort_unstable();
    assert_eq!(both, ["parameters.bad-key", "parameters.fine"]);
    // Parameters must be an object.
    create_with(json!(["a"])).expect_error(400, "INVALID_REQUEST");
    create_with(json!("a=b")).expect_error(400, "INVALID_REQUEST");
    assert_eq!(
        app.list_pipelines(&token, "").expect(200).body["total"],
        0,
        "nothing was created"
    );

    // The boundaries of the key grammar.
    let longest = "K".repeat(64);
    let fine = create_with(json!({ longest.clone(): "v", "A_z_0_9": true, "n": -1.5 }))
        .expect(201)
        .body;
    assert_eq!(
        fine["parameters"],
        json!({ longest: "v", "A_z_0_9": true, "n": -1.5 })
    );

    // The same rules on update, which then changes nothing.
    let id = id_of(&fine);
    let reply = app
        .update_pipeline(&token, &id, &json!({ "parameters": { "bad-key": "x" } }))
        .expect_error(422, "VALIDATION_FAILED");
    assert_eq!(reply.fields(), ["parameters.bad-key"]);
    for bad_value in [json!(null), json!([]), json!({})] {
        let reply = app
            .update_pipeline(&token, &id, &json!({ "parameters": { "x": bad_value } }))
            .expect_error(422, "VALIDATION_FAILED");
        assert_eq!(reply.fields(), ["parameters.x"], "{bad_value}");
    }
    // `parameters: null` is not "clear them": it is a malformed request.
    app.update_pipeline(&token, &id, &json!({ "parameters": null }))
        .expect_error(400, "INVALID_REQUEST");
    app.update_pipeline(&token, &id, &json!({ "name": null }))
        .expect_error(400, "INVALID_REQUEST");
    // Nothing to change.
    app.update_pipeline(&token, &id, &json!({}))
        .expect_error(422, "VALIDATION_FAILED");
    // Server-assigned fields cannot be set.
    for field in ["id", "org_id", "created_at", "updated_at"] {
        let reply = app
            .update_pipeline(&token, &id, &json!({ field: "x", "name": "Q" }))
            .expect_error(400, "INVALID_REQUEST");
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(field)),
            "{}",
            reply.body
        );
    }
    let reply = app
        .create_pipeline(&token, &json!({ "name": "Q", "org_id": "org_b" }))
        .expect_error(400, "INVALID_REQUEST");
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("org_id")),
        "{}",
        reply.body
    );
    app.create_pipeline(&token, &json!({ "description": "no name" }))
        .expect_error(400, "INVALID_REQUEST");
    assert_eq!(
        app.get_pipeline(&token, &id).expect(200).body,
        fine,
        "failed updates changed nothing"
    );
}

fn pipeline_names_follow_the_template_rules(app: &TestApp) {
    let token = app.owner();
    let created = create(app, "  Web  ", &json!({}));
    assert_eq!(created["name"], "Web");
    let clash = app
        .create_pipeline(&token, &json!({ "name": "WEB" }))
        .expect_error(409, "NAME_TAKEN");
    assert_eq!(
        clash.body["error"]["message"],
        "a pipeline named 'WEB' already exists"
    );
    assert_eq!(clash.details(), [("name".to_owned(), "taken".to_owned())]);

    // A rename onto another pipeline's name clashes too; onto its own name in another case it does not.
    let other = id_of(&create(app, "App", &json!({})));
    app.update_pipeline(&token, &other, &json!({ "name": "web" }))
        .expect_error(409, "NAME_TAKEN");
    let recased = app
        .update_pipeline(&token, &other, &json!({ "name": "APP" }))
        .expect(200)
        .body;
    assert_eq!(recased["name"], "APP");

    // Pipelines and templates have separate namespaces; other orgs have their own.
    app.template("Web", "webhook");
    app.create_pipeline(&app.token("org_b", Role::Editor), &json!({ "name": "Web" }))
        .expect(201);

    // Bad names.
    let long = "n".repeat(201);
    for bad in ["", "   ", "line\nbreak", "tab\there", long.as_str()] {
        let reply = app
            .create_pipeline(&token, &json!({ "name": bad }))
            .expect_error(422, "VALIDATION_FAILED");
        assert_eq!(reply.fields(), ["name"], "{bad:?}");
        let reply = app
            .update_pipeline(&token, &other, &json!({ "name": bad }))
            .expect_error(422, "VALIDATION_FAILED");
        assert_eq!(reply.fields(), ["name"], "{bad:?}");
    }
    let longest = "n".repeat(200);
    assert_eq!(
        app.create_pipeline(&token, &json!({ "name": longest }))
            .expect(201)
            .body["name"],
        longest.as_str()
    );
    let reply = app
        .create_pipeline(
            &token,
            &json!({ "name": "Described", "description": "d".repeat(2001) }),
        )
        .expect_error(422, "VALIDATION_FAILED");
    assert_eq!(reply.fields(), ["description"]);

    // A deleted pipeline's name is free again.
    app.delete_pipeline(&token, &id_of(&created)).expect(200);
    assert_eq!(create(app, "web", &json!({}))["name"], "web");
}

fn pipeline_roles_and_tenancy(app: &TestApp) {
    let viewer = app.token("org_a", Role::Viewer);
    let editor = app.token("org_a", Role::Editor);
    let admin = app.token("org_a", Role::Admin);
    let service = app.token("org_a", Role::Service);
    let stranger = app.token("org_b", Role::Owner);

    // Editors create and update; viewers and the service role read only.
    let pipeline = app
        .create_pipeline(&editor, &json!({ "name": "Web", "parameters": { "a": 1 } }))
        .expect(201)
        .body;
    let id = id_of(&pipeline);
    let path = paths::pipeline(&id);
    for reader in [&viewer, &service] {
        assert_eq!(app.get(&path, reader).expect(200).body, pipeline);
        assert_eq!(app.list_pipelines(reader, "").expect(200).body["total"], 1);
        app.create_pipeline(reader, &json!({ "name": "Mine" }))
            .expect_error(403, "FORBIDDEN");
        app.put(&path, reader, &json!({ "name": "Mine" }))
            .expect_error(403, "FORBIDDEN");
        app.delete(&path, reader).expect_error(403, "FORBIDDEN");
    }
    // The role is checked before the object and before the body.
    app.update_pipeline(
        &viewer,
        "pip_01ARZ3NDEKTSV4RRFFQ69G5FAV",
        &json!({ "bogus": 1 }),
    )
    .expect_error(403, "FORBIDDEN");
    app.create_pipeline(&viewer, &json!({ "bogus": 1 }))
        .expect_error(403, "FORBIDDEN");
    let updated = app
        .put(&path, &editor, &json!({ "parameters": { "b": true } }))
        .expect(200)
        .body;
    assert_eq!(updated["parameters"], json!({ "b": true }));
    // Deleting needs admin.
    app.delete(&path, &editor).expect_error(403, "FORBIDDEN");

    // Another org sees nothing, and cannot tell whether the pipeline exists.
    let unknown = paths::pipeline("pip_01ARZ3NDEKTSV4RRFFQ69G5FAV");
    for target in [&path, &unknown] {
        app.get(target, &stranger).expect_error(404, "NOT_FOUND");
        app.put(target, &stranger, &json!({ "name": "Stolen" }))
            .expect_error(404, "NOT_FOUND");
        app.delete(target, &stranger).expect_error(404, "NOT_FOUND");
        app.get(&format!("{target}/integrations"), &stranger)
            .expect_error(404, "NOT_FOUND");
        app.get(&format!("{target}/config"), &stranger)
            .expect_error(404, "NOT_FOUND");
    }
    assert_eq!(
        app.list_pipelines(&stranger, "").expect(200).body,
        json!({ "pipelines": [], "total": 0, "limit": 50, "offset": 0 })
    );
    // Malformed ids and ids of another kind are 404s too.
    for malformed in ["nope", "pip_", "pip_zzz", "tmpl_01ARZ3NDEKTSV4RRFFQ69G5FAV"] {
        app.get_pipeline(&admin, malformed)
            .expect_error(404, "NOT_FOUND");
        app.update_pipeline(&admin, malformed, &json!({ "name": "X" }))
            .expect_error(404, "NOT_FOUND");
        app.delete_pipeline(&admin, malformed)
            .expect_error(404, "NOT_FOUND");
    }
    // No token at all.
    let anonymous = app.call("GET", &path, None, None);
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.header("www-authenticate"), Some("Bearer"));

    assert_eq!(
        app.get(&path, &admin).expect(200).body,
        updated,
        "nothing above changed it"
    );
    app.delete(&path, &admin).expect(200);
    app.get(&path, &viewer).expect_error(404, "NOT_FOUND");
}

fn deleting_a_pipeline_removes_its_attachments(app: &TestApp) {
    let token = app.owner();
    let template = app.template("Hook", "webhook");
    let revision = app.revision(&template, &json!({ "url": "https://example.com/hook" }));
    let web = id_of(&create(app, "Web", &json!({})));
    let other = id_of(&create(app, "App", &json!({})));
    let mut attachment_ids = Vec::new();
    for pipeline in [&web, &other] {
        let attached = app
            .post(
                &format!("{}/integrations", paths::pipeline(pipeline)),
                &token,
                &json!({ "integration_id": template, "revision_id": revision["id"] }),
            )
            .expect(201)
            .body;
        attachment_ids.push(id_of(&attached));
    }
    let template_path = format!("/v1/admin/integration-templates/{template}");
    app.delete(&template_path, &token)
        .expect_error(409, "TEMPLATE_IN_USE");

    app.delete_pipeline(&token, &web).expect(200);
    let count = |pipeline: &str| {
        app.db.texts(&format!(
            "SELECT CAST(COUNT(*) AS TEXT) AS value FROM attachments WHERE pipeline_id = '{pipeline}'"
        ))
    };
    assert_eq!(
        count(&web),
        ["0"],
        "the deleted pipeline's attachments are gone"
    );
    assert_eq!(count(&other), ["1"], "other pipelines keep theirs");
    app.get(
        &format!(
            "{}/integrations/{}",
            paths::pipeline(&web),
            attachment_ids[0]
        ),
        &token,
    )
    .expect_error(404, "NOT_FOUND");

    // Only the other pipeline still holds the template.
    let reply = app
        .delete(&template_path, &token)
        .expect_error(409, "TEMPLATE_IN_USE");
    assert_eq!(reply.details_of("pipeline_id"), [other.as_str()]);

    app.delete_pipeline(&token, &other).expect(200);
    assert_eq!(count(&other), ["0"]);
    app.delete(&template_path, &token).expect(200);
    app.get(&template_path, &token)
        .expect_error(404, "NOT_FOUND");
}

crate::api_tests!(
    pipelines_are_created_fetched_listed_updated_and_deleted,
    pipeline_parameters_are_validated,
    pipeline_names_follow_the_template_rules,
    pipeline_roles_and_tenancy,
    deleting_a_pipeline_removes_its_attachments,
);
