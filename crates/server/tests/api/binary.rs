//! The `integrations` binary itself: zero-configuration start, the token and
//! migrate commands, configuration errors, graceful shutdown, and two server
//! processes sharing one PostgreSQL.

use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use integrations_testing::TestDb;
use serde_json::{Value, json};

pub(crate) const BINARY: &str = env!("CARGO_BIN_EXE_integrations");
pub(crate) const SECRET: &str = "process-test-secret-0123456789-ABCDEFGHIJ";

/// The variables the binary reads, removed so each test sets exactly what it means.
const VARIABLES: [&str; 10] = [
    "RATE_LIMIT_PER_MINUTE",
    "DATABASE_URL",
    "DATA_DIR",
    "LISTEN_ADDR",
    "JWT_SECRET",
    "ENCRYPTION_KEY",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "ACCESS_TOKEN_TTL",
    "LOG_FORMAT",
];
pub(crate) const KEY: &str = crate::support::ENCRYPTION_KEY;
const PG: (&str, &str) = (
    "DATABASE_URL",
    "postgres://postgres@127.0.0.1:5432/postgres",
);
const JWT: (&str, &str) = ("JWT_SECRET", SECRET);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

pub(crate) fn command(dir: &std::path::Path) -> Command {
    let mut command = Command::new(BINARY);
    command.current_dir(dir);
    for variable in VARIABLES {
        command.env_remove(variable);
    }
    command
}

/// A server process, killed when dropped.
pub(crate) struct Process {
    pub(crate) child: Child,
    pub(crate) base: String,
    stdout: std::sync::Mutex<mpsc::Receiver<String>>,
}

