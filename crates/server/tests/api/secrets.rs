//! docs/api.md "Secrets" over HTTP and at rest: a canary secret written through the API is
//! masked in every response for every role but `service` on rendered configs,
//! sealed in the database (SQLite file and WAL, `pg_dump` of PostgreSQL), and
//! absent from the logs; echoing the mask keeps the stored secret.

use std::process::Command;

use integrations_domain::Role;
use integrations_testing::Backend;
use serde_json::{Value, json};

use crate::process::{self, Process};
use crate::support::{
    Reply, SealedRow, TestApp,
    paths::{self, PIPELINES, TEMPLATES},
    stored_configs, stored_sealed,
};

const ROLES: [Role; 5] = [
    Role::Owner,
    Role::Admin,
    Role::Editor,
    Role::Viewer,
    Role::Service,
];

/// A value that cannot appear anywhere by chance.
pub(crate) fn new_canary() -> String {
    format!(
        "canary-{:016x}{:08x}",
        rand::random::<u64>(),
        rand::random::<u32>()
    )
}

#[track_caller]
pub(crate) fn assert_clean(what: &str, reply: &Reply, canary: &str) {
    let text = reply.body.to_string();
    assert!(
        !text.contains(canary) && !reply.text.contains(canary),
        "{what} ({}) leaks the canary: {}",
        reply.status,
        reply.text
    );
    for (name, value) in &reply.headers {
        assert!(
            !value
                .as_bytes()
                .windows(canary.len())
                .any(|w| w == canary.as_bytes()),
            "{what}: header {name} leaks the canary"
        );
    }
}

/// Checks that a stored secret is a reference `enc:v2:<version id>` and returns the version.
#[track_caller]
fn sealed_version<'a>(value: &'a Value, canary: &str) -> &'a str {
    let text = value.as_str().unwrap_or_else(|| panic!("{value} is text"));
    assert!(!text.contains(canary), "stored in clear: {text}");
    let version = text
        .strip_prefix("enc:v2:")
        .unwrap_or_else(|| panic!("{text} is a reference to a sealed value"));
    assert!(
        !version.is_empty()
            && version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "{text}"
    );
    version
}

/// The sealed-values rows: each an envelope `<key id>`, `<base64url>` without the canary.
#[track_caller]
fn checked_envelopes(app: &TestApp, canary: &str) -> Vec<SealedRow> {
    let rows = stored_sealed(app);
    for row in &rows {
        assert!(!row.kid.is_empty(), "{row:?}");
        assert!(!row.ciphertext.contains(canary), "sealed in clear: {row:?}");
        assert!(
            row.ciphertext.len() > 16
                && row
                    .ciphertext
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{row:?}: the payload is base64url"
        );
    }
    rows
}

