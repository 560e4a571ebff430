//! Token lifetime and audience, the rate limits (failed authentications per
//! client address, the `service` role's own limit) and the cap on open
//! connections, over HTTP against the real server.

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use integrations_domain::Role;
use integrations_server::config::Settings;
use integrations_testing::{Backend, TestDb};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::support::{self, Reply, TestApp, paths::TEMPLATES};

/// Runs `test` against a server on each backend, with adjusted settings.
fn on_each_backend(adjust: impl Fn(&mut Settings), test: impl Fn(&TestApp)) {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        if let Some(db) = TestDb::on(backend) {
            let app = TestApp::over_with(db, &adjust);
            test(&app);
        }
    }
}

/// A token of `org_a` with `claims` merged over valid ones, signed with the test secret.
fn token_with(claims: &Value) -> String {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let mut all = json!({ "sub": "user_123", "org_id": "org_a", "role": "viewer", "iat": now, "exp": now + 600 });
    if let (Some(all), Some(claims)) = (all.as_object_mut(), claims.as_object()) {
        for (key, value) in claims {
            all.insert(key.clone(), value.clone());
        }
    }
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &all,
        &EncodingKey::from_secret(support::SECRET),
    )
    .expect("signed")
}

fn list(app: &TestApp, token: &str) -> Reply {
    app.list_templates(token, "")
}

#[track_caller]
fn retry_after(reply: &Reply) -> u64 {
    reply
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After seconds")
}

#[test]
fn a_token_living_longer_than_max_token_ttl_is_401() {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    on_each_backend(
        |_| {},
        |app| {
            // The default: one day.
            list(
                app,
                &token_with(&json!({ "iat": now, "exp": now + 86_400 })),
            )
            .expect(200);
            let reply = list(
                app,
                &token_with(&json!({ "iat": now, "exp": now + 86_401 })),
            )
            .expect_error(401, "INVALID_TOKEN");
            assert!(
                reply.body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("lives longer than 86400 s")),
                "{}",
                reply.body
            );
        },
    );
    on_each_backend(
        |settings| settings.max_token_ttl = 300,
        |app| {
            list(app, &token_with(&json!({ "iat": now, "exp": now + 300 }))).expect(200);
            list(app, &token_with(&json!({ "iat": now, "exp": now + 301 })))
                .expect_error(401, "INVALID_TOKEN");
            // Without `iat` the lifetime cannot be bounded: refused.
            let mut claims =
                json!({ "sub": "user_123", "org_id": "org_a", "role": "viewer", "exp": now + 60 });
            let no_iat = jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &claims,
                &EncodingKey::from_secret(support::SECRET),
            )
            .expect("signed");
            list(app, &no_iat).expect_error(401, "INVALID_TOKEN");
            claims["iat"] = json!(now);
            let with_iat = jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &claims,
                &EncodingKey::from_secret(support::SECRET),
            )
            .expect("signed");
            list(app, &with_iat).expect(200);
        },
    );
}

#[test]
fn the_audience_may_be_a_string_or_an_array() {
    on_each_backend(
        |settings| settings.jwt_audience = Some("integrations".into()),
        |app| {
            for aud in [json!("integrations"), json!(["billing", "integrations"])] {
                list(app, &token_with(&json!({ "aud": aud }))).expect(200);
            }
            for aud in [json!("billing"), json!(["billing", "crm"]), json!([])] {
                list(app, &token_with(&json!({ "aud": aud }))).expect_error(401, "INVALID_TOKEN");
            }
            list(app, &token_with(&json!({}))).expect_error(401, "INVALID_TOKEN");
        },
    );
}

