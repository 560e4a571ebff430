//! The OpenAPI document (`/openapi.json`, `integrations openapi`) and the API
//! reference page (`/docs`), served by the binary itself.

use std::time::Duration;

use integrations_testing::Backend;
use serde_json::Value;

use crate::support::TestApp;

/// Every route the application registers, with its methods.
const ROUTES: &[(&str, &[&str])] = &[
    ("/healthz", &["get"]),
    ("/readyz", &["get"]),
    ("/metrics", &["get"]),
    ("/openapi.json", &["get"]),
    ("/docs", &["get"]),
    ("/docs/rapidoc-min.js", &["get"]),
    ("/v1/admin/integration-catalog", &["get"]),
    ("/v1/admin/integration-catalog/{vendor_key}", &["get"]),
    (
        "/v1/admin/integration-catalog/{vendor_key}/install",
        &["post"],
    ),
    ("/v1/admin/integration-templates", &["get", "post"]),
    (
        "/v1/admin/integration-templates/{id}",
        &["get", "put", "delete"],
    ),
    (
        "/v1/admin/integration-templates/{id}/revisions",
        &["get", "post"],
    ),
    (
        "/v1/admin/integration-templates/{id}/revisions/{rev}",
        &["get"],
    ),
    (
        "/v1/admin/integration-templates/{id}/revisions/{rev}/restore",
        &["post"],
    ),
    (
        "/v1/admin/integration-templates/{id}/revisions/{from}/diff/{to}",
        &["get"],
    ),
    ("/v1/admin/integration-templates/{id}/pipelines", &["get"]),
    (
        "/v1/admin/integration-templates/{id}/rollouts",
        &["get", "post"],
    ),
    (
        "/v1/admin/integration-templates/{id}/rollouts/{ro}",
        &["get"],
    ),
    (
        "/v1/admin/integration-templates/{id}/rollouts/{ro}/rollback",
        &["post"],
    ),
    ("/v1/admin/rollouts", &["get"]),
    ("/v1/admin/pipelines", &["get", "post"]),
    ("/v1/admin/pipelines/{pid}", &["get", "put", "delete"]),
    ("/v1/admin/pipelines/{pid}/integrations", &["get", "post"]),
    (
        "/v1/admin/pipelines/{pid}/integrations/{pi}",
        &["get", "put", "delete"],
    ),
    (
        "/v1/admin/pipelines/{pid}/integrations/{pi}/config",
        &["get"],
    ),
    ("/v1/admin/pipelines/{pid}/config", &["get"]),
    ("/v1/admin/events", &["get"]),
    ("/v1/admin/audit-log", &["get"]),
    ("/v1/admin/keys", &["get"]),
    ("/v1/admin/me", &["get"]),
];

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn sqlite_app() -> TestApp {
    TestApp::spawn(Backend::Sqlite).expect("SQLite is always there")
}

/// A plain GET, for bodies that are not JSON: status, content type, bytes.
fn fetch(app: &TestApp, path: &str) -> (u16, String, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut response = agent
        .get(format!("{}{path}", app.base))
        .call()
        .expect("the server answers");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response
        .body_mut()
        .with_config()
        .limit(16 * 1024 * 1024)
        .read_to_vec()
        .expect("a body");
    (status, content_type, body)
}

fn served_document(app: &TestApp) -> Value {
    let reply = app.get("/openapi.json", "").expect(200);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{:?}",
        reply.headers
    );
    reply.body
}

#[test]
fn the_document_is_openapi_3_1_and_documents_every_route() {
    let app = sqlite_app();
    let doc = served_document(&app);
    let version = doc["openapi"].as_str().expect("a version");
    assert!(version.starts_with("3.1."), "{version}");
    assert_eq!(doc["info"]["title"], "Integrations Management API");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));

    let paths = doc["paths"].as_object().expect("paths");
    for (path, methods) in ROUTES {
        let item = paths
            .get(*path)
            .unwrap_or_else(|| panic!("{path} is not documented"));
        let documented: Vec<&str> = METHODS
            .into_iter()
            .filter(|m| item.get(*m).is_some())
            .collect();
        assert_eq!(&documented, methods, "{path}");
    }
    let listed: Vec<&str> = ROUTES.iter().map(|(path, _)| *path).collect();
    for path in paths.keys() {
        assert!(listed.contains(&path.as_str()), "{path} is not a route");
    }
}

