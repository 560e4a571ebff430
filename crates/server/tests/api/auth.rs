//! Authentication, roles and tenancy (docs/api.md, "Authentication and roles") over HTTP: attacks on the
//! bearer token, the role × route matrix of the template and revision routes, the cross-org matrix
//! and the check order 401 → 403 → 404 → 400/422.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use integrations_auth::JwtVerifier;
use integrations_domain::{Action, Caller, OrgId, Role, UserId};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::errors::{error, snapshot};
use crate::support::{
    self, Reply, TestApp, meta_config,
    paths::{CATALOG, TEMPLATES},
};

/// Panics unless `reply` is a 401 with `code` and a `WWW-Authenticate: Bearer…` header.
#[track_caller]
fn unauthorized(reply: Reply, code: &str) {
    let reply = error(reply, 401, code);
    let challenge = reply.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer"),
        "WWW-Authenticate is '{challenge}'"
    );
}

/// GET the template list with `token` as the bearer token.
fn list_with(app: &TestApp, token: &str) -> Reply {
    app.call("GET", TEMPLATES, Some(token), None)
}

/// GET the template list with any `Authorization` header value.
fn list_with_authorization(app: &TestApp, value: &str) -> Reply {
    app.send_raw("GET", TEMPLATES, None, &[("Authorization", value)], None)
}

/// Valid claims of `org_a` for `role`, valid for ten minutes.
fn claims(role: &str) -> Value {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    json!({ "sub": "user_123", "org_id": "org_a", "role": role, "iat": now, "exp": now + 600 })
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// `claims` signed with `algorithm` and `secret`.
fn signed(algorithm: Algorithm, claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("signed")
}

fn missing_token_is_401(app: &TestApp) {
    let reply = error(app.call("GET", TEMPLATES, None, None), 401, "MISSING_TOKEN");
    let challenge = reply.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer"),
        "WWW-Authenticate is '{challenge}'"
    );
}

fn every_route_requires_a_token(app: &TestApp) {
    let id = app.template("Guarded", "meta_capi");
    app.revision(&id, &meta_config());
    let before = snapshot(app);
    let body = json!({ "name": "Sneaky", "vendor": "ga4" });
    let revision = json!({ "config": meta_config(), "delivery_mode": "server_side" });
    let routes = [
        ("GET", TEMPLATES.to_owned(), None),
        ("POST", TEMPLATES.to_owned(), Some(&body)),
        ("GET", format!("{TEMPLATES}/{id}"), None),
        ("PUT", format!("{TEMPLATES}/{id}"), Some(&body)),
        ("DELETE", format!("{TEMPLATES}/{id}"), None),
        ("GET", format!("{TEMPLATES}/{id}/revisions"), None),
        (
            "POST",
            format!("{TEMPLATES}/{id}/revisions"),
            Some(&revision),
        ),
        ("GET", format!("{TEMPLATES}/{id}/revisions/1"), None),
        // Authentication comes before finding: unknown ids answer 401 too.
        (
            "GET",
            format!("{TEMPLATES}/tmpl_01ARZ3NDEKTSV4RRFFQ69G5FAV"),
            None,
        ),
        (
            "DELETE",
            format!("{TEMPLATES}/tmpl_01ARZ3NDEKTSV4RRFFQ69G5FAV"),
            None,
        ),
    ];
    for (method, path, body) in routes {
        unauthorized(app.call(method, &path, None, body), "MISSING_TOKEN");
        unauthorized(
            app.call(method, &path, Some("garbage"), body),
            "INVALID_TOKEN",
        );
    }
    assert_eq!(
        snapshot(app),
        before,
        "unauthenticated requests changed data"
    );
}

