//! The `integrations` binary itself: zero-configuration start, the token and
//! migrate commands, configuration errors, graceful shutdown, and two server
//! processes sharing one PostgreSQL.

use std::time::{Duration, Instant};

use integrations_testing::TestDb;
use serde_json::json;

use crate::process::{KEY, Process, SECRET, command, mint};

const PG: (&str, &str) = (
    "DATABASE_URL",
    "postgres://postgres@127.0.0.1:5432/postgres",
);
const JWT: (&str, &str) = ("JWT_SECRET", SECRET);

#[test]
fn zero_configuration_start_prints_a_working_owner_token_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("a folder");
    let mut server = Process::start(command(dir.path()));
    let token = server.stdout_line("export TOKEN=");
    // Beside it, a link that signs in to the console with the same token.
    let link = server.stdout_line("Sign in to the console: ");
    assert_eq!(link, format!("{}/console#token={token}", server.base));
    assert!(link.starts_with("http://127.0.0.1:"), "{link}");
    let body = server
        .create_template(
            &token,
            &json!({ "name": "Custom GA4 Setup", "vendor": "ga4" }),
        )
        .expect(201)
        .body;
    assert_eq!(body["org_id"], "org_default");
    assert!(dir.path().join("data/integrations.db").exists());
    let secret = dir.path().join("data/jwt_secret");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&secret)
            .expect("the secret file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the generated secret is private");
    }
    // `token` reads the same generated secret, so its tokens are accepted.
    let viewer = mint(dir.path(), &[], "org_default", "cli", "viewer");
    let listed = server.list_templates(&viewer, "");
    assert_eq!(
        (listed.status, listed.body["total"].as_u64()),
        (200, Some(1))
    );
    server
        .create_template(&viewer, &json!({ "name": "x", "vendor": "ga4" }))
        .expect(403);
    assert!(
        server.terminate().success(),
        "SIGTERM stops the server with exit code 0"
    );
}