#[test]
fn every_admin_operation_wants_the_bearer_token_and_documents_its_errors() {
    let app = sqlite_app();
    let doc = served_document(&app);
    let scheme = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(
        (&scheme["type"], &scheme["scheme"]),
        (&Value::from("http"), &Value::from("bearer"))
    );
    assert!(doc.get("security").is_none(), "no document-wide security");

    for (path, methods) in ROUTES {
        for method in *methods {
            let operation = &doc["paths"][*path][*method];
            let responses = operation["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|status| status.starts_with('2')),
                "{method} {path}: no success response"
            );
            if path.starts_with("/v1/admin/") {
                assert_eq!(
                    operation["security"],
                    serde_json::json!([{ "bearer": [] }]),
                    "{method} {path}"
                );
                // `/me` needs no role: it cannot answer 403.
                let statuses: &[&str] = if *path == "/v1/admin/me" {
                    &["401", "500"]
                } else {
                    &["401", "403", "500"]
                };
                for &status in statuses {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path}: {status} is not documented"
                    );
                }
                // Every error is the one error envelope.
                for (status, response) in responses.iter().filter(|(s, _)| s.as_str() >= "400") {
                    let envelope = match response.get("$ref").and_then(Value::as_str) {
                        Some(reference) => {
                            let name = reference.rsplit('/').next().expect("a name");
                            &doc["components"]["responses"][name]
                        }
                        None => response,
                    };
                    assert_eq!(
                        envelope["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorEnvelope",
                        "{method} {path} {status}"
                    );
                }
            } else {
                assert!(operation.get("security").is_none(), "{method} {path}");
            }
        }
    }
}

#[test]
fn the_error_envelope_schema_says_what_errors_look_like() {
    let app = sqlite_app();
    let doc = served_document(&app);
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["ErrorEnvelope"]["required"],
        serde_json::json!(["error"])
    );
    assert_eq!(
        schemas["ErrorBody"]["required"],
        serde_json::json!(["code", "message"])
    );
    let detail = schemas["Detail"]["properties"]
        .as_object()
        .expect("detail properties");
    let mut fields: Vec<&str> = detail.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "field",
            "limit",
            "message",
            "more",
            "oldest",
            "pipeline_id",
            "pipeline_name",
            "problem"
        ]
    );

    // And a real error matches it.
    let reply = app.get("/v1/admin/integration-templates", "");
    let error = reply.expect(401).body;
    let keys: Vec<&String> = error["error"].as_object().expect("error").keys().collect();
    assert!(
        keys.iter()
            .all(|k| ["code", "message", "details"].contains(&k.as_str()))
    );
}

#[test]
fn the_served_document_is_what_the_openapi_command_prints() {
    let app = sqlite_app();
    let served = served_document(&app);
    let dir = tempfile::tempdir().expect("a folder");
    let output = crate::process::command(dir.path())
        .arg("openapi")
        .output()
        .expect("the binary runs");
    assert!(output.status.success(), "{output:?}");
    let printed: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    assert_eq!(printed, served);
}

#[test]
fn the_docs_page_loads_its_script_from_the_binary() {
    let app = sqlite_app();
    let (status, content_type, page) = fetch(&app, "/docs");
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let page = String::from_utf8(page).expect("UTF-8");
    assert!(page.contains("spec-url=\"/openapi.json\""), "{page}");
    assert!(
        !page.contains("http://") && !page.contains("https://") && !page.contains("//cdn"),
        "the page must not load anything from elsewhere: {page}"
    );

    let scripts: Vec<&str> = page
        .split("<script")
        .skip(1)
        .filter_map(|tag| tag.split("src=\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(scripts.len(), 1, "{page}");
    for src in scripts {
        assert!(
            src.starts_with('/') && !src.starts_with("//"),
            "a local script: {src}"
        );
        let (status, content_type, script) = fetch(&app, src);
        assert_eq!(status, 200, "{src}");
        assert!(content_type.contains("javascript"), "{content_type}");
        assert!(script.len() > 100_000, "{} bytes", script.len());
    }
}

#[test]
fn plain_routes_refuse_other_methods_with_405() {
    let app = sqlite_app();
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"] {
        let reply = app
            .call("POST", path, None, None)
            .expect_error(405, "METHOD_NOT_ALLOWED");
        assert_eq!(reply.header("allow"), Some("GET"), "{path}");
    }
}

/// `docs/api.md`, the API reference written for people.
fn api_reference() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/api.md");
    std::fs::read_to_string(path).expect("docs/api.md is readable")
}

/// Where a path written in prose ends.
fn path_end(c: char) -> bool {
    c.is_whitespace() || "`?#)(,;|\"'<>*".contains(c)
}

/// Every `METHOD /path` the text names: a method in capitals, one space, a path.
fn named_operations(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] {
        let needle = format!("{method} /");
        for (at, _) in text.match_indices(&needle) {
            let before = text[..at].chars().next_back();
            if before.is_some_and(char::is_alphanumeric) {
                continue;
            }
            let rest = &text[at + method.len() + 1..];
            let path = &rest[..rest.find(path_end).unwrap_or(rest.len())];
            found.push((method.to_lowercase(), path.trim_end_matches('.').to_owned()));
        }
    }
    found
}