pub(crate) fn bytes_contain(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// A pipeline of `org_a` with `template` attached at `revision_id`: its id and the attachment's.
fn attach(app: &TestApp, name: &str, template: &str, revision_id: &str) -> (String, String) {
    let token = app.owner();
    let pipeline = app
        .create_pipeline(&token, &json!({ "name": name }))
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

/// Writes the canary through install and the revisions route; returns the
/// template id and the id of its newest revision.
fn write_the_canary(app: &TestApp, canary: &str, name: &str) -> (String, String) {
    let config = json!({ "pixel_id": "1234567890", "access_token": canary });
    let install = app
        .install(
            &app.token("org_a", Role::Editor),
            "meta_capi",
            &json!({ "name": name, "config": config }),
        )
        .expect(201);
    assert_clean("install", &install, canary);
    assert_eq!(install.body["revision"]["config"]["access_token"], "***");
    let id = install.body["template"]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let mut newest = None;
    for (batch, role) in [(10, Role::Owner), (20, Role::Admin), (30, Role::Editor)] {
        let created = app
            .create_revision(&app.token("org_a", role), &id, &json!({ "config": { "pixel_id": "1234567890", "access_token": canary, "batch_size": batch }, "delivery_mode": "server_side" }))
            .expect(201);
        assert_clean(&format!("POST revision as {role:?}"), &created, canary);
        assert_eq!(created.body["config"]["access_token"], "***");
        newest = created.body["id"].as_str().map(str::to_owned);
    }
    for role in [Role::Viewer, Role::Service] {
        let refused = app
            .create_revision(
                &app.token("org_a", role),
                &id,
                &json!({ "config": config, "delivery_mode": "server_side" }),
            )
            .expect_error(403, "FORBIDDEN");
        assert_clean(&format!("POST revision as {role:?}"), &refused, canary);
    }
    // Error responses do not echo the secret either.
    let invalid = app
        .create_revision(&app.owner(), &id, &json!({ "config": { "pixel_id": 1, "access_token": canary, "batch_size": "many" }, "delivery_mode": "server_side" }))
        .expect_error(422, "VALIDATION_FAILED");
    assert_clean("a 422", &invalid, canary);
    let taken = app
        .install(
            &app.owner(),
            "meta_capi",
            &json!({ "name": name, "config": config }),
        )
        .expect_error(409, "NAME_TAKEN");
    assert_clean("a 409", &taken, canary);
    (id, newest.expect("a newest revision"))
}

/// Every read route, as every role: masked, except rendered configs for `service`.
fn read_everything_as_every_role(app: &TestApp, canary: &str, id: &str, attached: (&str, &str)) {
    let (pipeline, attachment) = attached;
    for role in ROLES {
        let token = app.token("org_a", role);
        let mut paths = vec![
            TEMPLATES.to_owned(),
            format!("{TEMPLATES}/{id}"),
            paths::revisions(id),
            format!("{}?limit=2&offset=1", paths::revisions(id)),
            format!("{PIPELINES}/{pipeline}/integrations"),
            format!("{PIPELINES}/{pipeline}/integrations/{attachment}"),
        ];
        paths.extend((1..=4).map(|n| format!("{}/{n}", paths::revisions(id))));
        for path in &paths {
            let reply = app.get(path, &token).expect(200);
            assert_clean(&format!("GET {path} as {role:?}"), &reply, canary);
        }
        for n in 1..=4 {
            let reply = app.get(&format!("{}/{n}", paths::revisions(id)), &token);
            assert_eq!(
                reply.body["config"]["access_token"], "***",
                "revision {n} as {role:?}"
            );
        }
        let listed = app.list_revisions(&token, id, "").body;
        let revisions = listed["revisions"].as_array().expect("revisions");
        assert_eq!(revisions.len(), 4);
        assert!(
            revisions
                .iter()
                .all(|r| r["config"]["access_token"] == "***"),
            "{listed}"
        );

        // Rendered configs: the one place where `service` gets the secret in clear.
        let one = app
            .attachment_config(&token, pipeline, attachment)
            .expect(200);
        let all = app.pipeline_config(&token, pipeline).expect(200);
        if role == Role::Service {
            assert_eq!(one.body["config"]["access_token"], canary, "{}", one.body);
            assert_eq!(
                all.body["integrations"][0]["config"]["access_token"], canary,
                "{}",
                all.body
            );
        } else {
            assert_clean(&format!("rendered config as {role:?}"), &one, canary);
            assert_clean(&format!("pipeline config as {role:?}"), &all, canary);
            assert_eq!(one.body["config"]["access_token"], "***", "{}", one.body);
            assert_eq!(
                all.body["integrations"][0]["config"]["access_token"], "***",
                "{}",
                all.body
            );
        }
    }
}

/// The raw storage: the SQLite file and its WAL, or a `pg_dump`.
pub(crate) fn assert_storage_is_clean(app: &TestApp, canary: &str, marker: &str) {
    match app.db.backend() {
        Backend::Sqlite => {
            let path = app.db.url().trim_start_matches("sqlite://").to_owned();
            let mut bytes = std::fs::read(&path).expect("the SQLite file");
            let wal = std::fs::read(format!("{path}-wal")).unwrap_or_default();
            assert!(
                !bytes_contain(&bytes, canary),
                "the SQLite file holds the canary"
            );
            assert!(
                !bytes_contain(&wal, canary),
                "the SQLite WAL holds the canary"
            );
            bytes.extend(wal);
            assert!(
                bytes_contain(&bytes, marker),
                "the data is there: the template's name is in the file or its WAL"
            );
            assert!(bytes_contain(&bytes, "enc:v2:"), "sealed values are stored");
        }
        Backend::Postgres => {
            let output = match Command::new("pg_dump").arg(app.db.url()).output() {
                Ok(output) => output,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    let message =
                        "pg_dump is not on PATH: the PostgreSQL at-rest check was SKIPPED";
                    assert!(
                        std::env::var("CI").as_deref() != Ok("true"),
                        "CI=true: {message}"
                    );
                    let banner = "!".repeat(100);
                    eprintln!("\n{banner}\n!! WARNING: {message}\n{banner}\n");
                    return;
                }
                Err(err) => panic!("pg_dump cannot run: {err}"),
            };
            assert!(
                output.status.success(),
                "pg_dump failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let dump = output.stdout;
            assert!(!bytes_contain(&dump, canary), "pg_dump holds the canary");
            assert!(bytes_contain(&dump, marker), "the dump has the table data");
            assert!(bytes_contain(&dump, "enc:v2:"), "sealed values are stored");
        }
    }
}

fn a_canary_secret_is_masked_everywhere_and_sealed_at_rest(app: &TestApp) {
    let canary = new_canary();
    let marker = format!("Meta marker {:08x}", rand::random::<u32>());
    let (id, newest) = write_the_canary(app, &canary, &marker);
    let (pipeline, attachment) = attach(app, "Web", &id, &newest);
    read_everything_as_every_role(app, &canary, &id, (&pipeline, &attachment));

    // The configs reference sealed values: one version per value entered.
    let stored = stored_configs(app);
    assert_eq!(stored.len(), 4, "{stored:?}");
    let mut versions: Vec<&str> = stored
        .iter()
        .map(|c| sealed_version(&c["access_token"], &canary))
        .collect();
    versions.sort_unstable();
    versions.dedup();
    assert_eq!(versions.len(), 4, "the canary was entered four times");
    // The envelopes: one key id, a fresh nonce each time.
    let rows = checked_envelopes(app, &canary);
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert!(rows.iter().all(|r| r.kid == rows[0].kid), "{rows:?}");
    assert!(rows.iter().all(|r| r.field_path == "/access_token"));
    let mut sealed: Vec<&str> = rows.iter().map(|r| r.ciphertext.as_str()).collect();
    sealed.sort_unstable();
    sealed.dedup();
    assert_eq!(sealed.len(), 4, "each seal uses a fresh nonce");
    assert!(
        stored.iter().all(|c| c["pixel_id"] == "1234567890"),
        "other values are stored as they are"
    );
    assert_storage_is_clean(app, &canary, &marker);
}

fn an_echoed_mask_keeps_the_sealed_secret(app: &TestApp) {
    let canary = new_canary();
    let editor = app.token("org_a", Role::Editor);
    let installed = app
        .install(
            &editor,
            "meta_capi",
            &json!({ "name": "Echo", "config": { "pixel_id": "111", "access_token": canary } }),
        )
        .expect(201)
        .body;
    let id = installed["template"]["id"].as_str().expect("an id");
    // Read, change one non-secret value, send it all back.
    let read = app
        .get(&format!("{}/1", paths::revisions(id)), &editor)
        .expect(200)
        .body;
    let mut config = read["config"].clone();
    assert_eq!(config["access_token"], "***");
    config["batch_size"] = json!(321);
    let second = app
        .create_revision(&editor, id, &json!({ "config": config, "delivery_mode": read["delivery_mode"], "change_summary": "bigger batches" }))
        .expect(201)
        .body;
    assert_eq!(second["revision_number"], 2);
    assert_eq!(second["config"]["access_token"], "***");
    assert_eq!(second["config"]["batch_size"], 321);
    assert_eq!(second["config"]["pixel_id"], "111");
    // Round-trip the round trip.
    let mut config = second["config"].clone();
    config["pixel_id"] = json!("222");
    app.create_revision(
        &editor,
        id,
        &json!({ "config": config, "delivery_mode": "server_side" }),
    )
    .expect(201);
    let stored = stored_configs(app);
    assert_eq!(stored.len(), 3);
    sealed_version(&stored[0]["access_token"], &canary);
    assert_eq!(
        stored[1]["access_token"], stored[0]["access_token"],
        "the very same value (version) is kept"
    );
    // …sealed again for its new place: same version, another envelope.
    let rows = checked_envelopes(app, &canary);
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows.iter().all(|r| r.version_id == rows[0].version_id));
    assert_ne!(rows[1].ciphertext, rows[0].ciphertext);
    assert_ne!(rows[1].owner_id, rows[0].owner_id);
    assert_eq!(stored[2]["access_token"], stored[0]["access_token"]);
    assert_eq!(stored[2]["pixel_id"], "222");

    // The service role still sees the mask on revision routes…
    let service = app.token("org_a", Role::Service);
    for n in 1..=3 {
        let reply = app
            .get(&format!("{}/{n}", paths::revisions(id)), &service)
            .expect(200);
        assert_clean("GET revision as service", &reply, &canary);
        assert_eq!(reply.body["config"]["access_token"], "***");
    }
    // …and the original secret, in clear, on the rendered config of the echoed revision.
    let third = app
        .get(&format!("{}/3", paths::revisions(id)), &editor)
        .expect(200)
        .body;
    let (pipeline, attachment) = attach(
        app,
        "Echo pipeline",
        id,
        third["id"].as_str().expect("an id"),
    );
    let rendered = app
        .attachment_config(&service, &pipeline, &attachment)
        .expect(200)
        .body;
    assert_eq!(rendered["config"]["access_token"], canary.as_str());
    assert_eq!(rendered["config"]["pixel_id"], "222");

    // A new value replaces the secret; echoing then keeps the newest one.
    let rotated = new_canary();
    app.revision(id, &json!({ "pixel_id": "222", "access_token": rotated }));
    app.revision(id, &json!({ "pixel_id": "333", "access_token": "***" }));
    let stored = stored_configs(app);
    assert_eq!(stored.len(), 5);
    sealed_version(&stored[3]["access_token"], &rotated);
    assert_ne!(stored[3]["access_token"], stored[0]["access_token"]);
    assert_eq!(stored[4]["access_token"], stored[3]["access_token"]);
}

fn an_echoed_mask_needs_a_value_in_the_latest_revision(app: &TestApp) {
    let token = app.owner();
    let fresh = app.template("Fresh", "meta_capi");
    let reply = app
        .create_revision(&token, &fresh, &json!({ "config": { "pixel_id": "1", "access_token": "***" }, "delivery_mode": "server_side" }))
        .expect_error(422, "VALIDATION_FAILED");
    assert_eq!(
        reply.sorted_details(),
        [(
            "config.access_token".to_owned(),
            "no_previous_secret".to_owned()
        )]
    );
    // Reported together with the config's other problems.
    let reply = app
        .create_revision(&token, &fresh, &json!({ "config": { "pixel_id": 1, "access_token": "***" }, "delivery_mode": "server_side" }))
        .expect_error(422, "VALIDATION_FAILED");
    assert_eq!(
        reply.sorted_details(),
        [
            (
                "config.access_token".to_owned(),
                "no_previous_secret".to_owned()
            ),
            ("config.pixel_id".to_owned(), "invalid_type".to_owned()),
        ]
    );
    assert_eq!(
        app.list_revisions(&token, &fresh, "").expect(200).body["total"],
        0
    );

    // Only the latest revision counts: an older value is not brought back.
    let canary = new_canary();
    let webhook = app.template("Hook", "webhook");
    app.revision(
        &webhook,
        &json!({ "url": "https://example.com/a", "signing_secret": canary }),
    );
    app.revision(&webhook, &json!({ "url": "https://example.com/b" }));
    let reply = app
        .create_revision(&token, &webhook, &json!({ "config": { "url": "https://example.com/c", "signing_secret": "***" }, "delivery_mode": "server_side" }))
        .expect_error(422, "VALIDATION_FAILED");
    assert_clean("a 422", &reply, &canary);
    assert_eq!(
        reply.sorted_details(),
        [(
            "config.signing_secret".to_owned(),
            "no_previous_secret".to_owned()
        )]
    );
    assert_eq!(
        app.list_revisions(&token, &webhook, "").expect(200).body["total"],
        2
    );
}

fn each_secret_field_is_kept_replaced_or_named_on_its_own(app: &TestApp) {
    let token = app.token("org_a", Role::Editor);
    let (developer, client, refresh) = (new_canary(), new_canary(), new_canary());
    let installed = app
        .install(&token, "google_ads", &json!({ "name": "Ads", "config": { "developer_token": developer, "client_secret": client, "refresh_token": refresh } }))
        .expect(201);
    for secret in [&developer, &client, &refresh] {
        assert_clean("install", &installed, secret);
    }
    let config = &installed.body["revision"]["config"];
    for key in ["developer_token", "client_secret", "refresh_token"] {
        assert_eq!(config[key], "***", "{key}");
    }
    let id = installed.body["template"]["id"].as_str().expect("an id");
    let mut next = config.clone();
    let rotated = new_canary();
    next["client_secret"] = json!(rotated);
    next["refresh_token"] = json!("{{pipeline_param.ads_refresh_token}}");
    let second = app
        .create_revision(
            &token,
            id,
            &json!({ "config": next, "delivery_mode": "server_side" }),
        )
        .expect(201);
    assert_clean("second revision", &second, &rotated);
    assert_eq!(second.body["config"]["developer_token"], "***");
    assert_eq!(second.body["config"]["client_secret"], "***");
    assert_eq!(
        second.body["config"]["refresh_token"],
        "{{pipeline_param.ads_refresh_token}}"
    );
    let stored = stored_configs(app);
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1]["developer_token"], stored[0]["developer_token"]);
    sealed_version(&stored[0]["client_secret"], &client);
    sealed_version(&stored[1]["client_secret"], &rotated);
    assert_ne!(stored[1]["client_secret"], stored[0]["client_secret"]);
    sealed_version(&stored[0]["refresh_token"], &refresh);
    for secret in [&developer, &client, &refresh, &rotated] {
        checked_envelopes(app, secret);
    }
    assert_eq!(
        stored[1]["refresh_token"],
        "{{pipeline_param.ads_refresh_token}}"
    );
    // Placeholders the variant brings (customer_id…) are stored as they are.
    assert_eq!(
        stored[1]["customer_id"],
        "{{pipeline_param.google_ads_customer_id}}"
    );
}