fn other_schemes_and_garbage_are_401(app: &TestApp) {
    for value in [
        "Basic dXNlcjpwYXNzd29yZA==",
        "Digest username=\"x\"",
        "Bearer",
        "Bearer ",
        "Token abc",
        "bearer-abc",
    ] {
        unauthorized(list_with_authorization(app, value), "INVALID_TOKEN");
    }
    // A real token behind a foreign scheme is still refused.
    unauthorized(
        list_with_authorization(app, &format!("Basic {}", app.owner())),
        "INVALID_TOKEN",
    );
    for garbage in [
        "garbage",
        "a.b.c",
        "a.b",
        "....",
        "eyJhbGciOiJIUzI1NiJ9.e30.",
        "%%%.%%%.%%%",
    ] {
        unauthorized(list_with(app, garbage), "INVALID_TOKEN");
    }
}

fn alg_none_is_401(app: &TestApp) {
    let claims = claims("owner");
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = json!({ "alg": alg, "typ": "JWT" });
        let unsigned = format!("{}.{}.", b64(&header), b64(&claims));
        unauthorized(list_with(app, &unsigned), "INVALID_TOKEN");
        // Without the trailing dot, too.
        let unsigned = format!("{}.{}", b64(&header), b64(&claims));
        unauthorized(list_with(app, &unsigned), "INVALID_TOKEN");
    }
    // The same claims, properly signed, are accepted: the refusal is the algorithm's.
    list_with(app, &signed(Algorithm::HS256, &claims, support::SECRET)).expect(200);
}

fn tampered_payload_is_401(app: &TestApp) {
    let token = app.token("org_a", Role::Viewer);
    list_with(app, &token).expect(200);
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT has three parts");
    let payload = URL_SAFE_NO_PAD.decode(parts[1]).expect("base64url claims");
    let mut claims: Value = serde_json::from_slice(&payload).expect("JSON claims");
    for (claim, value) in [
        ("role", json!("owner")),
        ("org_id", json!("org_b")),
        ("exp", json!(4_102_444_800_i64)),
    ] {
        let original = claims[claim].clone();
        claims[claim] = value;
        let forged = format!("{}.{}.{}", parts[0], b64(&claims), parts[2]);
        unauthorized(list_with(app, &forged), "INVALID_TOKEN");
        let reply = app.call(
            "POST",
            TEMPLATES,
            Some(&forged),
            Some(&json!({ "name": "Escalated", "vendor": "ga4" })),
        );
        unauthorized(reply, "INVALID_TOKEN");
        claims[claim] = original;
    }
    // A changed signature character.
    let mut signature = parts[2].to_owned();
    let first = if signature.starts_with('A') { "B" } else { "A" };
    signature.replace_range(..1, first);
    unauthorized(
        list_with(app, &format!("{}.{}.{signature}", parts[0], parts[1])),
        "INVALID_TOKEN",
    );
    let total = app.list_templates(&app.owner(), "").expect(200).body["total"].clone();
    assert_eq!(total, 0, "no forged request created anything");
}

fn token_signed_with_another_secret_is_401(app: &TestApp) {
    let other = JwtVerifier::new(b"another-secret-another-secret-0123456789", None, None)
        .expect("a strong secret");
    let caller = Caller {
        org: OrgId::parse("org_a").expect("valid org"),
        user: UserId::parse("user_123").expect("valid user"),
        role: Role::Owner,
    };
    let token = other
        .mint(&caller, Duration::from_secs(600), OffsetDateTime::now_utc())
        .expect("signed");
    unauthorized(list_with(app, &token), "INVALID_TOKEN");
    let forged = signed(
        Algorithm::HS256,
        &claims("owner"),
        b"another-secret-another-secret-0123456789",
    );
    unauthorized(list_with(app, &forged), "INVALID_TOKEN");
}

fn expired_token_is_401(app: &TestApp) {
    let minter = JwtVerifier::new(support::SECRET, None, None).expect("a strong secret");
    let caller = Caller {
        org: OrgId::parse("org_a").expect("valid org"),
        user: UserId::parse("user_123").expect("valid user"),
        role: Role::Owner,
    };
    let two_hours_ago = OffsetDateTime::now_utc() - time::Duration::hours(2);
    let token = minter
        .mint(&caller, Duration::from_secs(60), two_hours_ago)
        .expect("signed");
    unauthorized(list_with(app, &token), "EXPIRED_TOKEN");
    // Expired five minutes ago: well beyond any leeway of at most 60 s.
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let mut late = claims("owner");
    late["iat"] = json!(now - 900);
    late["exp"] = json!(now - 300);
    unauthorized(
        list_with(app, &signed(Algorithm::HS256, &late, support::SECRET)),
        "EXPIRED_TOKEN",
    );
}

