//! The test app (the real server, in this process, on a random port over a
//! fresh database), the HTTP [`Client`] it shares with server processes,
//! one helper per HTTP verb and per endpoint, and [`Reply`] with its decoders.

use std::fmt::Display;
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use integrations_auth::JwtVerifier;
use integrations_domain::{Caller, OrgId, Role, UserId};
use integrations_server::config::Settings;
use integrations_testing::{Backend, TestDb};
use serde_json::{Value, json};
use time::OffsetDateTime;

/// The held-requests cap of the test servers: small, so a test can fill it.
pub const HELD_PER_USER: u32 = 20;

/// A JWT secret strong enough to be accepted (≥ 32 bytes, ≥ 16 distinct).
pub const SECRET: &[u8] = b"test-secret-0123456789-ABCDEFGHIJKLMNOP";
/// 32 bytes, base64.
pub const ENCRYPTION_KEY: &str = "dGVzdC1lbmNyeXB0aW9uLWtleS10ZXN0LWtleS0zMmI=";

/// An HTTP client for one server: the in-process [`TestApp`] or a server
/// process ([`crate::process::Process`]); both dereference to it, so every
/// verb and endpoint helper below works on either.
pub struct Client {
    pub base: String,
    agent: ureq::Agent,
}

/// A server of our own: its database, its address, its token minter.
pub struct TestApp {
    pub db: TestDb,
    /// The application the server runs (shared state: its caps, its feed).
    pub app: integrations_app::App,
    client: Client,
    minter: JwtVerifier,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
    data_dir: tempfile::TempDir,
}

impl std::ops::Deref for TestApp {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

/// A response: status, headers, the body as text and as JSON (`Value::Null`
/// when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// A reply from its parts; `body` is parsed from `text`.
    pub fn new(status: u16, headers: ureq::http::HeaderMap, text: String) -> Self {
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            body,
            text,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `error.code` of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or("<no error code>")
    }