fn a_placeholder_in_a_secret_field_is_shown_and_stored_as_is(app: &TestApp) {
    const PLACEHOLDER: &str = "{{pipeline_param.meta_token}}";
    let id = app.template("Named", "meta_capi");
    let created = app.revision(
        &id,
        &json!({ "pixel_id": "1", "access_token": PLACEHOLDER }),
    );
    assert_eq!(created["config"]["access_token"], PLACEHOLDER);
    for role in ROLES {
        let reply = app
            .get(
                &format!("{}/1", paths::revisions(&id)),
                &app.token("org_a", role),
            )
            .expect(200);
        assert_eq!(
            reply.body["config"]["access_token"], PLACEHOLDER,
            "{role:?}"
        );
    }
    // Installing the default variant keeps its placeholders unsealed too.
    let installed = app
        .install(&app.owner(), "meta_capi", &json!({ "name": "Installed" }))
        .expect(201)
        .body;
    assert_eq!(
        installed["revision"]["config"]["access_token"],
        "{{pipeline_param.meta_access_token}}"
    );
    let stored = stored_configs(app);
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0]["access_token"], PLACEHOLDER);
    assert_eq!(
        stored[1]["access_token"],
        "{{pipeline_param.meta_access_token}}"
    );
    // Text around a placeholder makes it a secret again: masked and sealed.
    let mixed = app.revision(
        &id,
        &json!({ "pixel_id": "1", "access_token": "Bearer {{pipeline_param.meta_token}}" }),
    );
    assert_eq!(mixed["config"]["access_token"], "***");
    let stored = stored_configs(app);
    assert!(
        stored[2]["access_token"]
            .as_str()
            .is_some_and(|s| s.starts_with("enc:v2:")),
        "{stored:?}"
    );
}