fn oversized_token_is_401(app: &TestApp) {
    let mut big = claims("owner");
    big["padding"] = json!("p".repeat(9_000));
    let token = signed(Algorithm::HS256, &big, support::SECRET);
    assert!(token.len() > 8 * 1024, "the token is over 8 KiB");
    unauthorized(list_with(app, &token), "INVALID_TOKEN");
    // The same kind of token under the limit is fine: size alone was the reason.
    let mut fits = claims("owner");
    fits["padding"] = json!("p".repeat(4_000));
    let token = signed(Algorithm::HS256, &fits, support::SECRET);
    assert!(token.len() < 8 * 1024, "the token is under 8 KiB");
    list_with(app, &token).expect(200);
}

fn other_algorithms_are_401(app: &TestApp) {
    let claims = claims("owner");
    for algorithm in [Algorithm::HS512, Algorithm::HS384] {
        unauthorized(
            list_with(app, &signed(algorithm, &claims, support::SECRET)),
            "INVALID_TOKEN",
        );
    }
    // A header claiming HS512 over an HS256 signature is no better.
    let honest = signed(Algorithm::HS256, &claims, support::SECRET);
    let signature = honest.rsplit('.').next().expect("a signature");
    let header = json!({ "alg": "HS512", "typ": "JWT" });
    let lying = format!("{}.{}.{signature}", b64(&header), b64(&claims));
    unauthorized(list_with(app, &lying), "INVALID_TOKEN");
}

/// One request of the role matrix; `action: None` means no role may do it (405).
struct Case {
    method: &'static str,
    path: String,
    body: Option<Value>,
    action: Option<Action>,
    success: u16,
}

/// A template with revisions 1 and 2, attached at revision 1 to a pipeline.
struct Objects {
    /// The template's id.
    id: String,
    /// The pipeline's path.
    pipeline: String,
    /// The attachment's path.
    attachment: String,
}

/// Makes [`Objects`] in `org_a`, as owner.
fn objects(app: &TestApp, name: &str) -> Objects {
    let id = app.template(name, "meta_capi");
    let first = app.revision(&id, &meta_config());
    app.revision(&id, &meta_config());
    let owner = app.owner();
    let created = |path: &str, body: &Value| -> String {
        app.post(path, &owner, body).expect(201).body["id"]
            .as_str()
            .expect("an id")
            .to_owned()
    };
    let pipeline = format!(
        "/v1/admin/pipelines/{}",
        created(
            "/v1/admin/pipelines",
            &json!({ "name": name, "parameters": {} })
        )
    );
    let attachment = format!(
        "{pipeline}/integrations/{}",
        created(
            &format!("{pipeline}/integrations"),
            &json!({ "integration_id": id, "revision_id": first["id"] }),
        )
    );
    Objects {
        id,
        pipeline,
        attachment,
    }
}

