//! Every error path of docs/api.md "Conventions" and "Errors" on the template and revision routes: exact status,
//! `error.code`, the `details` entry naming the field, the one error shape,
//! and a failed request that changes nothing.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Reply, TestApp, meta_config, paths::TEMPLATES};

/// Words that would betray SQL or the storage layer in a message.
const LEAKS: [&str; 4] = ["select", "diesel", "sqlite", "postgres"];

/// Panics unless the body is exactly `{"error": {"code", "message", "details"?}}`
/// with human messages that do not leak SQL or the backend.
#[track_caller]
pub fn assert_error_shape(reply: &Reply) {
    let body = reply
        .body
        .as_object()
        .unwrap_or_else(|| panic!("an error body is a JSON object: {}", reply.body));
    assert_eq!(
        body.keys().collect::<Vec<_>>(),
        ["error"],
        "one top-level key: {}",
        reply.body
    );
    let error = body["error"]
        .as_object()
        .unwrap_or_else(|| panic!("error is an object: {}", reply.body));
    for key in error.keys() {
        assert!(
            ["code", "message", "details"].contains(&key.as_str()),
            "unexpected key error.{key}: {}",
            reply.body
        );
    }
    assert!(
        error.get("code").is_some_and(Value::is_string),
        "error.code is a string: {}",
        reply.body
    );
    let mut messages = vec![
        error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("error.message is a string: {}", reply.body)),
    ];
    if let Some(details) = error.get("details") {
        let details = details
            .as_array()
            .unwrap_or_else(|| panic!("details is an array: {}", reply.body));
        for detail in details {
            assert!(
                detail["field"].is_string(),
                "each detail has a field: {}",
                reply.body
            );
            assert!(
                detail["problem"].is_string(),
                "each detail has a problem: {}",
                reply.body
            );
            messages.extend(detail["message"].as_str());
        }
    }
    for message in messages {
        let lower = message.to_lowercase();
        for word in LEAKS {
            assert!(
                !lower.contains(word),
                "the message leaks '{word}': {message}"
            );
        }
    }
}

/// Panics unless `reply` is the error `status`/`code` in the one error shape.
#[track_caller]
pub fn error(reply: Reply, status: u16, code: &str) -> Reply {
    let reply = reply.expect_error(status, code);
    assert_error_shape(&reply);
    reply
}

/// The `details` entries of an error as (field, problem) pairs.
/// Everything `org_a` has: its templates (all fields) and each one's revisions.
pub fn snapshot(app: &TestApp) -> Value {
    let owner = app.owner();
    let list = app
        .get(&format!("{TEMPLATES}?limit=100"), &owner)
        .expect(200)
        .body;
    let revisions: Vec<Value> = list["integrations"]
        .as_array()
        .expect("integrations")
        .iter()
        .map(|t| {
            let id = t["id"].as_str().expect("an id");
            app.get(&format!("{TEMPLATES}/{id}/revisions"), &owner)
                .expect(200)
                .body
        })
        .collect();
    json!({ "templates": list, "revisions": revisions })
}

/// Sends a request that must fail with `status`/`code` and change nothing.
#[track_caller]
fn rejected(app: &TestApp, status: u16, code: &str, send: impl FnOnce() -> Reply) -> Reply {
    let before = snapshot(app);
    let reply = error(send(), status, code);
    assert_eq!(
        snapshot(app),
        before,
        "a failed request changed the org's data"
    );
    reply
}

/// Like [`rejected`], and `details[0].field` must be `field` (and its problem
/// `problem`, when given).
#[track_caller]
fn rejected_field(
    app: &TestApp,
    status: u16,
    code: &str,
    field: &str,
    problem: Option<&str>,
    send: impl FnOnce() -> Reply,
) {
    let reply = rejected(app, status, code, send);
    assert_eq!(reply.first_field(), field, "body: {}", reply.body);
    if let Some(problem) = problem {
        assert_eq!(
            reply.body["error"]["details"][0]["problem"], problem,
            "body: {}",
            reply.body
        );
    }
}

/// A `meta_capi` template with one revision; its id.
fn seeded(app: &TestApp) -> String {
    let id = app.template("Meta Production", "meta_capi");
    app.revision(&id, &meta_config());
    id
}