impl Process {
    pub(crate) fn start(mut command: Command) -> Self {
        let port = free_port();
        command
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = command.spawn().expect("the binary starts");
        let (sender, stdout) = mpsc::channel();
        let out = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        let process = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            stdout: std::sync::Mutex::new(stdout),
        };
        process.wait_until_healthy();
        process
    }

    fn wait_until_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if ureq::get(format!("{}/healthz", self.base)).call().is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the server did not become healthy");
    }

    /// The first stdout line starting with `prefix` (without the prefix).
    fn stdout_line(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        let stdout = self.stdout.lock().expect("not poisoned");
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match stdout.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line[prefix.len()..].to_owned(),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("no stdout line starting with {prefix:?}");
    }

    pub(crate) fn request(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let (status, _, body) = self
            .send(method, path, token, &[], body)
            .expect("an answer");
        (status, body)
    }

    /// Sends a request with extra headers; `Err` when no answer came.
    fn send(
        &self,
        method: &str,
        path: &str,
        token: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<(u16, ureq::http::HeaderMap, Value), ureq::Error> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(body.map(Value::to_string).unwrap_or_default())
            .expect("a request");
        let mut response = agent.run(request)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        Ok((
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        ))
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(killed.success());
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if let Some(status) = self.child.try_wait().expect("waitable") {
                return status;
            }
            assert!(Instant::now() < deadline, "the server ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn zero_configuration_start_prints_a_working_owner_token_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("a folder");
    let server = Process::start(command(dir.path()));
    let token = server.stdout_line("export TOKEN=");
    let (status, body) = server.request(
        "POST",
        "/v1/admin/integration-templates",
        &token,
        Some(&json!({ "name": "Custom GA4 Setup", "vendor": "ga4" })),
    );
    assert_eq!(status, 201, "{body}");
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
    let minted = command(dir.path())
        .args([
            "token",
            "--org",
            "org_default",
            "--sub",
            "cli",
            "--role",
            "viewer",
        ])
        .output()
        .expect("token runs");
    assert!(minted.status.success());
    let viewer = String::from_utf8(minted.stdout)
        .expect("text")
        .trim()
        .to_owned();
    let (status, body) = server.request("GET", "/v1/admin/integration-templates", &viewer, None);
    assert_eq!((status, body["total"].as_u64()), (200, Some(1)));
    let (status, _) = server.request(
        "POST",
        "/v1/admin/integration-templates",
        &viewer,
        Some(&json!({ "name": "x", "vendor": "ga4" })),
    );
    assert_eq!(status, 403);
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
    let cases: [(&[(&str, &str)], &str); 7] = [
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
    let minted = command(dir.path())
        .env("DATABASE_URL", db.url())
        .env("JWT_SECRET", SECRET)
        .args(["token", "--org", "org_a", "--sub", "u", "--role", "editor"])
        .output()
        .expect("token runs");
    let token = String::from_utf8(minted.stdout)
        .expect("text")
        .trim()
        .to_owned();
    let (status, template) = servers[0].request(
        "POST",
        "/v1/admin/integration-templates",
        &token,
        Some(&json!({ "name": "Shared", "vendor": "webhook" })),
    );
    assert_eq!(status, 201, "{template}");
    let path = format!(
        "/v1/admin/integration-templates/{}/revisions",
        template["id"].as_str().expect("an id")
    );
    let mut numbers: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|worker| {
                let (servers, path, token) = (&servers, &path, &token);
                scope.spawn(move || {
                    (0..CREATES / 20)
                        .map(|i| {
                            let server = &servers[(worker + usize::try_from(i).unwrap_or_default()) % 2];
                            let body = json!({ "config": { "url": "https://example.com" }, "delivery_mode": "server_side" });
                            let (status, revision) = server.request("POST", path, token, Some(&body));
                            assert_eq!(status, 201, "{revision}");
                            revision["revision_number"].as_u64().expect("a number")
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
    } else {
        command.env_remove("INTEGRATIONS_FAULT_PAUSE_AFTER_COMMIT_MS");
    }
    Process::start(command)
}

fn editor_token(db: &TestDb, dir: &std::path::Path) -> String {
    let minted = command(dir)
        .env("DATABASE_URL", db.url())
        .env("DATA_DIR", dir)
        .env("JWT_SECRET", SECRET)
        .args(["token", "--org", "org_a", "--sub", "u", "--role", "editor"])
        .output()
        .expect("token runs");
    String::from_utf8(minted.stdout)
        .expect("text")
        .trim()
        .to_owned()
}

/// Kills the server with SIGKILL after a revision committed but before its
/// response was sent; the retry with the same `Idempotency-Key` replays the
/// revision that was made and makes no second one.
fn a_kill_between_commit_and_reply_is_replayed_not_repeated(db: &TestDb) {
    let dir = tempfile::tempdir().expect("a folder");
    let token = editor_token(db, dir.path());
    let first = server_on(db, dir.path(), true);
    // Without a key nothing pauses.
    let (status, template) = first.request(
        "POST",
        "/v1/admin/integration-templates",
        &token,
        Some(&json!({ "name": "Crash", "vendor": "webhook" })),
    );
    assert_eq!(status, 201, "{template}");
    let revisions = format!(
        "/v1/admin/integration-templates/{}/revisions",
        template["id"].as_str().expect("an id")
    );
    let body =
        json!({ "config": { "url": "https://example.com/hook" }, "delivery_mode": "server_side" });
    let key = [("Idempotency-Key", "crash-once")];
    let answered = std::thread::scope(|scope| {
        let pending = scope.spawn(|| first.send("POST", &revisions, &token, &key, Some(&body)));
        // The revision commits, then the server pauses before answering.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (_, listed) = first.request("GET", &revisions, &token, None);
            if listed["total"] == 1 {
                break;
            }
            assert!(Instant::now() < deadline, "the revision never committed");
            std::thread::sleep(Duration::from_millis(50));
        }
        let pid = first.child.id().to_string();
        let killed = Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .expect("kill runs");
        assert!(killed.success());
        pending.join().expect("no panic")
    });
    assert!(
        answered.is_err(),
        "the first request must not have been answered: {answered:?}"
    );
    drop(first);
    let second = server_on(db, dir.path(), false);
    let (status, headers, replayed) = second
        .send("POST", &revisions, &token, &key, Some(&body))
        .expect("an answer");
    assert_eq!(status, 201, "{replayed}");
    assert_eq!(
        headers
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let (_, listed) = second.request("GET", &revisions, &token, None);
    assert_eq!(listed["total"], 1, "{listed}");
    assert_eq!(listed["revisions"][0]["id"], replayed["id"]);
    assert_eq!(replayed["revision_number"], 1);
    // A new key makes a new revision: the replay was not a refusal in disguise.
    let (status, next, _) = {
        let (status, headers, body) = second
            .send(
                "POST",
                &revisions,
                &token,
                &[("Idempotency-Key", "after-crash")],
                Some(&body),
            )
            .expect("an answer");
        (status, body, headers)
    };
    assert_eq!((status, &next["revision_number"]), (201, &json!(2)));
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