/// Every route over objects made fresh for `role`: templates and revisions,
/// the catalog, diffs and pins, pipelines, attachments, rendered configs and
/// the audit log.
fn cases(app: &TestApp, role: Role) -> Vec<Case> {
    let Objects {
        id,
        pipeline,
        attachment,
    } = objects(app, &format!("Matrix {role}"));
    let doomed = app.template(&format!("Doomed {role}"), "ga4");
    let template = format!("{TEMPLATES}/{id}");
    let revisions = format!("{TEMPLATES}/{id}/revisions");
    let revision = format!("{revisions}/1");
    let case = |method, path: &str, body: Option<Value>, action, success| Case {
        method,
        path: path.to_owned(),
        body,
        action,
        success,
    };
    let new_revision = json!({ "config": meta_config(), "delivery_mode": "client_side" });
    vec![
        case("GET", TEMPLATES, None, Some(Action::Read), 200),
        case(
            "GET",
            &format!("{TEMPLATES}?limit=5&offset=0"),
            None,
            Some(Action::Read),
            200,
        ),
        case(
            "POST",
            TEMPLATES,
            Some(json!({ "name": format!("Created by {role}"), "vendor": "ga4" })),
            Some(Action::Edit),
            201,
        ),
        case("GET", &template, None, Some(Action::Read), 200),
        case(
            "PUT",
            &template,
            Some(json!({ "description": format!("edited by {role}") })),
            Some(Action::Edit),
            200,
        ),
        case(
            "DELETE",
            &format!("{TEMPLATES}/{doomed}"),
            None,
            Some(Action::Administer),
            200,
        ),
        case("GET", &revisions, None, Some(Action::Read), 200),
        case(
            "POST",
            &revisions,
            Some(new_revision.clone()),
            Some(Action::Edit),
            201,
        ),
        case("GET", &revision, None, Some(Action::Read), 200),
        case("PUT", &revision, Some(new_revision), None, 405),
        case("DELETE", &revision, None, None, 405),
    ]
    .into_iter()
    .chain(extra_cases(role, &template, &pipeline, &attachment))
    .collect()
}

/// The routes beyond templates and revisions: diffs, pins, the catalog,
/// pipelines, attachments, rendered configs and the audit log.
fn extra_cases(role: Role, template: &str, pipeline: &str, attachment: &str) -> Vec<Case> {
    let case = |method, path: &str, body: Option<Value>, action, success| Case {
        method,
        path: path.to_owned(),
        body,
        action,
        success,
    };
    vec![
        case(
            "GET",
            &format!("{template}/revisions/1/diff/2"),
            None,
            Some(Action::Browse),
            200,
        ),
        case(
            "GET",
            &format!("{template}/pipelines"),
            None,
            Some(Action::Browse),
            200,
        ),
        case("GET", CATALOG, None, Some(Action::Browse), 200),
        case(
            "GET",
            &format!("{CATALOG}/ga4"),
            None,
            Some(Action::Browse),
            200,
        ),
        case(
            "POST",
            &format!("{CATALOG}/ga4/install"),
            Some(json!({ "name": format!("Installed by {role}") })),
            Some(Action::Edit),
            201,
        ),
        case("GET", "/v1/admin/pipelines", None, Some(Action::Read), 200),
        case("GET", pipeline, None, Some(Action::Read), 200),
        case(
            "GET",
            &format!("{pipeline}/integrations"),
            None,
            Some(Action::Read),
            200,
        ),
        case("GET", attachment, None, Some(Action::Read), 200),
        case(
            "GET",
            &format!("{attachment}/config"),
            None,
            Some(Action::Read),
            200,
        ),
        case(
            "GET",
            &format!("{pipeline}/config"),
            None,
            Some(Action::Read),
            200,
        ),
        case(
            "GET",
            "/v1/admin/audit-log",
            None,
            Some(Action::Administer),
            200,
        ),
        case("GET", "/v1/admin/keys", None, Some(Action::Administer), 200),
        case("POST", "/v1/admin/keys", Some(json!({})), None, 405),
    ]
}