fn json_bytes(text: &str) -> (&'static str, Vec<u8>) {
    ("application/json", text.as_bytes().to_vec())
}

fn malformed_json_is_400(app: &TestApp) {
    let id = seeded(app);
    let owner = app.owner();
    let revisions = format!("{TEMPLATES}/{id}/revisions");
    let template = format!("{TEMPLATES}/{id}");
    let bodies = [
        r#"{"name": "x", "vendor": "#,
        r#"{"name": "Broken", "vendor": "meta_capi"} trailing"#,
        r#"{"name": "Broken", "vendor": "meta_capi"}{}"#,
        "{'name': 'Broken'}",
        "",
        "   ",
        "null",
        "42",
    ];
    for text in bodies {
        for (method, path) in [
            ("POST", TEMPLATES),
            ("PUT", template.as_str()),
            ("POST", revisions.as_str()),
        ] {
            rejected(app, 400, "INVALID_REQUEST", || {
                app.raw(method, path, Some(&owner), Some(json_bytes(text)))
            });
        }
    }
    let trailing = r#"{"config": {}, "delivery_mode": "server_side"} x"#;
    rejected(app, 400, "INVALID_REQUEST", || {
        app.raw("POST", &revisions, Some(&owner), Some(json_bytes(trailing)))
    });
    let trailing = r#"{"description": "x"} }"#;
    rejected(app, 400, "INVALID_REQUEST", || {
        app.raw("PUT", &template, Some(&owner), Some(json_bytes(trailing)))
    });
}

