//! Secrets are not an oracle: diffs compare version ids (a value entered
//! again is changed, one echoed or restored is not), a sealed value opens
//! only in its own place, values sealed by the first release still work, and
//! a webhook's header values are secrets one by one.

use integrations_domain::Role;
use serde_json::{Value, json};

use crate::support::{
    TestApp,
    paths::{self, PIPELINES},
    stored_configs, stored_sealed,
};

const ROLES: [Role; 5] = [
    Role::Owner,
    Role::Admin,
    Role::Editor,
    Role::Viewer,
    Role::Service,
];

fn new_canary() -> String {
    format!("canary-{:016x}", rand::random::<u64>())
}

pub(crate) fn diff(app: &TestApp, template: &str, from: u32, to: u32) -> Value {
    app.get(
        &format!("{}/{from}/diff/{to}", paths::revisions(template)),
        &app.owner(),
    )
    .expect(200)
    .body["patch"]
        .clone()
}

fn restore(app: &TestApp, template: &str, number: u32) -> Value {
    app.call(
        "POST",
        &format!("{}/{number}/restore", paths::revisions(template)),
        Some(&app.owner()),
        None,
    )
    .expect(201)
    .body
}

const CHANGED_TOKEN: &str = r#"[{ "op": "replace", "path": "/access_token", "value": "***" }]"#;

fn changed_token() -> Value {
    serde_json::from_str(CHANGED_TOKEN).expect("JSON")
}

/// A pipeline with `parameters`, with `template` attached at `revision_id`:
/// the pipeline's id and the attachment's.
pub(crate) fn attach(
    app: &TestApp,
    template: &str,
    revision_id: &str,
    parameters: &Value,
) -> (String, String) {
    let token = app.owner();
    let name = format!("P {:08x}", rand::random::<u32>());
    let pipeline = app
        .create_pipeline(&token, &json!({ "name": name, "parameters": parameters }))
        .expect(201)
        .body["id"]
        .as_str()
        .expect("a pipeline id")
        .to_owned();
    let attachment = app
        .attach(
            &token,
            &pipeline,
            &json!({ "integration_id": template, "revision_id": revision_id }),
        )
        .expect(201)
        .body["id"]
        .as_str()
        .expect("an attachment id")
        .to_owned();
    (pipeline, attachment)
}

/// The attachment's config rendered for `role`.
pub(crate) fn rendered(
    app: &TestApp,
    role: Role,
    attached: &(String, String),
) -> crate::support::Reply {
    let (pipeline, attachment) = attached;
    app.attachment_config(&app.token("org_a", role), pipeline, attachment)
}

pub(crate) fn id_of(body: &Value) -> String {
    body["id"].as_str().expect("an id").to_owned()
}

fn diffs_compare_versions_never_values(app: &TestApp) {
    let canary = new_canary();
    let id = app.template("Meta", "meta_capi");
    let config = json!({ "pixel_id": "1", "access_token": canary });
    app.revision(&id, &config);
    // 2: the same text entered again is a new value: changed.
    app.revision(&id, &config);
    assert_eq!(diff(app, &id, 1, 2), changed_token());
    // 3: echoed, with another change: the secret is unchanged.
    app.revision(
        &id,
        &json!({ "pixel_id": "1", "access_token": "***", "batch_size": 9 }),
    );
    assert_eq!(
        diff(app, &id, 2, 3),
        json!([{ "op": "add", "path": "/batch_size", "value": 9 }])
    );
    // 4: revision 1 restored: unchanged from 1, changed from 3.
    restore(app, &id, 1);
    assert_eq!(diff(app, &id, 1, 4), json!([]));
    let mut from_three = diff(app, &id, 3, 4);
    let ops = from_three.as_array_mut().expect("a patch");
    ops.sort_by_key(|op| op["path"].as_str().map(str::to_owned));
    assert_eq!(
        from_three,
        json!([
            { "op": "replace", "path": "/access_token", "value": "***" },
            { "op": "remove", "path": "/batch_size" },
        ])
    );
    // Every diff, either way, holds no value and no reference.
    for (a, b) in [(1, 2), (2, 1), (2, 3), (1, 4), (4, 3)] {
        let patch = diff(app, &id, a, b).to_string();
        assert!(
            !patch.contains(&canary) && !patch.contains("enc:"),
            "{patch}"
        );
    }
    // The service still renders what was entered, from every revision.
    for number in 1..=4 {
        let revision = app
            .get(&format!("{}/{number}", paths::revisions(&id)), &app.owner())
            .expect(200)
            .body;
        let attached = attach(app, &id, &id_of(&revision), &json!({}));
        let reply = rendered(app, Role::Service, &attached).expect(200);
        assert_eq!(
            reply.body["config"]["access_token"],
            canary.as_str(),
            "{number}"
        );
    }
}