/// What the event processor's `service` role may do, written out route by
/// route rather than derived from the permission table: it reads what
/// rendering needs (templates, revisions, pipelines, attachments, rendered
/// configs) and nothing else — not the catalog, diffs, pins or the audit log.
fn the_service_role_reads_what_rendering_needs_and_nothing_else(app: &TestApp) {
    let service = app.token("org_a", Role::Service);
    let Objects {
        id,
        pipeline,
        attachment,
    } = objects(app, "For the processor");
    let template = format!("{TEMPLATES}/{id}");
    let reads = [
        TEMPLATES.to_owned(),
        template.clone(),
        format!("{template}/revisions"),
        format!("{template}/revisions/1"),
        "/v1/admin/pipelines".to_owned(),
        pipeline.clone(),
        format!("{pipeline}/integrations"),
        attachment.clone(),
        format!("{attachment}/config"),
        format!("{pipeline}/config"),
    ];
    for path in &reads {
        app.get(path, &service).expect(200);
    }
    let refused: [(&str, String, Option<Value>); 11] = [
        ("GET", CATALOG.to_owned(), None),
        ("GET", format!("{CATALOG}/ga4"), None),
        (
            "POST",
            format!("{CATALOG}/ga4/install"),
            Some(json!({ "name": "By the processor" })),
        ),
        ("GET", format!("{template}/revisions/1/diff/2"), None),
        ("GET", format!("{template}/pipelines"), None),
        ("GET", "/v1/admin/audit-log".to_owned(), None),
        ("GET", "/v1/admin/keys".to_owned(), None),
        (
            "POST",
            TEMPLATES.to_owned(),
            Some(json!({ "name": "By the processor", "vendor": "ga4" })),
        ),
        (
            "PUT",
            pipeline.clone(),
            Some(json!({ "description": "changed by the processor" })),
        ),
        ("DELETE", attachment.clone(), None),
        ("DELETE", template.clone(), None),
    ];
    let before = snapshot(app);
    for (method, path, body) in &refused {
        let reply = app.call(method, path, Some(&service), body.as_ref());
        assert_eq!(
            (reply.status, reply.code()),
            (403, "FORBIDDEN"),
            "service {method} {path}: {}",
            reply.body
        );
    }
    assert_eq!(snapshot(app), before, "a refused request changed data");
    // The same requests pass for a viewer where they are reads.
    let viewer = app.token("org_a", Role::Viewer);
    for (_, path, _) in refused.iter().take(7).filter(|(m, ..)| *m == "GET") {
        let status = app.get(path, &viewer).status;
        let expected = if path.ends_with("audit-log") || path.ends_with("keys") {
            403
        } else {
            200
        };
        assert_eq!(status, expected, "viewer GET {path}");
    }
}

fn role_matrix(app: &TestApp) {
    for role in Role::ALL {
        let token = app.token("org_a", role);
        for case in cases(app, role) {
            let what = format!("{role} {} {}", case.method, case.path);
            match case.action {
                None => {
                    let before = snapshot(app);
                    let reply = app.call(case.method, &case.path, Some(&token), case.body.as_ref());
                    assert_eq!(
                        (reply.status, reply.code()),
                        (405, "METHOD_NOT_ALLOWED"),
                        "{what}: {}",
                        reply.body
                    );
                    assert_eq!(snapshot(app), before, "{what} changed data");
                }
                Some(action) if role.can(action) => {
                    let reply = app.call(case.method, &case.path, Some(&token), case.body.as_ref());
                    assert!(
                        ![401, 403].contains(&reply.status),
                        "{what}: {} {}",
                        reply.status,
                        reply.body
                    );
                    assert_eq!(reply.status, case.success, "{what}: {}", reply.body);
                }
                Some(_) => {
                    let before = snapshot(app);
                    let reply = app.call(case.method, &case.path, Some(&token), case.body.as_ref());
                    assert_eq!(
                        (reply.status, reply.code()),
                        (403, "FORBIDDEN"),
                        "{what}: {}",
                        reply.body
                    );
                    crate::errors::assert_error_shape(&reply);
                    assert_eq!(snapshot(app), before, "a forbidden {what} changed data");
                }
            }
        }
    }
}