crate::api_tests!(
    a_canary_secret_is_masked_everywhere_and_sealed_at_rest,
    an_echoed_mask_keeps_the_sealed_secret,
    an_echoed_mask_needs_a_value_in_the_latest_revision,
    each_secret_field_is_kept_replaced_or_named_on_its_own,
    a_placeholder_in_a_secret_field_is_shown_and_stored_as_is,
);

/// Creates (with an idempotency key), refuses, echoes and renders a pipeline
/// whose secret parameter is the canary; no answer holds it.
fn send_the_canary_as_a_secret_parameter(
    server: &crate::support::Client,
    token: &str,
    template: &str,
    canary: &str,
) {
    // The same canary as a pipeline's secret parameter: created (with an
    // idempotency key), refused, echoed, rendered.
    let created = server.raw_with(
        "POST",
        "/v1/admin/pipelines",
        token,
        &[("Idempotency-Key", "logged-pipeline")],
        Some((
            "application/json",
            json!({ "name": "Logged", "secret_parameters": { "token": canary } })
                .to_string()
                .into_bytes(),
        )),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let pipeline = created.id();
    let refused = server.update_pipeline(
        token,
        &pipeline,
        &json!({ "parameters": { "token": canary }, "secret_parameters": { "token": canary } }),
    );
    assert_eq!(refused.status, 422, "{}", refused.text);
    server
        .update_pipeline(
            token,
            &pipeline,
            &json!({ "secret_parameters": { "token": "***" } }),
        )
        .expect(200);
    let revision = server
        .create_revision(
            token,
            template,
            &json!({ "config": { "pixel_id": "1", "access_token": "{{pipeline_param.token}}" }, "delivery_mode": "server_side" }),
        )
        .expect(201)
        .id();
    let attachment = server
        .attach(
            token,
            &pipeline,
            &json!({ "integration_id": template, "revision_id": revision }),
        )
        .expect(201)
        .id();
    for reply in [
        refused,
        server.attachment_config(token, &pipeline, &attachment),
        server.pipeline_config(token, &pipeline),
    ] {
        assert!(
            !reply.text.contains(canary),
            "answered the canary: {}",
            reply.text
        );
    }
}

// ----- The real binary: no log line holds the secret. -----

#[test]
fn the_canary_appears_in_no_log_line() {
    let dir = tempfile::tempdir().expect("a folder");
    let canary = new_canary();
    // Logging at debug level, as JSON, to stderr.
    let mut command = process::command(dir.path());
    command.env("RUST_LOG", "debug").env("LOG_FORMAT", "json");
    let server = Process::start(command);
    let token = server.stdout_line("export TOKEN=");
    let template = server
        .create_template(
            &token,
            &json!({ "name": "Logged Meta", "vendor": "meta_capi" }),
        )
        .expect(201)
        .id();
    let path = paths::revisions(&template);
    let good = json!({ "config": { "pixel_id": "1", "access_token": canary }, "delivery_mode": "server_side" });
    let cases: [(&str, String, Option<String>, u16); 8] = [
        ("POST", path.clone(), Some(good.to_string()), 201),
        ("GET", format!("{path}/1"), None, 200),
        ("GET", path.clone(), None, 200),
        // A validation failure with the secret in the body.
        (
            "POST",
            path.clone(),
            Some(json!({ "config": { "pixel_id": 1, "access_token": canary, "batch_size": "x" }, "delivery_mode": "server_side" }).to_string()),
            422,
        ),
        // An unknown field and malformed JSON with the secret in the body.
        (
            "POST",
            path.clone(),
            Some(json!({ "config": { "pixel_id": "1", "access_token": canary }, "delivery_mode": "server_side", "extra": 1 }).to_string()),
            400,
        ),
        (
            "POST",
            path.clone(),
            Some(format!(r#"{{"config": {{"access_token": "{canary}""#)),
            400,
        ),
        (
            "POST",
            paths::install("meta_capi"),
            Some(json!({ "name": "Installed", "config": { "access_token": canary } }).to_string()),
            201,
        ),
        ("GET", TEMPLATES.to_owned(), None, 200),
    ];
    for (method, path, body, expected) in &cases {
        // The body is sent as JSON text, not necessarily valid JSON.
        let body = body
            .as_ref()
            .map(|text| ("application/json", text.clone().into_bytes()));
        let reply = server.raw(method, path, Some(&token), body);
        assert_eq!(reply.status, *expected, "{method} {path}: {}", reply.text);
        assert!(
            !reply.text.contains(&canary),
            "{method} {path} answered the canary: {}",
            reply.text
        );
    }
    send_the_canary_as_a_secret_parameter(&server, &token, &template, &canary);
    let (stdout, stderr) = server.stop();
    assert!(
        !stderr.contains(&canary),
        "a log line holds the canary:\n{}",
        stderr
            .lines()
            .filter(|l| l.contains(&canary))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(!stdout.contains(&canary), "stdout holds the canary");
    // The logs were written, as JSON: the check above looked at something.
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "the server logged nothing");
    assert!(
        lines
            .iter()
            .all(|l| serde_json::from_str::<Value>(l).is_ok_and(|v| v.is_object())),
        "every log line is a JSON object:\n{stderr}"
    );
    // The secret was really stored: sealed, in the SQLite file.
    let mut stored = std::fs::read(dir.path().join("data/integrations.db")).expect("the database");
    stored.extend(std::fs::read(dir.path().join("data/integrations.db-wal")).unwrap_or_default());
    assert!(
        !bytes_contain(&stored, &canary),
        "the database file holds the canary"
    );
    assert!(bytes_contain(&stored, "enc:v2:"));
}