/// The three header values of the webhook installed by [`install_hook`].
struct Hook {
    id: String,
    installed: Value,
    auth: String,
    key: String,
}

const MASKED_HEADERS: &str =
    r#"{ "Authorization": "***", "X-Api-Key": "***", "X-Tenant": "{{pipeline_param.tenant}}" }"#;

fn install_hook(app: &TestApp) -> Hook {
    let (auth, key) = (new_canary(), new_canary());
    let installed = app
        .install(
            &app.token("org_a", Role::Editor),
            "webhook",
            &json!({ "name": "Hook", "config": { "headers": {
                "Authorization": format!("Bearer {auth}"),
                "X-Api-Key": key,
                "X-Tenant": "{{pipeline_param.tenant}}",
            } } }),
        )
        .expect(201)
        .body;
    let masked: Value = serde_json::from_str(MASKED_HEADERS).expect("JSON");
    assert_eq!(installed["revision"]["config"]["headers"], masked);
    Hook {
        id: installed["template"]["id"]
            .as_str()
            .expect("an id")
            .to_owned(),
        installed,
        auth,
        key,
    }
}

fn header_values_are_secrets_one_by_one(app: &TestApp) {
    let Hook { id, auth, key, .. } = install_hook(app);
    let masked: Value = serde_json::from_str(MASKED_HEADERS).expect("JSON");
    for role in ROLES {
        let reply = app
            .get(
                &format!("{}/1", paths::revisions(&id)),
                &app.token("org_a", role),
            )
            .expect(200);
        assert_eq!(reply.body["config"]["headers"], masked, "{role:?}");
    }
    // At rest: one sealed value per header value; the placeholder stays a name.
    let stored = stored_configs(app);
    let headers = &stored[0]["headers"];
    for name in ["Authorization", "X-Api-Key"] {
        assert!(
            headers[name]
                .as_str()
                .is_some_and(|v| v.starts_with("enc:v2:")),
            "{headers}"
        );
    }
    assert_eq!(headers["X-Tenant"], "{{pipeline_param.tenant}}");
    let mut paths: Vec<String> = stored_sealed(app)
        .into_iter()
        .map(|r| r.field_path)
        .collect();
    paths.sort();
    assert_eq!(paths, ["/headers/Authorization", "/headers/X-Api-Key"]);
    let everything = app.db.texts(
        "SELECT config AS value FROM revisions UNION ALL SELECT ciphertext AS value FROM sealed_values",
    );
    assert!(
        everything
            .iter()
            .all(|t| !t.contains(&auth) && !t.contains(&key))
    );

    // Echo per header: kept where "***", replaced where new, 422 where there is nothing to keep.
    let refused = app
        .create_revision(
            &app.owner(),
            &id,
            &json!({ "config": { "url": "https://example.com", "headers": {
                "Authorization": "***", "X-New": "***", "X-Count": 3
            } }, "delivery_mode": "server_side" }),
        )
        .expect_error(422, "VALIDATION_FAILED");
    assert_eq!(
        refused.sorted_details(),
        [
            (
                r#"config.headers["X-Count"]"#.to_owned(),
                "invalid_type".to_owned()
            ),
            (
                r#"config.headers["X-New"]"#.to_owned(),
                "no_previous_secret".to_owned()
            ),
        ]
    );
}