fn forbidden_create_creates_nothing(app: &TestApp) {
    let owner = app.owner();
    app.template("Existing", "ga4");
    let total = app.list_templates(&owner, "").expect(200).body["total"].clone();
    for role in [Role::Viewer, Role::Service] {
        let token = app.token("org_a", role);
        let body = json!({ "name": format!("By {role}"), "vendor": "ga4" });
        error(app.create_template(&token, &body), 403, "FORBIDDEN");
        let after = app.list_templates(&owner, "").expect(200).body;
        assert_eq!(
            after["total"], total,
            "a forbidden create changed the list: {after}"
        );
        let names: Vec<&str> = after["integrations"]
            .as_array()
            .expect("integrations")
            .iter()
            .filter_map(|t| t["name"].as_str())
            .collect();
        assert_eq!(names, ["Existing"]);
    }
    // A forbidden delete keeps the template readable.
    let id = app.template("Kept", "ga4");
    for role in [Role::Editor, Role::Viewer, Role::Service] {
        error(
            app.delete_template(&app.token("org_a", role), &id),
            403,
            "FORBIDDEN",
        );
        app.get_template(&owner, &id).expect(200);
    }
}

fn other_orgs_see_nothing(app: &TestApp) {
    let owner_a = app.owner();
    let id = app.template("Meta Production", "meta_capi");
    app.revision(&id, &meta_config());
    let before = app.get_template(&owner_a, &id).expect(200).body;
    let state = snapshot(app);
    let owner_b = app.token("org_b", Role::Owner);
    let template = format!("{TEMPLATES}/{id}");
    let revisions = format!("{TEMPLATES}/{id}/revisions");
    let new_revision = json!({ "config": meta_config(), "delivery_mode": "server_side" });
    let rename = json!({ "name": "Stolen", "description": "mine now" });
    let requests: [(&str, &str, Option<&Value>); 7] = [
        ("GET", &template, None),
        ("PUT", &template, Some(&rename)),
        ("DELETE", &template, None),
        ("GET", &revisions, None),
        ("POST", &revisions, Some(&new_revision)),
        ("GET", &format!("{revisions}/1"), None),
        ("GET", &format!("{revisions}?limit=10"), None),
    ];
    for (method, path, body) in requests {
        let reply = app.call(method, path, Some(&owner_b), body);
        assert_eq!(
            (reply.status, reply.code()),
            (404, "NOT_FOUND"),
            "org_b {method} {path}: {}",
            reply.body
        );
        crate::errors::assert_error_shape(&reply);
    }
    // An invalid body changes nothing: the template is not found first.
    let reply = app.put(&template, &owner_b, &json!({ "vendor": "ga4" }));
    error(reply, 404, "NOT_FOUND");
    let list = app.list_templates(&owner_b, "").expect(200).body;
    assert_eq!(list["total"], 0, "org_b sees org_a's templates: {list}");
    assert_eq!(list["integrations"], json!([]));
    // org_a's template is untouched.
    let after = app.get_template(&owner_a, &id).expect(200).body;
    assert_eq!(after, before);
    assert_eq!(after["name"], "Meta Production");
    assert_eq!(after["latest_revision"], 1);
    assert_eq!(snapshot(app), state);
    // Names are unique per org only.
    let mine = app
        .create_template(
            &owner_b,
            &json!({ "name": "Meta Production", "vendor": "meta_capi" }),
        )
        .expect(201);
    assert_eq!(mine.body["org_id"], "org_b");
    assert_eq!(snapshot(app), state, "org_b's template shows up in org_a");
}

fn malformed_ids_are_404(app: &TestApp) {
    let owner = app.owner();
    let id = app.template("Real", "meta_capi");
    let revision = app.revision(&id, &meta_config());
    let revision_id = revision["id"].as_str().expect("a revision id").to_owned();
    let state = snapshot(app);
    let bad = [
        "tmpl_abc123".to_owned(),
        revision_id,
        "tmpl_".to_owned(),
        "tmpl_01ARZ3NDEKTSV4RRFFQ69G5FAV".to_owned(),
        format!("{id}x"),
        id.trim_start_matches("tmpl_").to_owned(),
        "%20".to_owned(),
        "null".to_owned(),
        "0".to_owned(),
        "'%20OR%201=1--".to_owned(),
    ];
    let new_revision = json!({ "config": meta_config(), "delivery_mode": "server_side" });
    let rename = json!({ "name": "Renamed" });
    for bad in bad {
        let template = format!("{TEMPLATES}/{bad}");
        let revisions = format!("{template}/revisions");
        let requests: [(&str, &str, Option<&Value>); 6] = [
            ("GET", &template, None),
            ("PUT", &template, Some(&rename)),
            ("DELETE", &template, None),
            ("GET", &revisions, None),
            ("POST", &revisions, Some(&new_revision)),
            ("GET", &format!("{revisions}/1"), None),
        ];
        for (method, path, body) in requests {
            let reply = app.call(method, path, Some(&owner), body);
            assert_eq!(
                (reply.status, reply.code()),
                (404, "NOT_FOUND"),
                "{method} {path}: {}",
                reply.body
            );
            crate::errors::assert_error_shape(&reply);
        }
    }
    assert_eq!(snapshot(app), state);
}