#[test]
fn migrate_runs_and_exits() {
    let dir = tempfile::tempdir().expect("a folder");
    let output = command(dir.path())
        .arg("migrate")
        .output()
        .expect("migrate runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(dir.path().join("data/integrations.db").exists());
}

#[test]
fn configuration_errors_are_clear() {
    let dir = tempfile::tempdir().expect("a folder");
    let cases: [(&[(&str, &str)], &str); 10] = [
        (
            &[PG],
            "JWT_SECRET is required when DATABASE_URL is a PostgreSQL URL",
        ),
        (
            &[PG, JWT],
            "ENCRYPTION_KEY is required when DATABASE_URL is a PostgreSQL URL",
        ),
        (
            &[("ENCRYPTION_KEY", "not base64!")],
            "ENCRYPTION_KEY must be base64",
        ),
        (
            &[("ENCRYPTION_KEY", "c2hvcnQ=")],
            "ENCRYPTION_KEY must decode to 32 bytes for AES-256 (got 5)",
        ),
        (
            &[("ENCRYPTION_KEYS", "new:c2hvcnQ=")],
            "ENCRYPTION_KEYS entry 1: must decode to 32 bytes for AES-256 (got 5)",
        ),
        (
            &[(
                "ENCRYPTION_KEYS",
                "a:dGVzdC1lbmNyeXB0aW9uLWtleS10ZXN0LWtleS0zMmI=,b c:x",
            )],
            "ENCRYPTION_KEYS entry 2: a key id must be",
        ),
        (
            &[
                (
                    "ENCRYPTION_KEY",
                    "dGVzdC1lbmNyeXB0aW9uLWtleS10ZXN0LWtleS0zMmI=",
                ),
                (
                    "ENCRYPTION_KEYS",
                    "dGVzdC1lbmNyeXB0aW9uLWtleS10ZXN0LWtleS0zMmI=",
                ),
            ],
            "both ENCRYPTION_KEY and ENCRYPTION_KEYS are set",
        ),
        (
            &[("DATABASE_URL", "mysql://localhost/x")],
            "DATABASE_URL is invalid",
        ),
        (
            &[("JWT_SECRET", "too-short")],
            "JWT_SECRET must be at least 32 bytes",
        ),
        (
            &[("LISTEN_ADDR", "not-an-address")],
            "binding LISTEN_ADDR not-an-address",
        ),
    ];
    for (variables, expected) in cases {
        let mut command = command(dir.path());
        command.arg("serve").envs(variables.iter().copied());
        let output = command.output().expect("the binary runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{variables:?} should fail");
        assert!(
            stderr.contains(expected),
            "{variables:?}: stderr was {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn two_processes_on_one_postgres_number_revisions_without_gaps() {
    const CREATES: u64 = 100;
    let Some(db) = TestDb::postgres() else { return };
    let dir = tempfile::tempdir().expect("a folder");
    let servers: Vec<Process> = (0..2)
        .map(|_| {
            let mut command = command(dir.path());
            command
                .env("DATABASE_URL", db.url())
                .env("JWT_SECRET", SECRET)
                .env("ENCRYPTION_KEY", KEY)
                .env("RATE_LIMIT_PER_MINUTE", "0");
            Process::start(command)
        })
        .collect();
    let token = mint(
        dir.path(),
        &[("DATABASE_URL", db.url()), JWT],
        "org_a",
        "u",
        "editor",
    );
    let template = servers[0]
        .create_template(&token, &json!({ "name": "Shared", "vendor": "webhook" }))
        .expect(201)
        .id();
    let mut numbers: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|worker| {
                let (servers, template, token) = (&servers, &template, &token);
                scope.spawn(move || {
                    (0..CREATES / 20)
                        .map(|i| {
                            let server = &servers[(worker + usize::try_from(i).unwrap_or_default()) % 2];
                            let body = json!({ "config": { "url": "https://example.com" }, "delivery_mode": "server_side" });
                            let revision = server.create_revision(token, template, &body).expect(201);
                            revision.body["revision_number"].as_u64().expect("a number")
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("no panic"))
            .collect()
    });
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=CREATES).collect::<Vec<_>>());
}

/// A server on `db`, with the fault hook that pauses after an idempotent
/// change commits when `pause_after_commit` is set.
fn server_on(db: &TestDb, dir: &std::path::Path, pause_after_commit: bool) -> Process {
    let mut command = command(dir);
    command
        .env("DATABASE_URL", db.url())
        .env("DATA_DIR", dir)
        .env("JWT_SECRET", SECRET)
        .env("ENCRYPTION_KEY", KEY)
        .env("RATE_LIMIT_PER_MINUTE", "0");
    if pause_after_commit {
        command.env("INTEGRATIONS_FAULT_PAUSE_AFTER_COMMIT_MS", "120000");
    }
    Process::start(command)
}

fn editor_token(db: &TestDb, dir: &std::path::Path) -> String {
    let data = dir.to_str().expect("a UTF-8 path");
    mint(
        dir,
        &[("DATABASE_URL", db.url()), ("DATA_DIR", data), JWT],
        "org_a",
        "u",
        "editor",
    )
}

/// Kills the server with SIGKILL after a revision committed but before its
/// response was sent; the retry with the same `Idempotency-Key` replays the
/// revision that was made and makes no second one.
fn a_kill_between_commit_and_reply_is_replayed_not_repeated(db: &TestDb) {
    let dir = tempfile::tempdir().expect("a folder");
    let token = editor_token(db, dir.path());
    let first = server_on(db, dir.path(), true);
    // Without a key nothing pauses.
    let template = first
        .create_template(&token, &json!({ "name": "Crash", "vendor": "webhook" }))
        .expect(201)
        .id();
    let revisions = crate::support::paths::revisions(&template);
    let body = Some((
        "application/json",
        json!({ "config": { "url": "https://example.com/hook" }, "delivery_mode": "server_side" })
            .to_string()
            .into_bytes(),
    ));
    let key = [("Idempotency-Key", "crash-once")];
    let answered = std::thread::scope(|scope| {
        let pending =
            scope.spawn(|| first.try_send("POST", &revisions, Some(&token), &key, body.clone()));
        // The revision commits, then the server pauses before answering.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if first.list_revisions(&token, &template, "").body["total"] == 1 {
                break;
            }
            assert!(Instant::now() < deadline, "the revision never committed");
            std::thread::sleep(Duration::from_millis(50));
        }
        first.signal("KILL");
        pending.join().expect("no panic")
    });
    assert!(
        answered.is_err(),
        "the first request must not have been answered: {answered:?}"
    );
    drop(first);
    let second = server_on(db, dir.path(), false);
    let replayed = second
        .send_raw("POST", &revisions, Some(&token), &key, body.clone())
        .expect(201);
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
    let listed = second.list_revisions(&token, &template, "").body;
    assert_eq!(listed["total"], 1, "{listed}");
    assert_eq!(listed["revisions"][0]["id"], replayed.body["id"]);
    assert_eq!(replayed.body["revision_number"], 1);
    // A new key makes a new revision: the replay was not a refusal in disguise.
    let next = second.send_raw(
        "POST",
        &revisions,
        Some(&token),
        &[("Idempotency-Key", "after-crash")],
        body,
    );
    assert_eq!(
        (next.status, &next.body["revision_number"]),
        (201, &json!(2))
    );
}

#[test]
fn a_kill_between_commit_and_reply_is_replayed_not_repeated_on_sqlite() {
    a_kill_between_commit_and_reply_is_replayed_not_repeated(&TestDb::sqlite());
}

#[test]
fn a_kill_between_commit_and_reply_is_replayed_not_repeated_on_postgres() {
    let Some(db) = TestDb::postgres() else { return };
    a_kill_between_commit_and_reply_is_replayed_not_repeated(&db);
}