    /// `id` of the body (panics when there is none).
    #[track_caller]
    pub fn id(&self) -> String {
        self.body["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {}", self.body))
            .to_owned()
    }

    /// `(field, problem)` of each `error.details` entry, in the order given.
    pub fn details(&self) -> Vec<(String, String)> {
        self.body["error"]["details"]
            .as_array()
            .map(|details| {
                details
                    .iter()
                    .map(|d| {
                        (
                            d["field"].as_str().unwrap_or("<no field>").to_owned(),
                            d["problem"].as_str().unwrap_or("<no problem>").to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether `error.details` has an entry of `field` with `problem`.
    pub fn has_detail(&self, field: &str, problem: &str) -> bool {
        self.details()
            .iter()
            .any(|(f, p)| f == field && p == problem)
    }

    /// [`Reply::details`], sorted: for checks that do not care about order.
    pub fn sorted_details(&self) -> Vec<(String, String)> {
        let mut details = self.details();
        details.sort();
        details
    }

    /// The `field` of each `error.details` entry, in the order given.
    pub fn fields(&self) -> Vec<String> {
        self.details().into_iter().map(|(field, _)| field).collect()
    }

    /// The `key` of each `error.details` entry that has one as a string
    /// (`pipeline_id`, `pipeline_name`, …), in the order given.
    pub fn details_of(&self, key: &str) -> Vec<&str> {
        self.body["error"]["details"]
            .as_array()
            .map(|details| details.iter().filter_map(|d| d[key].as_str()).collect())
            .unwrap_or_default()
    }

    /// `error.details[0].field`.
    pub fn first_field(&self) -> &str {
        self.body["error"]["details"][0]["field"]
            .as_str()
            .unwrap_or("<no details[0].field>")
    }

    /// Panics unless the status is `status`, showing the body.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
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
            self.text
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
        event_retention_days: 7,
        max_held_requests_per_user: HELD_PER_USER,
        max_connections: 25_000,
        jwt_secret: Some(SECRET.to_vec()),
        encryption_key: Some(ENCRYPTION_KEY.to_owned()),
    }
}

impl Client {
    /// A client of the server at `base` (`http://host:port`) that keeps its
    /// connections open between requests and returns every status as a
    /// [`Reply`] rather than an error.
    pub fn new(base: String) -> Self {
        Self::with_pool(base, 3)
    }

    /// A client that opens a connection of its own for each request, as
    /// many separate clients would: the server spreads them over its
    /// workers (the memory tests of a server process rely on that).
    pub fn unpooled(base: String) -> Self {
        Self::with_pool(base, 0)
    }

    fn with_pool(base: String, idle_connections: usize) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .max_idle_connections(idle_connections)
            .max_idle_connections_per_host(idle_connections)
            .build()
            .into();
        Self { base, agent }
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
        self.try_send(method, path, token, headers, body)
            .expect("the server answers")
    }

    /// [`Client::send_raw`], with `Err` when no answer came (the server
    /// died or closed the connection).
    pub fn try_send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<Reply, ureq::Error> {
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
        let mut response = self.agent.run(request)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response
            .body_mut()
            .with_config()
            .limit(16 * 1024 * 1024)
            .read_to_string()
            .unwrap_or_default();
        Ok(Reply::new(status, headers, text))
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

    // ----- One helper per endpoint; `query` is `""` or starts with `?`. -----

    pub fn list_catalog(&self, token: &str) -> Reply {
        self.get(paths::CATALOG, token)
    }

    pub fn get_catalog_entry(&self, token: &str, vendor: &str) -> Reply {
        self.get(&paths::catalog_entry(vendor), token)
    }

    pub fn install(&self, token: &str, vendor: &str, body: &Value) -> Reply {
        self.post(&paths::install(vendor), token, body)
    }

    pub fn list_templates(&self, token: &str, query: &str) -> Reply {
        self.get(&format!("{}{query}", paths::TEMPLATES), token)
    }

    pub fn create_template(&self, token: &str, body: &Value) -> Reply {
        self.post(paths::TEMPLATES, token, body)
    }

    pub fn get_template(&self, token: &str, template: &str) -> Reply {
        self.get(&paths::template(template), token)
    }

    pub fn update_template(&self, token: &str, template: &str, body: &Value) -> Reply {
        self.put(&paths::template(template), token, body)
    }

    pub fn delete_template(&self, token: &str, template: &str) -> Reply {
        self.delete(&paths::template(template), token)
    }

    /// The pipelines that pin `template`.
    pub fn template_pipelines(&self, token: &str, template: &str, query: &str) -> Reply {
        self.get(
            &format!("{}/pipelines{query}", paths::template(template)),
            token,
        )
    }

    pub fn list_revisions(&self, token: &str, template: &str, query: &str) -> Reply {
        self.get(&format!("{}{query}", paths::revisions(template)), token)
    }

    pub fn create_revision(&self, token: &str, template: &str, body: &Value) -> Reply {
        self.post(&paths::revisions(template), token, body)
    }

    pub fn get_revision(&self, token: &str, template: &str, number: impl Display) -> Reply {
        self.get(&paths::revision(template, number), token)
    }

    /// Restores revision `number`; `body` (`change_summary`) is optional.
    pub fn restore_revision(
        &self,
        token: &str,
        template: &str,
        number: impl Display,
        body: Option<&Value>,
    ) -> Reply {
        self.call(
            "POST",
            &format!("{}/restore", paths::revision(template, number)),
            Some(token),
            body,
        )
    }

    pub fn diff_revisions(
        &self,
        token: &str,
        template: &str,
        from: impl Display,
        to: impl Display,
    ) -> Reply {
        self.get(
            &format!("{}/diff/{to}", paths::revision(template, from)),
            token,
        )
    }

    pub fn list_pipelines(&self, token: &str, query: &str) -> Reply {
        self.get(&format!("{}{query}", paths::PIPELINES), token)
    }

    pub fn create_pipeline(&self, token: &str, body: &Value) -> Reply {
        self.post(paths::PIPELINES, token, body)
    }

    pub fn get_pipeline(&self, token: &str, pipeline: &str) -> Reply {
        self.get(&paths::pipeline(pipeline), token)
    }

    pub fn update_pipeline(&self, token: &str, pipeline: &str, body: &Value) -> Reply {
        self.put(&paths::pipeline(pipeline), token, body)
    }

    pub fn delete_pipeline(&self, token: &str, pipeline: &str) -> Reply {
        self.delete(&paths::pipeline(pipeline), token)
    }

    /// Every pinned config of `pipeline`, rendered.
    pub fn pipeline_config(&self, token: &str, pipeline: &str) -> Reply {
        self.get(&paths::pipeline_config(pipeline), token)
    }

    pub fn list_attachments(&self, token: &str, pipeline: &str, query: &str) -> Reply {
        self.get(&format!("{}{query}", paths::attachments(pipeline)), token)
    }

    pub fn attach(&self, token: &str, pipeline: &str, body: &Value) -> Reply {
        self.post(&paths::attachments(pipeline), token, body)
    }

    pub fn get_attachment(&self, token: &str, pipeline: &str, attachment: &str) -> Reply {
        self.get(&paths::attachment(pipeline, attachment), token)
    }

    pub fn update_attachment(
        &self,
        token: &str,
        pipeline: &str,
        attachment: &str,
        body: &Value,
    ) -> Reply {
        self.put(&paths::attachment(pipeline, attachment), token, body)
    }

    pub fn detach(&self, token: &str, pipeline: &str, attachment: &str) -> Reply {
        self.delete(&paths::attachment(pipeline, attachment), token)
    }

    /// The pinned config of one attachment, rendered.
    pub fn attachment_config(&self, token: &str, pipeline: &str, attachment: &str) -> Reply {
        self.get(&paths::attachment_config(pipeline, attachment), token)
    }

    pub fn audit_log(&self, token: &str, query: &str) -> Reply {
        self.get(&format!("{}{query}", paths::AUDIT_LOG), token)
    }

    /// `GET /v1/admin/events{query}`.
    pub fn events(&self, token: &str, query: &str) -> Reply {
        self.get(&format!("{}{query}", paths::EVENTS), token)
    }
}

/// The paths of the API, for the tests that build a request themselves.
pub mod paths {
    use std::fmt::Display;

    pub const CATALOG: &str = "/v1/admin/integration-catalog";
    pub const TEMPLATES: &str = "/v1/admin/integration-templates";
    pub const PIPELINES: &str = "/v1/admin/pipelines";
    pub const AUDIT_LOG: &str = "/v1/admin/audit-log";
    pub const EVENTS: &str = "/v1/admin/events";

    pub fn catalog_entry(vendor: &str) -> String {
        format!("{CATALOG}/{vendor}")
    }

    pub fn install(vendor: &str) -> String {
        format!("{CATALOG}/{vendor}/install")
    }

    pub fn template(template: &str) -> String {
        format!("{TEMPLATES}/{template}")
    }

    pub fn revisions(template: &str) -> String {
        format!("{TEMPLATES}/{template}/revisions")
    }

    pub fn revision(template: &str, number: impl Display) -> String {
        format!("{TEMPLATES}/{template}/revisions/{number}")
    }

    pub fn pipeline(pipeline: &str) -> String {
        format!("{PIPELINES}/{pipeline}")
    }

    pub fn attachments(pipeline: &str) -> String {
        format!("{PIPELINES}/{pipeline}/integrations")
    }

    pub fn attachment(pipeline: &str, attachment: &str) -> String {
        format!("{PIPELINES}/{pipeline}/integrations/{attachment}")
    }

    pub fn attachment_config(pipeline: &str, attachment: &str) -> String {
        format!("{PIPELINES}/{pipeline}/integrations/{attachment}/config")
    }

    pub fn pipeline_config(pipeline: &str) -> String {
        format!("{PIPELINES}/{pipeline}/config")
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
        let (base, handle, thread, app) = serve(settings);
        Self {
            db,
            app,
            client: Client::new(base),
            minter: JwtVerifier::new(SECRET, None, None).expect("a strong secret"),
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
        let (base, handle, thread, app) = serve(self.settings_with(adjust));
        (self.client, self.handle, self.thread, self.app) =
            (Client::new(base), handle, Some(thread), app);
    }

    fn stop(&mut self) {
        // Sends the stop command now; the server thread then finishes.
        drop(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// A valid token for `org` with `role` (user `user_123`).
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

    /// A token of `org_a` with `role`, minted `age` seconds ago to live
    /// `ttl` (the server accepts it until 30 s past its expiry).
    pub fn aged_token(&self, role: Role, age: i64, ttl: Duration) -> String {
        let caller = Caller {
            org: OrgId::parse("org_a").expect("valid org"),
            user: UserId::parse("user_123").expect("valid user"),
            role,
        };
        self.minter
            .mint(
                &caller,
                ttl,
                OffsetDateTime::now_utc() - time::Duration::seconds(age),
            )
            .expect("signed")
    }

    /// An owner token of `org_a`, the org most tests use.
    pub fn owner(&self) -> String {
        self.token("org_a", Role::Owner)
    }

    /// Creates a template in `org_a` (as owner) and returns its id.
    pub fn template(&self, name: &str, vendor: &str) -> String {
        self.create_template(&self.owner(), &json!({ "name": name, "vendor": vendor }))
            .expect(201)
            .id()
    }

    /// Creates a revision of a template in `org_a` and returns its body.
    pub fn revision(&self, template: &str, config: &Value) -> Value {
        self.create_revision(
            &self.owner(),
            template,
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

/// Starts a server in a thread of its own: its base URL, handle, thread and
/// application.
fn serve(
    settings: Settings,
) -> (
    String,
    actix_web::dev::ServerHandle,
    std::thread::JoinHandle<()>,
    integrations_app::App,
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
    (
        format!("http://{}", running.addr),
        running.handle,
        thread,
        running.app,
    )
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