fn check_order(app: &TestApp) {
    let missing = format!("{TEMPLATES}/tmpl_01ARZ3NDEKTSV4RRFFQ69G5FAV");
    let id = app.template("Ordered", "meta_capi");
    let existing = format!("{TEMPLATES}/{id}");
    let broken = || Some(("application/json", b"{ not json".to_vec()));
    let state = snapshot(app);
    let viewer = app.token("org_a", Role::Viewer);
    let editor = app.token("org_a", Role::Editor);
    // 401 before everything.
    unauthorized(app.raw("PUT", &missing, None, broken()), "MISSING_TOKEN");
    // 403 (role) before 404 (find) and 400 (validate).
    error(
        app.raw("PUT", &missing, Some(&viewer), broken()),
        403,
        "FORBIDDEN",
    );
    error(
        app.raw("PUT", &existing, Some(&viewer), broken()),
        403,
        "FORBIDDEN",
    );
    error(
        app.raw(
            "POST",
            &format!("{missing}/revisions"),
            Some(&viewer),
            broken(),
        ),
        403,
        "FORBIDDEN",
    );
    error(
        app.raw("POST", TEMPLATES, Some(&viewer), broken()),
        403,
        "FORBIDDEN",
    );
    error(
        app.raw("DELETE", &missing, Some(&editor), None),
        403,
        "FORBIDDEN",
    );
    let text = Some(("text/plain", b"hello".to_vec()));
    error(
        app.raw("POST", TEMPLATES, Some(&viewer), text),
        403,
        "FORBIDDEN",
    );
    // 404 (find) before 400 (validate).
    error(
        app.raw("PUT", &missing, Some(&editor), broken()),
        404,
        "NOT_FOUND",
    );
    error(
        app.raw(
            "POST",
            &format!("{missing}/revisions"),
            Some(&editor),
            broken(),
        ),
        404,
        "NOT_FOUND",
    );
    error(
        app.put(&missing, &editor, &json!({ "vendor": "ga4" })),
        404,
        "NOT_FOUND",
    );
    error(app.put(&missing, &editor, &json!({})), 404, "NOT_FOUND");
    // And on an existing template, validation speaks.
    error(
        app.raw("PUT", &existing, Some(&editor), broken()),
        400,
        "INVALID_REQUEST",
    );
    error(
        app.raw(
            "POST",
            &format!("{existing}/revisions"),
            Some(&editor),
            broken(),
        ),
        400,
        "INVALID_REQUEST",
    );
    error(
        app.put(&existing, &editor, &json!({ "name": "" })),
        422,
        "VALIDATION_FAILED",
    );
    assert_eq!(snapshot(app), state);
}

crate::api_tests!(
    missing_token_is_401,
    every_route_requires_a_token,
    other_schemes_and_garbage_are_401,
    alg_none_is_401,
    tampered_payload_is_401,
    token_signed_with_another_secret_is_401,
    expired_token_is_401,
    oversized_token_is_401,
    other_algorithms_are_401,
    role_matrix,
    the_service_role_reads_what_rendering_needs_and_nothing_else,
    forbidden_create_creates_nothing,
    other_orgs_see_nothing,
    malformed_ids_are_404,
    check_order,
);