#[test]
fn failed_authentications_are_limited_per_address_and_valid_tokens_still_pass() {
    on_each_backend(
        |settings| settings.auth_failures_per_minute = 3,
        |app| {
            let owner = app.owner();
            let forged = format!("{}x", app.owner());
            // Three failures are answered as such…
            app.call("GET", TEMPLATES, None, None)
                .expect_error(401, "MISSING_TOKEN");
            list(app, "garbage").expect_error(401, "INVALID_TOKEN");
            list(app, &forged).expect_error(401, "INVALID_TOKEN");
            // …a valid token from the same address is not affected, and is not counted…
            list(app, &owner).expect(200);
            // …and a request answered otherwise (no such route) is not a failed authentication.
            app.call("GET", "/v1/admin/no-such-route", None, None)
                .expect_error(404, "NOT_FOUND");
            // The fourth failure, and every one after it, is refused with 429.
            for token in [Some(forged.as_str()), None, Some("garbage")] {
                let reply = app
                    .call("GET", TEMPLATES, token, None)
                    .expect_error(429, "RATE_LIMITED");
                crate::errors::assert_error_shape(&reply);
                assert!((1..=60).contains(&retry_after(&reply)));
            }
            // Writes that fail authentication create nothing either.
            let body = json!({ "name": "Sneaky", "vendor": "ga4" });
            app.create_template(&forged, &body)
                .expect_error(429, "RATE_LIMITED");
            // Valid tokens still pass, for every role.
            let created = app.create_template(&owner, &body).expect(201);
            assert_eq!(created.body["name"], "Sneaky");
            list(app, &app.token("org_a", Role::Viewer)).expect(200);
            assert_eq!(list(app, &owner).body["total"], 1);
        },
    );
}

#[test]
fn failed_authentications_are_not_limited_when_turned_off() {
    let app = TestApp::over_with(TestDb::sqlite(), |settings| {
        settings.auth_failures_per_minute = 0;
    });
    for _ in 0..40 {
        list(&app, "garbage").expect_error(401, "INVALID_TOKEN");
    }
}

#[test]
fn the_service_role_has_its_own_limit() {
    let app = TestApp::over_with(TestDb::sqlite(), |settings| {
        settings.rate_limit_per_minute = 2;
        settings.service_rate_limit_per_minute = 5;
    });
    let service = app.token_for("org_a", "processor", Role::Service);
    // Beyond the per-user limit of 2: the service role is counted apart…
    for _ in 0..5 {
        list(&app, &service).expect(200);
    }
    // …against its own limit, not exempt.
    let limited = list(&app, &service).expect_error(429, "RATE_LIMITED");
    assert!((1..=60).contains(&retry_after(&limited)));
    // Another processor has a budget of its own, and people keep theirs.
    list(&app, &app.token_for("org_a", "processor_2", Role::Service)).expect(200);
    let alice = app.token_for("org_a", "alice", Role::Editor);
    list(&app, &alice).expect(200);
    list(&app, &alice).expect(200);
    list(&app, &alice).expect_error(429, "RATE_LIMITED");
}

/// Sends `GET /healthz` on `stream` (keep-alive) and reads the answer's first bytes.
fn healthz(stream: &mut TcpStream) -> std::io::Result<String> {
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")?;
    let mut buffer = [0_u8; 512];
    let read = stream.read(&mut buffer)?;
    Ok(String::from_utf8_lossy(&buffer[..read]).into_owned())
}

#[test]
fn open_connections_are_capped_at_max_connections() {
    const CAP: usize = 4;
    let app = TestApp::over_with(TestDb::sqlite(), |settings| {
        settings.max_connections = 4;
    });
    let addr = app.base.trim_start_matches("http://").to_owned();
    // As many connections as the cap are served and held open (keep-alive).
    let mut held: Vec<TcpStream> = (0..CAP)
        .map(|_| {
            let mut stream = TcpStream::connect(&addr).expect("connected");
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .expect("timeout set");
            let answer = healthz(&mut stream).expect("served");
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
            stream
        })
        .collect();
    // One more is not served while they are open: the server stops accepting.
    let mut extra = TcpStream::connect(&addr).expect("the kernel queues it");
    extra
        .set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout set");
    match healthz(&mut extra) {
        Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("a connection over the cap was served: {other:?}"),
    }
    // Once connections close, it is served. (A full actix worker accepts
    // again after two of its connections close: with two workers holding two
    // each, closing three frees one of them whatever the distribution.)
    held.truncate(1);
    extra
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout set");
    let mut buffer = [0_u8; 512];
    let read = extra.read(&mut buffer).expect("served once slots freed");
    let answer = String::from_utf8_lossy(&buffer[..read]);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // The one still held open is still served.
    let answer = healthz(&mut held[0]).expect("still served");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