fn non_object_bodies_are_400(app: &TestApp) {
    let id = seeded(app);
    let owner = app.owner();
    let revisions = format!("{TEMPLATES}/{id}/revisions");
    let template = format!("{TEMPLATES}/{id}");
    let before = snapshot(app);
    // A JSON array is not the object each route takes, not even with its
    // fields in declaration order.
    let requests = [
        ("PUT", template.as_str(), "[]"),
        (
            "PUT",
            template.as_str(),
            r#"["Positional", "set by position"]"#,
        ),
        ("POST", TEMPLATES, "[]"),
        ("POST", TEMPLATES, r#"["Positional create", "meta_capi"]"#),
        ("POST", revisions.as_str(), "[]"),
        (
            "POST",
            revisions.as_str(),
            r#"[{"pixel_id": "1", "access_token": "t"}, "server_side"]"#,
        ),
    ];
    let mut wrong = Vec::new();
    for (method, path, text) in requests {
        let reply = app.raw(method, path, Some(&owner), Some(json_bytes(text)));
        if (reply.status, reply.code()) != (400, "INVALID_REQUEST") {
            wrong.push(format!(
                "{method} {path} {text} -> {} {}",
                reply.status, reply.body
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "expected 400 INVALID_REQUEST:\n{}",
        wrong.join("\n")
    );
    assert_eq!(snapshot(app), before, "an array body changed data");
}

fn wrong_json_types_are_400_naming_the_field(app: &TestApp) {
    let id = seeded(app);
    let owner = app.owner();
    let revisions = format!("{TEMPLATES}/{id}/revisions");
    let template = format!("{TEMPLATES}/{id}");
    let creates = [
        (json!({ "name": 5, "vendor": "meta_capi" }), "name"),
        (json!({ "name": ["GA4"], "vendor": "meta_capi" }), "name"),
        (json!({ "name": "Typed", "vendor": 5 }), "vendor"),
        (
            json!({ "name": "Typed", "vendor": "meta_capi", "description": 5 }),
            "description",
        ),
    ];
    for (body, field) in creates {
        rejected_field(app, 400, "INVALID_REQUEST", field, None, || {
            app.post(TEMPLATES, &owner, &body)
        });
    }
    let updates = [
        (json!({ "name": 5 }), "name"),
        (json!({ "name": { "x": 1 } }), "name"),
        (json!({ "description": false }), "description"),
    ];
    for (body, field) in updates {
        rejected_field(app, 400, "INVALID_REQUEST", field, None, || {
            app.put(&template, &owner, &body)
        });
    }
    let revision_bodies = [
        (
            json!({ "config": [], "delivery_mode": "server_side" }),
            "config",
        ),
        (
            json!({ "config": "x", "delivery_mode": "server_side" }),
            "config",
        ),
        (
            json!({ "config": 7, "delivery_mode": "server_side" }),
            "config",
        ),
        (
            json!({ "config": meta_config(), "delivery_mode": 1 }),
            "delivery_mode",
        ),
        (
            json!({ "config": meta_config(), "delivery_mode": "server_side", "change_summary": 3 }),
            "change_summary",
        ),
    ];
    for (body, field) in revision_bodies {
        rejected_field(app, 400, "INVALID_REQUEST", field, None, || {
            app.post(&revisions, &owner, &body)
        });
    }
}

fn missing_required_fields_are_400_naming_the_field(app: &TestApp) {
    let id = seeded(app);
    let owner = app.owner();
    let revisions = format!("{TEMPLATES}/{id}/revisions");
    let creates = [
        (json!({ "vendor": "meta_capi" }), "name"),
        (json!({ "name": "Missing" }), "vendor"),
        (
            json!({ "name": "Missing", "description": "no vendor" }),
            "vendor",
        ),
    ];
    for (body, field) in creates {
        rejected_field(app, 400, "INVALID_REQUEST", field, None, || {
            app.post(TEMPLATES, &owner, &body)
        });
    }
    let revision_bodies = [
        (json!({ "delivery_mode": "server_side" }), "config"),
        (json!({ "config": meta_config() }), "delivery_mode"),
        (
            json!({ "config": meta_config(), "change_summary": "no mode" }),
            "delivery_mode",
        ),
    ];
    for (body, field) in revision_bodies {
        rejected_field(app, 400, "INVALID_REQUEST", field, None, || {
            app.post(&revisions, &owner, &body)
        });
    }
    // `{}` misses a required field too.
    let reply = rejected(app, 400, "INVALID_REQUEST", || {
        app.post(TEMPLATES, &owner, &json!({}))
    });
    assert!(
        ["name", "vendor"].contains(&reply.first_field()),
        "body: {}",
        reply.body
    );
    let reply = rejected(app, 400, "INVALID_REQUEST", || {
        app.post(&revisions, &owner, &json!({}))
    });
    assert!(
        ["config", "delivery_mode"].contains(&reply.first_field()),
        "body: {}",
        reply.body
    );
}

fn unknown_fields_are_400_naming_the_field(app: &TestApp) {
    let id = seeded(app);
    let owner = app.owner();
    let revisions = format!("{TEMPLATES}/{id}/revisions");
    let template = format!("{TEMPLATES}/{id}");
    let create = json!({ "name": "Mass Assignment", "vendor": "meta_capi" });
    let injected = [
        ("id", json!("tmpl_01ARZ3NDEKTSV4RRFFQ69G5FAV")),
        ("org_id", json!("org_b")),
        ("created_at", json!("2020-01-01T00:00:00Z")),
        ("updated_at", json!("2020-01-01T00:00:00Z")),
        ("latest_revision", json!(7)),
        ("catalog_vendor_key", json!("meta_capi")),
    ];
    for (field, value) in injected {
        let mut body = create.clone();
        body[field] = value;
        rejected_field(
            app,
            400,
            "INVALID_REQUEST",
            field,
            Some("unknown_field"),
            || app.post(TEMPLATES, &owner, &body),
        );
    }
    let revision = json!({ "config": meta_config(), "delivery_mode": "server_side" });
    let injected = [
        ("revision_number", json!(7)),
        ("created_by", json!("user_evil")),
        ("id", json!("rev_01ARZ3NDEKTSV4RRFFQ69G5FAV")),
        ("integration_id", json!("tmpl_01ARZ3NDEKTSV4RRFFQ69G5FAV")),
        ("org_id", json!("org_b")),
        ("created_at", json!("2020-01-01T00:00:00Z")),
    ];
    for (field, value) in injected {
        let mut body = revision.clone();
        body[field] = value;
        rejected_field(
            app,
            400,
            "INVALID_REQUEST",
            field,
            Some("unknown_field"),
            || app.post(&revisions, &owner, &body),
        );
    }
    let injected = [
        ("vendor", json!("ga4")),
        ("id", json!("tmpl_01ARZ3NDEKTSV4RRFFQ69G5FAV")),
        ("org_id", json!("org_b")),
        ("created_at", json!("2020-01-01T00:00:00Z")),
    ];
    for (field, value) in injected {
        let mut body = json!({ "name": "Renamed" });
        body[field] = value;
        rejected_field(
            app,
            400,
            "INVALID_REQUEST",
            field,
            Some("unknown_field"),
            || app.put(&template, &owner, &body),
        );
    }
}

fn non_json_content_types_are_415(app: &TestApp) {
    let id = seeded(app);
    let owner = app.owner();
    let revisions = format!("{TEMPLATES}/{id}/revisions");
    let template = format!("{TEMPLATES}/{id}");
    let requests = [
        (
            "POST",
            TEMPLATES,
            json!({ "name": "Plain", "vendor": "meta_capi" }),
        ),
        ("PUT", template.as_str(), json!({ "name": "Plain" })),
        (
            "POST",
            revisions.as_str(),
            json!({ "config": meta_config(), "delivery_mode": "server_side" }),
        ),
    ];
    for (method, path, body) in &requests {
        let bytes = body.to_string().into_bytes();
        for content_type in ["text/plain", "application/x-www-form-urlencoded", ""] {
            rejected(app, 415, "UNSUPPORTED_MEDIA_TYPE", || {
                app.raw(
                    method,
                    path,
                    Some(&owner),
                    Some((content_type, bytes.clone())),
                )
            });
        }
    }
    // A charset parameter is still JSON.
    let utf8 = Some("application/json; charset=utf-8");
    let created = app.raw(
        "POST",
        TEMPLATES,
        Some(&owner),
        utf8.map(|ct| {
            (
                ct,
                json!({ "name": "Charset", "vendor": "ga4" })
                    .to_string()
                    .into_bytes(),
            )
        }),
    );
    assert_eq!(created.status, 201, "body: {}", created.body);
    let updated = app.raw(
        "PUT",
        &template,
        Some(&owner),
        utf8.map(|ct| {
            (
                ct,
                json!({ "description": "utf-8" }).to_string().into_bytes(),
            )
        }),
    );
    assert_eq!(updated.status, 200, "body: {}", updated.body);
    let body = json!({ "config": meta_config(), "delivery_mode": "server_side" })
        .to_string()
        .into_bytes();
    let revision = app.raw("POST", &revisions, Some(&owner), utf8.map(|ct| (ct, body)));
    assert_eq!(revision.status, 201, "body: {}", revision.body);
}

/// A JSON body of exactly about `size` bytes: a valid revision whose config
/// carries a long unknown string.
fn revision_of_size(size: usize) -> Vec<u8> {
    let mut config = meta_config();
    config["notes"] = json!("");
    let base = json!({ "config": config, "delivery_mode": "server_side" })
        .to_string()
        .len();
    config["notes"] = json!("n".repeat(size - base));
    let body = json!({ "config": config, "delivery_mode": "server_side" })
        .to_string()
        .into_bytes();
    assert_eq!(body.len(), size);
    body
}

/// Sends one request on a connection of its own and reads the answer, even
/// when the server answers (and closes) before the whole body is written:
/// a pooled HTTP client cannot, so oversized bodies go through here.
fn send_alone(app: &TestApp, method: &str, path: &str, token: &str, body: &[u8]) -> Reply {
    send_alone_with(app, method, path, token, "", body)
}

/// [`send_alone`] with extra header lines (each ending in `\r\n`).
fn send_alone_with(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    extra: &str,
    body: &[u8],
) -> Reply {
    let address = app.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).expect("a connection");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("a read timeout");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .expect("the request head is sent");
    // The server may stop reading once it has seen enough: that is allowed.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no answer: {text:?}"));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text:?}"));
    let mut headers = ureq::http::HeaderMap::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let name =
                ureq::http::HeaderName::from_bytes(name.trim().as_bytes()).expect("a header name");
            let value = ureq::http::HeaderValue::from_str(value.trim()).expect("a header value");
            headers.append(name, value);
        }
    }
    Reply::new(status, headers, body.to_owned())
}

fn bodies_over_one_mib_are_413(app: &TestApp) {
    const MIB: usize = 1024 * 1024;
    let id = seeded(app);
    let owner = app.owner();
    let revisions = format!("{TEMPLATES}/{id}/revisions");
    let template = format!("{TEMPLATES}/{id}");
    let mut config = meta_config();
    config["notes"] = json!("x".repeat(1_100_000));
    let huge = json!({ "config": config, "delivery_mode": "server_side" }).to_string();
    rejected(app, 413, "PAYLOAD_TOO_LARGE", || {
        send_alone(app, "POST", &revisions, &owner, huge.as_bytes())
    });
    rejected(app, 413, "PAYLOAD_TOO_LARGE", || {
        send_alone(app, "POST", &revisions, &owner, &revision_of_size(MIB + 1))
    });
    let description = "d".repeat(1_100_000);
    let create = json!({ "name": "Huge", "vendor": "ga4", "description": description }).to_string();
    rejected(app, 413, "PAYLOAD_TOO_LARGE", || {
        send_alone(app, "POST", TEMPLATES, &owner, create.as_bytes())
    });
    let update = json!({ "description": description }).to_string();
    rejected(app, 413, "PAYLOAD_TOO_LARGE", || {
        send_alone(app, "PUT", &template, &owner, update.as_bytes())
    });
    // With an Idempotency-Key the body is read by the idempotency layer: same answer.
    rejected(app, 413, "PAYLOAD_TOO_LARGE", || {
        send_alone_with(
            app,
            "POST",
            TEMPLATES,
            &owner,
            "Idempotency-Key: big-1\r\n",
            create.as_bytes(),
        )
    });
    // Just under the limit is read (and here, valid).
    let under = app.raw(
        "POST",
        &revisions,
        Some(&owner),
        Some(("application/json", revision_of_size(MIB - 64))),
    );
    assert_ne!(
        under.status, 413,
        "a body under 1 MiB was refused: {}",
        under.body
    );
    assert_eq!(under.status, 201, "body: {}", under.body);
    let exactly = app.raw(
        "POST",
        &revisions,
        Some(&owner),
        Some(("application/json", revision_of_size(MIB))),
    );
    assert_eq!(
        exactly.status, 201,
        "a body of exactly 1 MiB is within the limit: {}",
        exactly.body
    );
}

fn unknown_routes_are_404_json(app: &TestApp) {
    let owner = app.owner();
    for path in [
        "/v1/admin/nope",
        "/nope",
        "/v1/admin/integration-templates/x/y/z/w",
        "/v1/admin",
    ] {
        let reply = error(app.get(path, &owner), 404, "NOT_FOUND");
        assert!(
            reply
                .header("content-type")
                .is_some_and(|ct| ct.starts_with("application/json")),
            "{path}: {:?}",
            reply.header("content-type")
        );
    }
    error(app.call("GET", "/nope", None, None), 404, "NOT_FOUND");
    error(
        app.post("/v1/admin/nope", &owner, &json!({})),
        404,
        "NOT_FOUND",
    );
}

/// Panics unless `Allow` lists `allowed` and not `method`.
#[track_caller]
fn assert_allow(reply: &Reply, allowed: &[&str], method: &str) {
    let allow = reply
        .header("allow")
        .unwrap_or_else(|| panic!("405 without Allow: {:?}", reply.headers));
    let methods: Vec<String> = allow
        .split(',')
        .map(|m| m.trim().to_ascii_uppercase())
        .collect();
    for expected in allowed {
        assert!(
            methods.iter().any(|m| m == expected),
            "Allow '{allow}' lacks {expected}"
        );
    }
    assert!(
        !methods.iter().any(|m| m == method),
        "Allow '{allow}' lists the refused {method}"
    );
}

fn unsupported_methods_are_405_with_allow(app: &TestApp) {
    let id = seeded(app);
    let owner = app.owner();
    let template = format!("{TEMPLATES}/{id}");
    let revision = format!("{TEMPLATES}/{id}/revisions/1");
    let body = json!({ "name": "Patched" });
    let reply = rejected(app, 405, "METHOD_NOT_ALLOWED", || {
        app.call("PATCH", &template, Some(&owner), Some(&body))
    });
    assert_allow(&reply, &["GET", "PUT", "DELETE"], "PATCH");
    let change = json!({ "config": meta_config(), "delivery_mode": "client_side" });
    for method in ["PUT", "PATCH", "DELETE"] {
        let body = (method != "DELETE").then_some(&change);
        let reply = rejected(app, 405, "METHOD_NOT_ALLOWED", || {
            app.call(method, &revision, Some(&owner), body)
        });
        assert_allow(&reply, &["GET"], method);
    }
    let reply = rejected(app, 405, "METHOD_NOT_ALLOWED", || {
        app.delete(TEMPLATES, &owner)
    });
    assert_allow(&reply, &["GET", "POST"], "DELETE");
    let reply = rejected(app, 405, "METHOD_NOT_ALLOWED", || {
        app.call("PUT", TEMPLATES, Some(&owner), Some(&body))
    });
    assert_allow(&reply, &["GET", "POST"], "PUT");
    let revisions = format!("{TEMPLATES}/{id}/revisions");
    let reply = rejected(app, 405, "METHOD_NOT_ALLOWED", || {
        app.delete(&revisions, &owner)
    });
    assert_allow(&reply, &["GET", "POST"], "DELETE");
    // The revision is still there, unchanged.
    let kept = app.get(&revision, &owner).expect(200).body;
    assert_eq!(kept["delivery_mode"], "server_side");
}

fn invalid_names_are_422(app: &TestApp) {
    let id = seeded(app);
    let owner = app.owner();
    let template = format!("{TEMPLATES}/{id}");
    let names = [
        String::new(),
        "   ".to_owned(),
        "n".repeat(201),
        "bad\u{7}name".to_owned(),
        "two\nlines".to_owned(),
        "nul\0".to_owned(),
    ];
    for name in &names {
        rejected_field(app, 422, "VALIDATION_FAILED", "name", None, || {
            app.post(
                TEMPLATES,
                &owner,
                &json!({ "name": name, "vendor": "meta_capi" }),
            )
        });
        rejected_field(app, 422, "VALIDATION_FAILED", "name", None, || {
            app.put(&template, &owner, &json!({ "name": name }))
        });
    }
    // The boundary: 200 characters (counted as characters, not bytes) is fine.
    app.post(
        TEMPLATES,
        &owner,
        &json!({ "name": "é".repeat(200), "vendor": "meta_capi" }),
    )
    .expect(201);
}

fn long_texts_are_422(app: &TestApp) {
    let id = seeded(app);
    let owner = app.owner();
    let template = format!("{TEMPLATES}/{id}");
    let revisions = format!("{TEMPLATES}/{id}/revisions");
    let too_long = "d".repeat(2_001);
    rejected_field(app, 422, "VALIDATION_FAILED", "description", None, || {
        app.post(
            TEMPLATES,
            &owner,
            &json!({ "name": "Long", "vendor": "ga4", "description": too_long }),
        )
    });
    rejected_field(app, 422, "VALIDATION_FAILED", "description", None, || {
        app.put(&template, &owner, &json!({ "description": too_long }))
    });
    rejected_field(
        app,
        422,
        "VALIDATION_FAILED",
        "change_summary",
        None,
        || {
            app.post(&revisions, &owner, &json!({ "config": meta_config(), "delivery_mode": "server_side", "change_summary": too_long }))
        },
    );
    // The boundary: 2,000 characters is fine.
    let longest = "ü".repeat(2_000);
    app.put(&template, &owner, &json!({ "description": longest }))
        .expect(200);
    app.post(&revisions, &owner, &json!({ "config": meta_config(), "delivery_mode": "server_side", "change_summary": longest }))
        .expect(201);
}

fn bad_vendor_and_delivery_mode_are_422(app: &TestApp) {
    let id = seeded(app);
    let owner = app.owner();
    let revisions = format!("{TEMPLATES}/{id}/revisions");
    for vendor in ["not_a_vendor", "", "meta-capi"] {
        rejected_field(app, 422, "VALIDATION_FAILED", "vendor", None, || {
            app.post(
                TEMPLATES,
                &owner,
                &json!({ "name": "Vendorless", "vendor": vendor }),
            )
        });
    }
    for mode in ["both", "", "server-side"] {
        rejected_field(app, 422, "VALIDATION_FAILED", "delivery_mode", None, || {
            app.post(
                &revisions,
                &owner,
                &json!({ "config": meta_config(), "delivery_mode": mode }),
            )
        });
    }
    // Both problems of one body are reported at once.
    let reply = rejected(app, 422, "VALIDATION_FAILED", || {
        app.post(TEMPLATES, &owner, &json!({ "name": " ", "vendor": "nope" }))
    });
    let fields: Vec<String> = reply
        .details()
        .into_iter()
        .map(|(field, _)| field)
        .collect();
    assert!(
        fields.contains(&"name".to_owned()) && fields.contains(&"vendor".to_owned()),
        "body: {}",
        reply.body
    );
}

fn empty_update_is_422(app: &TestApp) {
    let id = seeded(app);
    rejected(app, 422, "VALIDATION_FAILED", || {
        app.put(&format!("{TEMPLATES}/{id}"), &app.owner(), &json!({}))
    });
}

fn pagination_out_of_range_is_422(app: &TestApp) {
    let id = seeded(app);
    let owner = app.owner();
    let revisions = format!("{TEMPLATES}/{id}/revisions");
    for list in [TEMPLATES, revisions.as_str()] {
        for (query, field) in [
            ("limit=0", "limit"),
            ("limit=101", "limit"),
            ("limit=-5", "limit"),
            ("offset=-1", "offset"),
            ("limit=10&offset=-1", "offset"),
        ] {
            let reply = error(
                app.get(&format!("{list}?{query}"), &owner),
                422,
                "VALIDATION_FAILED",
            );
            assert_eq!(reply.first_field(), field, "{list}?{query}: {}", reply.body);
        }
        for query in ["limit=abc", "offset=abc", "limit=1.5", "offset=%FF"] {
            error(
                app.get(&format!("{list}?{query}"), &owner),
                400,
                "INVALID_REQUEST",
            );
        }
        for query in ["limit=1", "limit=100", "offset=0", "limit=100&offset=1000"] {
            app.get(&format!("{list}?{query}"), &owner).expect(200);
        }
    }
}

/// A webhook config nesting `depth` levels, the config object itself being
/// level 1; below it objects, or arrays and objects in turn.
fn nested_config(depth: usize, arrays: bool) -> Value {
    let mut inner = json!("leaf");
    for level in 1..depth {
        inner = if arrays && level % 2 == 1 {
            json!([inner])
        } else {
            json!({ "n": inner })
        };
    }
    json!({ "url": "https://example.com/hooks/events", "n": inner })
}

fn configs_nested_deeper_than_64_are_422(app: &TestApp) {
    let id = app.template("Deep Hook", "webhook");
    let owner = app.owner();
    let revisions = format!("{TEMPLATES}/{id}/revisions");
    for arrays in [false, true] {
        let reply = rejected(app, 422, "VALIDATION_FAILED", || {
            app.post(
                &revisions,
                &owner,
                &json!({ "config": nested_config(65, arrays), "delivery_mode": "server_side" }),
            )
        });
        assert!(
            reply.first_field().starts_with("config"),
            "body: {}",
            reply.body
        );
    }
    for arrays in [false, true] {
        let config = nested_config(64, arrays);
        let created = app
            .post(
                &revisions,
                &owner,
                &json!({ "config": config, "delivery_mode": "server_side" }),
            )
            .expect(201);
        assert_eq!(created.body["config"], config);
    }
}

fn config_problems_are_all_reported(app: &TestApp) {
    let id = seeded(app);
    let owner = app.owner();
    let revisions = format!("{TEMPLATES}/{id}/revisions");
    let config = json!({ "pixel_id": "1234567890", "batch_size": "big" });
    let reply = rejected(app, 422, "VALIDATION_FAILED", || {
        app.post(
            &revisions,
            &owner,
            &json!({ "config": config, "delivery_mode": "server_side" }),
        )
    });
    let found = reply.details();
    for expected in [
        ("config.access_token", "required"),
        ("config.batch_size", "invalid_type"),
    ] {
        assert!(
            found
                .iter()
                .any(|(f, p)| (f.as_str(), p.as_str()) == expected),
            "missing detail {expected:?}: {}",
            reply.body
        );
    }
    assert_eq!(found.len(), 2, "exactly the two problems: {}", reply.body);
}

fn malformed_placeholders_are_422(app: &TestApp) {
    let id = seeded(app);
    let owner = app.owner();
    let revisions = format!("{TEMPLATES}/{id}/revisions");
    let mut top = meta_config();
    top["pixel_id"] = json!("{{pipeline_param.}}");
    let mut nested = meta_config();
    nested["notes"] = json!({ "a": ["x {{pipeline_param.}} y"] });
    let mut bad_key = meta_config();
    bad_key["test_event_code"] = json!("{{pipeline_param.bad-key}}");
    for (config, field) in [
        (top, "config.pixel_id"),
        (nested, "config.notes.a[0]"),
        (bad_key, "config.test_event_code"),
    ] {
        let reply = rejected(app, 422, "VALIDATION_FAILED", || {
            app.post(
                &revisions,
                &owner,
                &json!({ "config": config, "delivery_mode": "server_side" }),
            )
        });
        assert!(
            reply
                .details()
                .iter()
                .any(|(f, p)| f == field && p == "malformed_placeholder"),
            "expected {field} malformed_placeholder: {}",
            reply.body
        );
    }
}

fn duplicate_names_are_409(app: &TestApp) {
    let id = seeded(app);
    let other = app.template("GA4 web", "ga4");
    let owner = app.owner();
    for name in [
        "Meta Production",
        "meta production",
        "META PRODUCTION",
        "  Meta Production  ",
    ] {
        let reply = rejected(app, 409, "NAME_TAKEN", || {
            app.post(TEMPLATES, &owner, &json!({ "name": name, "vendor": "ga4" }))
        });
        assert_eq!(reply.first_field(), "name", "body: {}", reply.body);
        let reply = rejected(app, 409, "NAME_TAKEN", || {
            app.put(
                &format!("{TEMPLATES}/{other}"),
                &owner,
                &json!({ "name": name }),
            )
        });
        assert_eq!(reply.first_field(), "name", "body: {}", reply.body);
    }
    // Renaming a template to its own name in another case is not a clash.
    let renamed = app
        .put(
            &format!("{TEMPLATES}/{id}"),
            &owner,
            &json!({ "name": "META Production" }),
        )
        .expect(200);
    assert_eq!(renamed.body["name"], "META Production");
}

fn bad_revision_numbers_are_404(app: &TestApp) {
    let id = seeded(app);
    let owner = app.owner();
    for number in [
        "0",
        "-1",
        "abc",
        "99",
        "01",
        "1.0",
        "+1",
        "2",
        "4294967296",
        "99999999999999999999",
        "%20",
    ] {
        error(
            app.get(&format!("{TEMPLATES}/{id}/revisions/{number}"), &owner),
            404,
            "NOT_FOUND",
        );
    }
    app.get(&format!("{TEMPLATES}/{id}/revisions/1"), &owner)
        .expect(200);
}

crate::api_tests!(
    malformed_json_is_400,
    non_object_bodies_are_400,
    wrong_json_types_are_400_naming_the_field,
    missing_required_fields_are_400_naming_the_field,
    unknown_fields_are_400_naming_the_field,
    non_json_content_types_are_415,
    bodies_over_one_mib_are_413,
    unknown_routes_are_404_json,
    unsupported_methods_are_405_with_allow,
    invalid_names_are_422,
    long_texts_are_422,
    bad_vendor_and_delivery_mode_are_422,
    empty_update_is_422,
    pagination_out_of_range_is_422,
    configs_nested_deeper_than_64_are_422,
    config_problems_are_all_reported,
    malformed_placeholders_are_422,
    duplicate_names_are_409,
    bad_revision_numbers_are_404,
);
