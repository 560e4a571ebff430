//! Request ids, metrics, the rate limit, and slow clients (issue 8).

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use integrations_domain::Role;
use integrations_testing::TestDb;
use serde_json::json;

use crate::support::TestApp;

fn request_ids_are_echoed_or_made_up(app: &TestApp) {
    let given = app.raw_with(
        "GET",
        "/v1/admin/integration-templates",
        &app.owner(),
        &[("X-Request-Id", "trace-42")],
        None,
    );
    assert_eq!(given.header("x-request-id"), Some("trace-42"));
    let made_up = app.list_templates(&app.owner(), "");
    let id = made_up.header("x-request-id").expect("an id").to_owned();
    assert_eq!(id.len(), 26, "a ULID: {id}");
    let unsafe_id = app.raw_with(
        "GET",
        "/healthz",
        "",
        &[("X-Request-Id", "bad id with spaces")],
        None,
    );
    assert_ne!(unsafe_id.header("x-request-id"), Some("bad id with spaces"));
    // Errors carry one too.
    assert!(
        app.get("/v1/admin/nope", &app.owner())
            .header("x-request-id")
            .is_some()
    );
}

fn metrics_count_requests_by_route_and_revisions_created(app: &TestApp) {
    let id = app.template("T", "webhook");
    app.revision(&id, &json!({ "url": "https://a.example" }));
    app.revision(&id, &json!({ "url": "https://b.example" }));
    // A retry with the same Idempotency-Key replays: one revision, counted once.
    for _ in 0..2 {
        app.raw_with(
            "POST",
            &format!("/v1/admin/integration-templates/{id}/revisions"),
            &app.owner(),
            &[("Idempotency-Key", "once")],
            Some((
                "application/json",
                json!({ "config": { "url": "https://c.example" }, "delivery_mode": "server_side" })
                    .to_string()
                    .into_bytes(),
            )),
        )
        .expect(201);
    }
    app.get_template(&app.owner(), &id).expect(200);
    // A restore and an install create a revision each; a refused create none.
    app.restore_revision(&app.owner(), &id, 1, None).expect(201);
    app.create_revision(
        &app.owner(),
        &id,
        &json!({ "config": { "url": 7 }, "delivery_mode": "server_side" }),
    )
    .expect_error(422, "VALIDATION_FAILED");
    // An install retried with its key replays: counted once.
    for _ in 0..2 {
        app.raw_with(
            "POST",
            "/v1/admin/integration-catalog/webhook/install",
            &app.owner(),
            &[("Idempotency-Key", "install-once")],
            Some((
                "application/json",
                json!({ "name": "Installed", "config": { "url": "https://d.example" } })
                    .to_string()
                    .into_bytes(),
            )),
        )
        .expect(201);
    }
    let url = format!("{}/metrics", app.base);
    let body = ureq::get(&url)
        .call()
        .expect("scraped")
        .body_mut()
        .read_to_string()
        .expect("text");
    assert!(
        body.contains(r#"http_requests_total{method="GET",route="/v1/admin/integration-templates/{id}",status="200"} 1"#),
        "{body}"
    );
    assert!(
        body.contains(r#"route="/v1/admin/integration-templates/{id}/revisions",status="201"} 4"#),
        "{body}"
    );
    assert!(
        body.contains("http_request_duration_seconds_bucket"),
        "{body}"
    );
    // 3 created (one of them replayed once), 1 restored, 1 installed (replayed once).
    assert!(body.contains("revisions_created_total 5\n"), "{body}");
    assert!(
        body.contains("db_pool_connections ") && body.contains("db_pool_idle_connections "),
        "{body}"
    );
    assert!(!body.contains(&id), "ids never become label values");
}

crate::api_tests!(
    request_ids_are_echoed_or_made_up,
    metrics_count_requests_by_route_and_revisions_created
);

#[test]
fn the_rate_limit_is_per_user_with_retry_after_and_spares_the_service_role() {
    let app = TestApp::over_with(TestDb::sqlite(), |settings| {
        settings.rate_limit_per_minute = 5;
    });
    let path = "/v1/admin/integration-templates";
    let alice = app.token_for("org_a", "alice", Role::Editor);
    for _ in 0..5 {
        app.get(path, &alice).expect(200);
    }
    let limited = app.get(path, &alice).expect_error(429, "RATE_LIMITED");
    let retry: u64 = limited
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    // Another user is not limited, nor is the event processor's service role
    // by the per-user limit (it has a limit of its own, off here; see
    // tokens_and_limits.rs).
    app.get(path, &app.token_for("org_a", "bob", Role::Editor))
        .expect(200);
    let service = app.token_for("org_a", "processor", Role::Service);
    for _ in 0..20 {
        app.get(path, &service).expect(200);
    }
    // Unauthenticated requests are refused as such, not counted.
    app.call("GET", path, None, None)
        .expect_error(401, "MISSING_TOKEN");
}

#[test]
fn slow_and_idle_clients_do_not_starve_others() {
    let app = TestApp::over(TestDb::sqlite());
    let addr = app.base.trim_start_matches("http://").to_owned();
    // Many idle connections and one client that never finishes its request head.
    let idle: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(&addr).expect("connected"))
        .collect();
    let mut slow = TcpStream::connect(&addr).expect("connected");
    slow.write_all(b"GET /v1/admin/integration-templates HTTP/1.1\r\nHost: x\r\n")
        .expect("sent");
    let started = Instant::now();
    app.list_templates(&app.owner(), "").expect(200);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "served despite the idle crowd"
    );
    // The slow client is cut off after the request-head timeout (5 s).
    slow.set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout set");
    let mut buffer = Vec::new();
    let _ = slow.read_to_end(&mut buffer);
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(12),
        "the slow client was dropped after {waited:?}"
    );
    let answer = String::from_utf8_lossy(&buffer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    drop(idle);
}
