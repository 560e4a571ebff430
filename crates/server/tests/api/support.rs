//! `spawn_app`: the real server on a random port over a fresh database, and
//! one small helper per HTTP verb.

use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use integrations_auth::JwtVerifier;
use integrations_domain::{Caller, OrgId, Role, UserId};
use integrations_server::config::Settings;
use integrations_testing::{Backend, TestDb};
use serde_json::{Value, json};
use time::OffsetDateTime;

/// A JWT secret strong enough to be accepted (≥ 32 bytes, ≥ 16 distinct).
pub const SECRET: &[u8] = b"test-secret-0123456789-ABCDEFGHIJKLMNOP";
/// 32 bytes, base64.
pub const ENCRYPTION_KEY: &str = "dGVzdC1lbmNyeXB0aW9uLWtleS10ZXN0LWtleS0zMmI=";

/// A server of our own: its database, its address, its token minter.
pub struct TestApp {
    pub db: TestDb,
    pub base: String,
    minter: JwtVerifier,
    agent: ureq::Agent,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
    data_dir: tempfile::TempDir,
}

/// A response: status, headers, JSON body (`Value::Null` when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `error.code` of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or("<no error code>")
    }

    /// Panics unless the status is `status`, showing the body.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        self
    }

    /// Panics unless the status and error code match.
    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Self {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "body: {}",
            self.body
        );
        self
    }
}

pub fn settings(db: &TestDb, data_dir: &std::path::Path) -> Settings {
    Settings {
        database_url: Some(db.url().to_owned()),
        data_dir: data_dir.to_owned(),
        listen_addr: "127.0.0.1:0".into(),
        jwt_issuer: None,
        jwt_audience: None,
        access_token_ttl: 900,
        max_token_ttl: 86_400,
        log_format: None,
        // Limits stay out of the way unless a test is about them.
        rate_limit_per_minute: 0,
        service_rate_limit_per_minute: 0,
        auth_failures_per_minute: 0,
        max_connections: 25_000,
        jwt_secret: Some(SECRET.to_vec()),
        encryption_key: Some(ENCRYPTION_KEY.to_owned()),
    }
}

impl TestApp {
    /// Spawns the app over a fresh database on `backend` (`None`: PostgreSQL skipped).
    pub fn spawn(backend: Backend) -> Option<Self> {
        TestDb::on(backend).map(Self::over)
    }

    /// Spawns the app over `db`.
    pub fn over(db: TestDb) -> Self {
        Self::over_with(db, |_| {})
    }

    /// Spawns the app over `db` with adjusted settings.
    pub fn over_with(db: TestDb, adjust: impl FnOnce(&mut Settings)) -> Self {
        let data_dir = tempfile::tempdir().expect("a data dir");
        let mut settings = settings(&db, data_dir.path());
        adjust(&mut settings);
        let (base, handle, thread) = serve(settings);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Self {
            db,
            base,
            minter: JwtVerifier::new(SECRET, None, None).expect("a strong secret"),
            agent,
            handle,
            thread: Some(thread),
            data_dir,
        }
    }

    /// The settings this app's server would start with, adjusted.
    pub fn settings_with(&self, adjust: impl FnOnce(&mut Settings)) -> Settings {
        let mut settings = settings(&self.db, self.data_dir.path());
        adjust(&mut settings);
        settings
    }

    /// Stops the server and starts a new one over the same database with
    /// adjusted settings (say, another keyring), at a new address.
    pub fn restart_with(&mut self, adjust: impl FnOnce(&mut Settings)) {
        self.stop();
        let (base, handle, thread) = serve(self.settings_with(adjust));
        (self.base, self.handle, self.thread) = (base, handle, Some(thread));
    }

    fn stop(&mut self) {
        // Sends the stop command now; the server thread then finishes.
        drop(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    pub fn token(&self, org: &str, role: Role) -> String {
        self.token_for(org, "user_123", role)
    }

    /// A valid token for `user` of `org` with `role`.
    pub fn token_for(&self, org: &str, user: &str, role: Role) -> String {
        let caller = Caller {
            org: OrgId::parse(org).expect("valid org"),
            user: UserId::parse(user).expect("valid user"),
            role,
        };
        self.minter
            .mint(&caller, Duration::from_secs(600), OffsetDateTime::now_utc())
            .expect("signed")
    }

    /// An owner token of `org_a`, the org most tests use.
    pub fn owner(&self) -> String {
        self.token("org_a", Role::Owner)
    }

    /// Sends a request; `body` is sent as JSON when given.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        self.raw(
            method,
            path,
            token,
            body.map(|b| ("application/json", b.to_string().into_bytes())),
        )
    }