fn header_values_render_and_diff_one_by_one(app: &TestApp) {
    let Hook {
        id,
        installed,
        auth,
        ..
    } = install_hook(app);
    let masked: Value = serde_json::from_str(MASKED_HEADERS).expect("JSON");
    // Round-trip what was read, entering one header anew.
    let rotated = new_canary();
    let mut config = installed["revision"]["config"].clone();
    config["headers"]["X-Api-Key"] = json!(rotated);
    let second = app.revision(&id, &config);
    assert_eq!(second["config"]["headers"], masked);
    assert_eq!(
        diff(app, &id, 1, 2),
        json!([{ "op": "replace", "path": "/headers/X-Api-Key", "value": "***" }])
    );
    // Rendered: in clear for the service only, placeholders substituted.
    let parameters = json!({ "tenant": "acme", "webhook_url": "https://example.com/in" });
    let attached = attach(app, &id, &id_of(&second), &parameters);
    let service = rendered(app, Role::Service, &attached).expect(200).body;
    assert_eq!(
        service["config"]["headers"],
        json!({ "Authorization": format!("Bearer {auth}"), "X-Api-Key": rotated, "X-Tenant": "acme" })
    );
    let pipeline_config = app
        .get(
            &format!("{PIPELINES}/{}/config", attached.0),
            &app.token("org_a", Role::Service),
        )
        .expect(200)
        .body;
    assert_eq!(
        pipeline_config["integrations"][0]["config"]["headers"]["X-Api-Key"],
        rotated.as_str()
    );
    // For everyone else, a value substituted into a secret position is masked too.
    for role in [Role::Owner, Role::Viewer] {
        let reply = rendered(app, role, &attached).expect(200);
        assert_eq!(
            reply.body["config"]["headers"],
            json!({ "Authorization": "***", "X-Api-Key": "***", "X-Tenant": "***" }),
            "{role:?}"
        );
    }
    // The catalog says so.
    let vendor = app
        .get("/v1/admin/integration-catalog/webhook", &app.owner())
        .expect(200)
        .body;
    let flagged: Vec<&str> = vendor["config_fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter(|f| f["secret_values"] == true)
        .filter_map(|f| f["key"].as_str())
        .collect();
    assert_eq!(flagged, ["headers"]);
}

/// Overwrites the envelope of sealed value `to` with that of `from`, behind the service's back.
fn copy_envelope(app: &TestApp, from: (&str, &str), to: (&str, &str)) {
    let select = |column: &str| {
        format!(
            "(SELECT {column} FROM sealed_values WHERE owner_id = '{}' AND field_path = '{}')",
            from.0, from.1
        )
    };
    app.db
        .execute(&format!(
            "UPDATE sealed_values SET kid = {}, ciphertext = {} WHERE owner_id = '{}' AND field_path = '{}'",
            select("kid"),
            select("ciphertext"),
            to.0,
            to.1
        ))
        .expect("an envelope may be rewritten (as re-sealing does)");
}

#[track_caller]
fn assert_fails_cleanly(reply: &crate::support::Reply, secrets: &[&str]) {
    assert_eq!(
        (reply.status, reply.code()),
        (500, "INTERNAL"),
        "{}",
        reply.body
    );
    let text = reply.body.to_string();
    for secret in secrets {
        assert!(!text.contains(secret), "{text}");
    }
}

fn a_sealed_value_moved_elsewhere_does_not_open(app: &TestApp) {
    let (a, b) = (new_canary(), new_canary());
    let id = app.template("Meta", "meta_capi");
    let first = app.revision(&id, &json!({ "pixel_id": "1", "access_token": a }));
    let second = app.revision(&id, &json!({ "pixel_id": "1", "access_token": b }));
    let one = attach(app, &id, &id_of(&first), &json!({}));
    let two = attach(app, &id, &id_of(&second), &json!({}));
    assert_eq!(
        rendered(app, Role::Service, &two).expect(200).body["config"]["access_token"],
        b.as_str()
    );
    let configs_before = stored_configs(app);

    // Another row: revision 1's envelope copied over revision 2's.
    copy_envelope(
        app,
        (&id_of(&first), "/access_token"),
        (&id_of(&second), "/access_token"),
    );
    for role in [Role::Service, Role::Viewer] {
        assert_fails_cleanly(&rendered(app, role, &two), &[&a, &b]);
        // The pipeline route fails, or reports that attachment in place.
        let whole = app.get(
            &format!("{PIPELINES}/{}/config", two.0),
            &app.token("org_a", role),
        );
        let text = whole.body.to_string();
        assert!(!text.contains(&a) && !text.contains(&b), "{text}");
        assert!(
            whole.status == 500 || whole.body["integrations"][0]["config"].is_null(),
            "{text}"
        );
    }
    // Carrying it forward fails too, and creates nothing.
    let echo = app.create_revision(&app.owner(), &id, &json!({ "config": { "pixel_id": "1", "access_token": "***" }, "delivery_mode": "server_side" }));
    assert_fails_cleanly(&echo, &[&a, &b]);
    let restored = app.call(
        "POST",
        &format!("{}/2/restore", paths::revisions(&id)),
        Some(&app.owner()),
        None,
    );
    assert_fails_cleanly(&restored, &[&a, &b]);
    assert_eq!(stored_configs(app).len(), 2);
    // The original still opens; reading and diffing need nothing opened.
    assert_eq!(
        rendered(app, Role::Service, &one).expect(200).body["config"]["access_token"],
        a.as_str()
    );
    app.get(&format!("{}/2", paths::revisions(&id)), &app.owner())
        .expect(200);
    assert_eq!(diff(app, &id, 1, 2), changed_token());

    // Another field of the same row: the signing secret's envelope over a header's.
    let (signing, header) = (new_canary(), new_canary());
    let hook = app.template("Hook", "webhook");
    let revision = app.revision(
        &hook,
        &json!({ "url": "https://example.com", "signing_secret": signing, "headers": { "Authorization": header } }),
    );
    let attached = attach(app, &hook, &id_of(&revision), &json!({}));
    rendered(app, Role::Service, &attached).expect(200);
    copy_envelope(
        app,
        (&id_of(&revision), "/signing_secret"),
        (&id_of(&revision), "/headers/Authorization"),
    );
    assert_fails_cleanly(
        &rendered(app, Role::Service, &attached),
        &[&signing, &header],
    );

    // No revision row changed along the way.
    assert_eq!(stored_configs(app)[..2], configs_before[..]);
}

/// Sealed by the first release (AES-256-GCM, no associated data, inline in
/// the config) under the test suite's `ENCRYPTION_KEY`.
pub(crate) const LEGACY_TOKEN: &str =
    "enc:v1:54b9fe12:4SRlEDiMCLB-4kWP00rLwFpVsbB7ATpBccW4o635pqmwF9_GvywA-85hsQ_LnXmprhunBg";
pub(crate) const LEGACY_TOKEN_PLAIN: &str = "legacy-canary-4f1d9a7c2b";
const LEGACY_SIGNING: &str =
    "enc:v1:54b9fe12:gC_xwiXojOGZZVbNYJaoWtP9S_atb1xG3kAGH7IWhXnMCFY6X3ikDAu6xMEhSo_s-Zgs";
const LEGACY_SIGNING_PLAIN: &str = "legacy-signing-93be1c04";
const LEGACY_HEADER: &str = "Bearer legacy-clear-header";

/// Writes a template with one revision as the first release stored them.
pub(crate) fn legacy_template(app: &TestApp, vendor: &str, config: &Value) -> (String, String) {
    let suffix = ulid::Ulid::generate().to_string();
    let (template, revision) = (format!("tmpl_{suffix}"), format!("rev_{suffix}"));
    let config = config.to_string().replace('\'', "''");
    app.db
        .execute(&format!(
            "INSERT INTO templates (id, org_id, name, name_key, vendor, latest_revision, created_at, updated_at) \
             VALUES ('{template}', 'org_a', 'Old {vendor}', 'old {vendor}', '{vendor}', 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00'); \
             INSERT INTO revisions (id, template_id, org_id, revision_number, config, delivery_mode, created_by, created_at) \
             VALUES ('{revision}', '{template}', 'org_a', 1, '{config}', 'server_side', 'user_123', '2026-01-01 00:00:00');"
        ))
        .expect("a first-release row");
    (template, revision)
}

fn values_sealed_by_the_first_release_still_work(app: &TestApp) {
    let (id, first) = legacy_template(
        app,
        "meta_capi",
        &json!({ "pixel_id": "1", "access_token": LEGACY_TOKEN }),
    );
    let read = app
        .get(&format!("{}/1", paths::revisions(&id)), &app.owner())
        .expect(200)
        .body;
    assert_eq!(read["config"]["access_token"], "***");
    let attached = attach(app, &id, &first, &json!({}));
    assert_eq!(
        rendered(app, Role::Service, &attached).expect(200).body["config"]["access_token"],
        LEGACY_TOKEN_PLAIN
    );
    assert_eq!(
        rendered(app, Role::Viewer, &attached).expect(200).body["config"]["access_token"],
        "***"
    );
    // Echoed: carried to the new table under the version the old value had.
    let second = app.revision(&id, &json!({ "pixel_id": "2", "access_token": "***" }));
    assert_eq!(
        diff(app, &id, 1, 2),
        json!([{ "op": "replace", "path": "/pixel_id", "value": "2" }])
    );
    // Entered again: changed. Restored: unchanged.
    app.revision(
        &id,
        &json!({ "pixel_id": "2", "access_token": LEGACY_TOKEN_PLAIN }),
    );
    assert_eq!(diff(app, &id, 2, 3), changed_token());
    restore(app, &id, 1);
    assert_eq!(diff(app, &id, 1, 4), json!([]));
    assert_eq!(
        diff(app, &id, 2, 4),
        json!([{ "op": "replace", "path": "/pixel_id", "value": "1" }])
    );
    let stored = stored_configs(app);
    assert_eq!(
        stored[0]["access_token"], LEGACY_TOKEN,
        "the old row is untouched"
    );
    for carried in [&stored[1], &stored[3]] {
        assert!(
            carried["access_token"]
                .as_str()
                .is_some_and(|v| v.starts_with("enc:v2:v1-")),
            "{carried}"
        );
    }
    for revision in [&second, &restore(app, &id, 2)] {
        let attached = attach(app, &id, &id_of(revision), &json!({}));
        assert_eq!(
            rendered(app, Role::Service, &attached).expect(200).body["config"]["access_token"],
            LEGACY_TOKEN_PLAIN
        );
    }
}

fn a_header_kept_in_clear_by_the_first_release_is_masked_and_sealed_on_echo(app: &TestApp) {
    // A sealed signing secret, and a header stored in clear before header
    // values were secrets.
    let (hook, hook_first) = legacy_template(
        app,
        "webhook",
        &json!({ "url": "https://example.com", "signing_secret": LEGACY_SIGNING,
                 "headers": { "Authorization": LEGACY_HEADER, "X-Tenant": "{{pipeline_param.tenant}}" } }),
    );
    for role in ROLES {
        let reply = app
            .get(
                &format!("{}/1", paths::revisions(&hook)),
                &app.token("org_a", role),
            )
            .expect(200);
        assert!(
            !reply.body.to_string().contains("legacy-"),
            "{role:?}: {}",
            reply.body
        );
        assert_eq!(
            reply.body["config"]["headers"],
            json!({ "Authorization": "***", "X-Tenant": "{{pipeline_param.tenant}}" })
        );
    }
    let attached = attach(app, &hook, &hook_first, &json!({ "tenant": "acme" }));
    let service = rendered(app, Role::Service, &attached).expect(200).body;
    assert_eq!(service["config"]["signing_secret"], LEGACY_SIGNING_PLAIN);
    assert_eq!(
        service["config"]["headers"],
        json!({ "Authorization": LEGACY_HEADER, "X-Tenant": "acme" })
    );
    // Echoing both: the sealed secret keeps its version; the header, which had
    // none, is sealed now and shows as changed once.
    app.revision(
        &hook,
        &json!({ "url": "https://example.com", "signing_secret": "***",
                 "headers": { "Authorization": "***", "X-Tenant": "{{pipeline_param.tenant}}" } }),
    );
    assert_eq!(
        diff(app, &hook, 1, 2),
        json!([{ "op": "replace", "path": "/headers/Authorization", "value": "***" }])
    );
    let stored = stored_configs(app);
    let echoed = stored.last().expect("the echo");
    assert!(!echoed.to_string().contains("legacy-"), "{echoed}");
    let newest = app
        .get(&format!("{}/2", paths::revisions(&hook)), &app.owner())
        .expect(200)
        .body;
    let attached = attach(app, &hook, &id_of(&newest), &json!({ "tenant": "acme" }));
    assert_eq!(
        rendered(app, Role::Service, &attached).expect(200).body["config"],
        service["config"]
    );
}

crate::api_tests!(
    diffs_compare_versions_never_values,
    header_values_are_secrets_one_by_one,
    header_values_render_and_diff_one_by_one,
    a_sealed_value_moved_elsewhere_does_not_open,
    values_sealed_by_the_first_release_still_work,
    a_header_kept_in_clear_by_the_first_release_is_masked_and_sealed_on_echo,
);