/// Every `/v1/…` path the text names, in a route, a URL or prose.
fn named_api_paths(text: &str) -> Vec<String> {
    text.match_indices("/v1/")
        .map(|(at, _)| {
            let rest = &text[at..];
            rest[..rest.find(path_end).unwrap_or(rest.len())]
                .trim_end_matches('.')
                .to_owned()
        })
        .collect()
}

/// Whether a path as written (`/v1/admin/pipelines/{pid}` or with a real
/// id in place of `{pid}`) is an instance of a documented path template.
fn instance_of(path: &str, template: &str) -> bool {
    let written: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let parts: Vec<&str> = template.split('/').collect();
    written.len() == parts.len()
        && written
            .iter()
            .zip(&parts)
            .all(|(w, t)| w == t || (t.starts_with('{') && t.ends_with('}') && !w.is_empty()))
}

/// What keeps the reference in step with the document: every operation of
/// the document that the text does not name as `METHOD /path` (exactly as
/// the document writes the path), and every operation or `/v1/…` path the
/// text names that the document lacks; sorted, each once.
fn reference_problems(doc: &Value, text: &str) -> Vec<String> {
    let paths = doc["paths"].as_object().expect("paths");
    let named = named_operations(text);
    let mut problems = Vec::new();
    for (path, item) in paths {
        for method in METHODS.into_iter().filter(|m| item.get(*m).is_some()) {
            if !named.iter().any(|(m, p)| m == method && p == path) {
                problems.push(format!(
                    "`{} {path}` is not in docs/api.md",
                    method.to_uppercase()
                ));
            }
        }
    }
    for (method, path) in &named {
        let served = paths
            .iter()
            .any(|(template, item)| instance_of(path, template) && item.get(method).is_some());
        if !served {
            problems.push(format!(
                "docs/api.md names `{} {path}`, which the server does not have",
                method.to_uppercase()
            ));
        }
    }
    for path in named_api_paths(text) {
        let base = path.trim_end_matches('/') == "/v1/admin";
        if !base && !paths.keys().any(|template| instance_of(&path, template)) {
            problems.push(format!(
                "docs/api.md names `{path}`, which is no route of the server"
            ));
        }
    }
    problems.sort();
    problems.dedup();
    problems
}

#[test]
fn the_api_reference_names_every_operation_and_no_other() {
    let app = sqlite_app();
    let doc = served_document(&app);
    let text = api_reference();
    let problems = reference_problems(&doc, &text);
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(named_operations(&text).len() >= ROUTES.len());

    // The checks do see a route that is missing, made up, or named another way.
    let wrong = text
        .replacen(
            "`GET /v1/admin/audit-log`",
            "`GET /v1/admin/audit-logs`",
            usize::MAX,
        )
        .replacen(
            "`DELETE /v1/admin/pipelines/{pid}`",
            "`DELETE /v1/admin/pipelines/{id}`",
            usize::MAX,
        )
        + "\nRevisions are immutable: `PUT /v1/admin/integration-templates/{id}/revisions/{rev}` is 405.\n\
           Also see /v1/admin/webhooks.\n";
    let found = reference_problems(&doc, &wrong);
    assert_eq!(
        found,
        [
            "`DELETE /v1/admin/pipelines/{pid}` is not in docs/api.md",
            "`GET /v1/admin/audit-log` is not in docs/api.md",
            "docs/api.md names `/v1/admin/audit-logs`, which is no route of the server",
            "docs/api.md names `/v1/admin/webhooks`, which is no route of the server",
            "docs/api.md names `GET /v1/admin/audit-logs`, which the server does not have",
            "docs/api.md names `PUT /v1/admin/integration-templates/{id}/revisions/{rev}`, \
             which the server does not have",
        ],
        "{found:#?}"
    );
}

#[test]
fn the_documented_event_types_are_the_feeds() {
    let app = sqlite_app();
    let doc = served_document(&app);
    let params = doc["paths"]["/v1/admin/events"]["get"]["parameters"]
        .as_array()
        .expect("parameters");
    let types = params
        .iter()
        .find(|p| p["name"] == "types")
        .expect("a types parameter");
    let documented: Vec<&str> = types["schema"]["items"]["enum"]
        .as_array()
        .expect("an enum of types")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let served: Vec<&str> = integrations_ports::EventType::ALL
        .iter()
        .map(|t| t.as_str())
        .collect();
    assert_eq!(documented, served);
    assert_eq!(
        (types["style"].as_str(), types["explode"].as_bool()),
        (Some("form"), Some(false))
    );
}