    /// Sends a request with any body and content type.
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Reply {
        self.send_raw(method, path, token, &[], body)
    }

    /// Sends a request with extra headers.
    pub fn raw_with(
        &self,
        method: &str,
        path: &str,
        token: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Reply {
        self.send_raw(method, path, Some(token), headers, body)
    }

    /// Sends a request with any token, headers and body.
    pub fn send_raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Reply {
        let url = format!("{}{path}", self.base);
        let mut request = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let (content_type, bytes) = body.unwrap_or(("", Vec::new()));
        if !content_type.is_empty() {
            request = request.header("Content-Type", content_type);
        }
        let request = request.body(bytes).expect("a valid request");
        let mut response = self.agent.run(request).expect("the server answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response
            .body_mut()
            .with_config()
            .limit(16 * 1024 * 1024)
            .read_to_string()
            .unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
        }
    }

    pub fn get(&self, path: &str, token: &str) -> Reply {
        self.call("GET", path, Some(token), None)
    }

    pub fn post(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.call("POST", path, Some(token), Some(body))
    }

    pub fn put(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.call("PUT", path, Some(token), Some(body))
    }

    pub fn delete(&self, path: &str, token: &str) -> Reply {
        self.call("DELETE", path, Some(token), None)
    }

    /// Creates a template in `org_a` (as owner) and returns its id.
    pub fn template(&self, name: &str, vendor: &str) -> String {
        let reply = self
            .post(
                "/v1/admin/integration-templates",
                &self.owner(),
                &json!({ "name": name, "vendor": vendor }),
            )
            .expect(201);
        reply.body["id"].as_str().expect("an id").to_owned()
    }

    /// Creates a revision of a template in `org_a` and returns its body.
    pub fn revision(&self, template: &str, config: &Value) -> Value {
        self.post(
            &format!("/v1/admin/integration-templates/{template}/revisions"),
            &self.owner(),
            &json!({ "config": config, "delivery_mode": "server_side" }),
        )
        .expect(201)
        .body
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts a server in a thread of its own: its base URL, handle and thread.
fn serve(
    settings: Settings,
) -> (
    String,
    actix_web::dev::ServerHandle,
    std::thread::JoinHandle<()>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let (sender, receiver) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let system = actix_web::rt::System::new();
        system.block_on(async move {
            let (running, server, _) =
                integrations_server::start(&settings, listener).expect("the server starts");
            sender.send(running).expect("the test waits");
            let _ = server.await;
        });
    });
    let running = receiver
        .recv_timeout(Duration::from_secs(60))
        .expect("the server started");
    (format!("http://{}", running.addr), running.handle, thread)
}

/// A config that passes Meta CAPI validation.
pub fn meta_config() -> Value {
    json!({ "pixel_id": "1234567890", "access_token": "EAABsb-canary-secret", "batch_size": 100, "hash_pii": true })
}

/// Turns test functions taking `&TestApp` into one test per backend.
#[macro_export]
macro_rules! api_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    let mut app = $crate::support::TestApp::spawn(integrations_testing::Backend::Sqlite)
                        .expect("SQLite is always there");
                    super::$name(&mut app);
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    if let Some(mut app) = $crate::support::TestApp::spawn(integrations_testing::Backend::Postgres) {
                        super::$name(&mut app);
                    }
                }
            )*
        }
    };
}

/// The configs of every revision as the database holds them, oldest first.
pub fn stored_configs(app: &TestApp) -> Vec<Value> {
    app.db
        .texts("SELECT config AS value FROM revisions ORDER BY created_at, revision_number")
        .iter()
        .map(|text| serde_json::from_str(text).expect("stored configs are JSON"))
        .collect()
}

/// One row of the sealed-values table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedRow {
    pub owner_id: String,
    pub version_id: String,
    pub kid: String,
    pub ciphertext: String,
    pub field_path: String,
}

/// The sealed values as the database holds them, oldest first.
pub fn stored_sealed(app: &TestApp) -> Vec<SealedRow> {
    app.db
        .texts(
            "SELECT owner_id || '|' || version_id || '|' || kid || '|' || ciphertext || '|' || field_path AS value \
             FROM sealed_values ORDER BY created_at, owner_id, field_path",
        )
        .iter()
        .map(|text| {
            let mut parts = text.splitn(5, '|').map(str::to_owned);
            let mut next = || parts.next().expect("five columns");
            SealedRow {
                owner_id: next(),
                version_id: next(),
                kid: next(),
                ciphertext: next(),
                field_path: next(),
            }
        })
        .collect()
}
