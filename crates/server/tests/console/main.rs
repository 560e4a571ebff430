//! The console in a real browser: headless Chromium driven through `WebDriver`
//! (`chromedriver`) over a fresh server, as an owner, an editor and a viewer.
//! Every page is screenshotted (under `<target dir>/console-screenshots/`),
//! checked by axe-core (no serious or critical violation) and checked for
//! errors from the page's own script.
//!
//! Needs `chromium` and `chromedriver` on the PATH (Debian: `apt-get install
//! chromium chromium-driver`). Without them the suite is skipped, loudly;
//! with `CI=true` it fails instead.

#![expect(
    clippy::expect_used,
    reason = "tests: a broken fixture must fail the test at once"
)]

#[path = "../api/support.rs"]
#[expect(
    dead_code,
    reason = "the API suite's support module, of which this suite uses a part"
)]
mod support;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use integrations_auth::JwtVerifier;
use integrations_domain::{Caller, OrgId, Role, UserId};
use integrations_testing::Backend;
use serde_json::{Value, json};
use support::TestApp;
use time::OffsetDateTime;

/// axe-core, vendored (see `axe-LICENSE.txt`).
const AXE: &str = include_str!("axe.min.js");
const WAIT: Duration = Duration::from_secs(15);
const ORG: &str = "org_a";

/// `chromedriver`, on a free port, for as long as the value lives.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn found(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `chromedriver` and Chromium, or `None` (skipped; a failure under CI=true).
fn driver() -> Option<Driver> {
    let missing: Vec<&str> = ["chromedriver", "chromium"]
        .into_iter()
        .filter(|p| !found(p))
        .collect();
    if !missing.is_empty() {
        let message = format!(
            "the console's browser suite needs {} (Debian: apt-get install -y chromium chromium-driver)",
            missing.join(" and ")
        );
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{message}; CI=true makes this a failure"
        );
        eprintln!("\n\n*** SKIPPED: {message} ***\n");
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let deadline = Instant::now() + WAIT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    })
}

fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target dir")
        .join("console-screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshot dir");
    dir
}

/// A browser session on the console of one server.
struct Browser {
    client: Client,
    shots: PathBuf,
}

impl Browser {
    async fn open(driver: &Driver) -> Self {
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         "--disable-gpu", "--window-size=1280,1000", "--lang=en-US"],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .expect("a WebDriver session");
        Self {
            client,
            shots: screenshot_dir(),
        }
    }

    async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|err| panic!("script failed: {err}\n{script}"))
    }

    /// Waits until `condition` (a JS expression) is truthy.
    async fn until(&self, what: &str, condition: &str) {
        let deadline = Instant::now() + WAIT;
        let script = format!("return !!({condition});");
        loop {
            if self.js(&script).await == Value::Bool(true) {
                return;
            }
            if Instant::now() > deadline {
                let text = self.js("return document.body.innerText").await;
                panic!("timed out waiting for {what} ({condition}); the page reads:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn until_page(&self, page: &str) {
        self.until(
            &format!("the {page} page"),
            &format!(
                "document.body.dataset.page === {page:?} && !document.getElementById('main').hasAttribute('aria-busy')"
            ),
        )
        .await;
    }

    /// Waits until the main area shows `text`.
    async fn until_text(&self, text: &str) {
        self.until(
            &format!("the text {text:?}"),
            &format!("document.getElementById('main').innerText.includes({text:?})"),
        )
        .await;
    }

    async fn main_text(&self) -> String {
        self.js("return document.getElementById('main').innerText")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Navigates inside the console (a hash route) and waits for the page.
    async fn visit(&self, hash: &str, page: &str) {
        self.js(&format!("location.hash = {hash:?};")).await;
        self.until_page(page).await;
    }

    /// The control labelled `label` (its text, without a required mark)
    /// inside the element matching `scope`.
    async fn control(&self, scope: &str, label: &str) -> fantoccini::elements::Element {
        let script = format!(
            "const scope = document.querySelector({scope:?});
             if (!scope) return 'no scope';
             document.querySelectorAll('[data-e2e]').forEach((e) => e.removeAttribute('data-e2e'));
             const l = [...scope.querySelectorAll('label')].find((l) => l.textContent.replace(/\\s*\\*$/, '').trim() === {label:?});
             if (!l) return 'no label';
             const c = document.getElementById(l.htmlFor);
             if (!c) return 'no control';
             c.setAttribute('data-e2e', '1');
             return 'ok';"
        );
        let answer = self.js(&script).await;
        assert_eq!(answer, json!("ok"), "control {label:?} in {scope}");
        self.client
            .find(Locator::Css("[data-e2e='1']"))
            .await
            .expect("the marked control")
    }

    async fn fill(&self, scope: &str, label: &str, value: &str) {
        let control = self.control(scope, label).await;
        control.clear().await.expect("clear");
        control.send_keys(value).await.expect("type");
    }

    async fn choose(&self, scope: &str, label: &str, option_text: &str) {
        let control = self.control(scope, label).await;
        control
            .select_by_label(option_text)
            .await
            .unwrap_or_else(|err| panic!("option {option_text:?} of {label:?}: {err}"));
    }

    /// Clicks the button (or link) whose text is `text`, inside `scope`. A
    /// live update may redraw the page between finding the button and
    /// clicking it: the button is then found again, until `WAIT` runs out.
    async fn click(&self, scope: &str, text: &str) {
        let script = format!(
            "document.querySelectorAll('[data-e2e]').forEach((e) => e.removeAttribute('data-e2e'));
             const scope = document.querySelector({scope:?});
             const b = scope && [...scope.querySelectorAll('button, a')].find((b) => b.textContent.trim() === {text:?} || b.getAttribute('aria-label') === {text:?});
             if (!b) return false;
             b.setAttribute('data-e2e', '1');
             return true;"
        );
        let deadline = Instant::now() + WAIT;
        loop {
            if self.js(&script).await == Value::Bool(true) {
                let clicked = match self.client.find(Locator::Css("[data-e2e='1']")).await {
                    Ok(button) => button.click().await,
                    Err(err) => Err(err),
                };
                match clicked {
                    Ok(()) => return,
                    Err(err) if redrawn(&err) => {}
                    Err(err) => panic!("click {text:?} in {scope}: {err}"),
                }
            }
            if Instant::now() > deadline {
                let page = self.main_text().await;
                panic!("no button {text:?} in {scope}; the page reads:\n{page}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn has_button(&self, text: &str) -> bool {
        self.js(&format!(
            "return [...document.querySelectorAll('main button, main a')].some((b) => b.textContent.trim().startsWith({text:?}));"
        ))
        .await
            == Value::Bool(true)
    }

    /// Screenshot, accessibility and error checks of the page shown now.
    async fn check(&self, name: &str) {
        self.js("window.scrollTo(0, 0);").await;
        self.checked(name).await;
    }

    /// [`Browser::check`] with the element matching `css` scrolled into view.
    async fn check_at(&self, name: &str, css: &str) {
        self.js(&format!(
            "document.querySelector({css:?}).scrollIntoView({{ block: 'center' }});"
        ))
        .await;
        self.checked(name).await;
    }

    async fn checked(&self, name: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        std::fs::write(self.shots.join(format!("{name}.png")), png).expect("saved");

        if self.js("return typeof window.axe").await != json!("object") {
            self.js(AXE).await;
        }
        let violations = self
            .js(
                "return axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations
                   .filter((v) => v.impact === 'serious' || v.impact === 'critical')
                   .map((v) => v.id + ' (' + v.impact + '): ' + v.nodes.map((n) => n.target.join(' ')).join(', ')));",
            )
            .await;
        assert_eq!(violations, json!([]), "axe on the {name} page");
        self.assert_no_errors(name).await;
    }

    async fn assert_no_errors(&self, name: &str) {
        let errors = self
            .js("return document.documentElement.dataset.consoleErrors || null")
            .await;
        assert_eq!(errors, Value::Null, "errors on the {name} page");
        assert!(
            self.client.get_alert_text().await.is_err(),
            "an alert is open on the {name} page"
        );
        assert_eq!(
            self.js("return window.__xss === undefined").await,
            json!(true),
            "a payload ran on the {name} page"
        );
    }

    async fn sign_in_by_link(&self, link: &str) {
        self.client.goto(link).await.expect("the console loads");
        self.until_page("templates").await;
    }

    async fn sign_out(&self) {
        self.click("#who", "Sign out").await;
        self.until_page("signin").await;
    }
}

/// The sign-in link `integrations token --console` prints for a server at
/// `base` (the binary itself, with the test server's JWT secret).
fn console_link(base: &str, sub: &str, role: &str) -> String {
    let dir = tempfile::tempdir().expect("a folder");
    let output = Command::new(env!("CARGO_BIN_EXE_integrations"))
        .current_dir(dir.path())
        .env_clear()
        .env(
            "JWT_SECRET",
            std::str::from_utf8(support::SECRET).expect("a text secret"),
        )
        .env("LISTEN_ADDR", base.trim_start_matches("http://"))
        .args([
            "token",
            "--org",
            ORG,
            "--sub",
            sub,
            "--role",
            role,
            "--console",
        ])
        .output()
        .expect("integrations token runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let link = String::from_utf8(output.stdout)
        .expect("text")
        .trim()
        .to_owned();
    assert!(
        link.starts_with(&format!("{base}/console#token=")),
        "{link}"
    );
    link
}

/// A token minted `age` seconds in the past with `ttl` seconds to live:
/// with the server's 30 s leeway it stays accepted for `ttl + 30 - age`.
fn aged_token(user: &str, role: Role, age: i64, ttl: u64) -> String {
    let minter = JwtVerifier::new(support::SECRET, None, None).expect("a strong secret");
    let caller = Caller {
        org: OrgId::parse(ORG).expect("valid org"),
        user: UserId::parse(user).expect("valid user"),
        role,
    };
    minter
        .mint(
            &caller,
            Duration::from_secs(ttl),
            OffsetDateTime::now_utc() - time::Duration::seconds(age),
        )
        .expect("signed")
}

#[test]
fn the_console_in_a_real_browser() {
    let Some(driver) = driver() else { return };
    let app = TestApp::spawn(Backend::Sqlite).expect("SQLite is always there");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(flows(&driver, &app));
}

/// Refusals the main story cannot meet: too many requests (429) and a
/// database that stopped answering (503). Each gets a page that says what
/// happened and offers a way back.
#[test]
fn the_console_says_what_went_wrong_when_refused_or_unavailable() {
    let Some(driver) = driver() else { return };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    // 429: a server that allows a handful of requests a minute.
    let limited = TestApp::over_with(integrations_testing::TestDb::sqlite(), |settings| {
        settings.rate_limit_per_minute = 6;
    });
    runtime.block_on(async {
        let b = Browser::open(&driver).await;
        b.sign_in_by_link(&console_link(&limited.base, "ada", "owner"))
            .await;
        for page in [
            "#/pipelines",
            "#/templates",
            "#/catalog",
            "#/rollouts",
            "#/templates",
        ] {
            b.js(&format!("location.hash = {page:?};")).await;
            if b.main_text().await.contains("Slow down") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        b.until_text("Slow down").await;
        b.until_text("Back to templates").await;
        b.check("error-429").await;
        b.client.close().await.expect("the session ends");
    });
    // 503: PostgreSQL stops accepting this database's connections.
    let Some(db) = integrations_testing::TestDb::postgres() else {
        return;
    };
    let app = TestApp::over(db);
    runtime.block_on(async {
        let b = Browser::open(&driver).await;
        b.sign_in_by_link(&console_link(&app.base, "ada", "owner"))
            .await;
        // From another database, close this one to new connections and end
        // the open ones (the server's pool): its next query finds none.
        let url = app.db.url();
        let (server, name) = url.rsplit_once('/').expect("a database name");
        let mut admin =
            <diesel::PgConnection as diesel::Connection>::establish(&format!("{server}/postgres"))
                .expect("the admin database");
        diesel::connection::SimpleConnection::batch_execute(
            &mut admin,
            &format!(
                "ALTER DATABASE {name} ALLOW_CONNECTIONS false; \
                 SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}';"
            ),
        )
        .expect("the database closed");
        b.js("location.hash = '#/pipelines';").await;
        b.until_text("Unavailable").await;
        b.until_text("Try again").await;
        b.check("error-503").await;
        b.client.close().await.expect("the session ends");
    });
}

#[expect(clippy::too_many_lines, reason = "one story, step by step")]
async fn flows(driver: &Driver, app: &TestApp) {
    let owner = app.token_for(ORG, "ada", Role::Owner);
    let owner_link = console_link(&app.base, "ada", "owner");
    let viewer_link = console_link(&app.base, "vera", "viewer");
    let editor = app.token_for(ORG, "eddie", Role::Editor);
    let other = app.token_for(ORG, "otto", Role::Editor);
    let b = Browser::open(driver).await;

    // ---- sign-in via link: the token leaves the address bar, lives in sessionStorage only
    b.sign_in_by_link(&owner_link).await;
    let url = b.client.current_url().await.expect("a URL");
    assert!(
        !url.as_str().contains("token"),
        "the token stays in the address: {url}"
    );
    assert_eq!(
        b.js("return [sessionStorage.length, localStorage.length, document.cookie]")
            .await,
        json!([1, 0, ""])
    );
    let first_load = b
        .js("const n = performance.getEntriesByType('navigation')[0];
             const r = performance.getEntriesByType('resource');
             return { ms: Math.round(n.loadEventEnd - n.startTime),
                      bytes: n.transferSize + r.reduce((s, e) => s + e.transferSize, 0) };")
        .await;
    eprintln!("console first load: {first_load}");
    assert!(
        first_load["bytes"].as_u64().expect("bytes") <= 300 * 1024,
        "{first_load}"
    );
    b.check("templates-empty").await;

    // ---- create a template through the form; a taken name is told next to the field
    b.fill("main form.grid", "Name", "GA4 web").await;
    b.choose("main form.grid", "Vendor", "Google Analytics 4")
        .await;
    b.click("main form.grid", "Create template").await;
    b.until_page("template").await;
    b.until_text("New revision").await;

    // ---- revision 1 through the catalog's fields: a placeholder and a secret
    b.fill(
        "main",
        "Measurement ID",
        "{{pipeline_param.ga4_measurement_id}}",
    )
    .await;
    b.fill(
        "main",
        "Measurement Protocol API secret",
        "s3cr3t-api-value",
    )
    .await;
    b.fill("main", "Change summary", "first").await;
    b.click("main", "Save as revision 1").await;
    b.until_text("Revision 1").await;
    b.until("the revision view", "document.getElementById('rev-view')")
        .await;
    assert!(!b.main_text().await.contains("s3cr3t"), "a secret shows");

    // ---- revision 2: the secret untouched keeps "***", debug mode on
    b.choose("main", "Debug mode", "true").await;
    b.fill("main", "Change summary", "debug on").await;
    b.click("main", "Save as revision 2").await;
    b.until(
        "revision 2",
        "document.getElementById('rev-view') && document.getElementById('rev-view').textContent === 'Revision 2'",
    )
    .await;
    b.check("template").await;

    // ---- the raw JSON editor shows the same config
    b.click("main", "JSON").await;
    b.until(
        "the JSON editor",
        "[...document.querySelectorAll('main textarea')].some((t) => t.value.includes('\"debug_mode\": true') && t.value.includes('\"api_secret\": \"***\"'))",
    )
    .await;
    b.check_at("template-json-editor", "main [data-field=config]")
        .await;
    b.click("main", "Form").await;

    // ---- a value the vendor's fields refuse: the problem sits next to its field
    b.fill("main", "Batch size", "lots").await;
    b.click("main", "Save as revision 3").await;
    b.until(
        "the error next to the batch size",
        "[...document.querySelectorAll('main .field-error')].some((e) => e.textContent.startsWith('Batch size') && e.closest('.field').querySelector('[aria-invalid=true]'))",
    )
    .await;
    b.check_at("template-field-error", "main .field-error")
        .await;

    // ---- someone else saves meanwhile: the input stays, the conflict is told
    let ga4 = b
        .js("return location.hash.split('/')[2].split('?')[0]")
        .await
        .as_str()
        .expect("the template id")
        .to_owned();
    app.post(
        &format!("/v1/admin/integration-templates/{ga4}/revisions"),
        &other,
        &json!({ "config": { "measurement_id": "{{pipeline_param.ga4_measurement_id}}",
                             "api_secret": "***", "debug_mode": true, "batch_size": 20 },
                 "delivery_mode": "server_side", "change_summary": "smaller batches" }),
    )
    .expect(201);
    b.until(
        "the notice of a change elsewhere",
        "document.getElementById('status').textContent.includes('Changed elsewhere')",
    )
    .await;
    b.fill("main", "Batch size", "10").await;
    b.click("main", "Save as revision 3").await;
    b.until(
        "the conflict",
        "document.querySelector('form[aria-labelledby=new-rev] .form-error').textContent.includes('Someone else changed this')",
    )
    .await;
    assert_eq!(
        b.js("return document.querySelector('[data-field=\"config.batch_size\"]').value")
            .await,
        json!("10"),
        "the input is kept"
    );
    b.check_at(
        "template-conflict",
        "form[aria-labelledby=new-rev] .form-error",
    )
    .await;

    // ---- diff of revisions 1 and 2, side by side, the change highlighted
    b.choose("main", "Compare revision", "Revision 1").await;
    b.choose("main", "with revision", "Revision 2").await;
    b.click("main", "Compare").await;
    b.until("the diff", "document.querySelector('table.diff')")
        .await;
    let changed = b
        .js("return [...document.querySelectorAll('table.diff tr.changed, table.diff tr.added')].map((r) => r.cells[0].textContent)")
        .await;
    assert_eq!(changed, json!(["debug_mode"]), "changed rows");
    b.check_at("template-diff", "table.diff").await;

    // ---- a name already taken: the error sits next to the name
    b.visit("#/templates", "templates").await;
    b.fill("main form.grid", "Name", "ga4 WEB").await;
    b.click("main form.grid", "Create template").await;
    b.until(
        "the error next to the name",
        "document.querySelector('main form.grid .field-error') && document.querySelector('main form.grid .field-error').textContent.includes('already used')",
    )
    .await;
    b.check_at("templates-error", "main form.grid .field-error")
        .await;

    // ---- install from the catalog
    b.visit("#/catalog", "catalog").await;
    b.check("catalog").await;
    b.click("main", "Install Meta Conversions API…").await;
    b.fill(
        "main article[aria-labelledby=vendor-meta_capi] form",
        "Template name",
        "Meta prod",
    )
    .await;
    b.click(
        "main article[aria-labelledby=vendor-meta_capi] form",
        "Install Meta Conversions API",
    )
    .await;
    b.until_page("template").await;
    b.until_text("Meta prod").await;
    b.until_text("Revision 1").await;

    b.visit("#/templates", "templates").await;
    b.check("templates").await;

    // ---- a pipeline with a parameter and a write-only secret parameter
    b.visit("#/pipelines", "pipelines").await;
    b.check("pipelines-empty").await;
    b.fill("main form.grid", "Name", "Web").await;
    b.click("main form.grid", "Create pipeline").await;
    b.until_page("pipeline").await;
    b.click("main", "Add parameter").await;
    b.fill("main", "Parameter key", "ga4_measurement_id").await;
    b.fill("main", "Value", "G-WEB123").await;
    b.click("main", "Add secret parameter").await;
    b.fill("main", "Secret key", "meta_token").await;
    b.fill("main", "Value (write-only)", "EAAB-web-secret")
        .await;
    b.click("main", "Save pipeline").await;
    b.until(
        "the saved secret",
        "[...document.querySelectorAll('main input[type=password]')].some((i) => i.value === '***')",
    )
    .await;
    assert!(
        !b.js("return document.documentElement.outerHTML + [...document.querySelectorAll('input')].map((i) => i.value).join(' ')")
            .await
            .as_str()
            .unwrap_or_default()
            .contains("EAAB-web-secret"),
        "the secret is shown back"
    );

    // ---- attach at revision 1: a newer revision is flagged; preview, apply, roll back
    b.choose("main", "Template", "GA4 web").await;
    b.until(
        "the revisions of GA4 web",
        "[...document.querySelectorAll('main option')].some((o) => o.textContent === 'Revision 1 — first')",
    )
    .await;
    b.choose("main", "Revision", "Revision 1 — first").await;
    b.click("main", "Attach").await;
    b.until_text("newer revision 3").await;
    b.check("pipeline").await;
    b.click("main", "Preview upgrade to revision 3").await;
    b.until_text("Upgrade GA4 web from revision 1 to 3").await;
    b.until_text("debug_mode → true").await;
    b.until_text("batch_size → 20").await;
    b.check_at("pipeline-upgrade-preview", "#upgrade-preview")
        .await;
    b.click("main", "Apply upgrade to revision 3").await;
    b.until(
        "the upgraded pin",
        "!document.getElementById('main').innerText.includes('newer revision') && document.getElementById('main').innerText.includes('Revision 3')",
    )
    .await;
    b.visit("#/rollouts", "rollouts").await;
    b.until_text("To revision 3").await;
    b.check("rollouts").await;
    b.click("main", "Roll back").await;
    b.until_text("Rollback").await;
    let pins = app.get("/v1/admin/pipelines?limit=1", &owner).expect(200);
    let pid = pins.body["pipelines"][0]["id"]
        .as_str()
        .expect("the pipeline")
        .to_owned();
    let attached = app
        .get(&format!("/v1/admin/pipelines/{pid}/integrations"), &owner)
        .expect(200);
    assert_eq!(attached.body["integrations"][0]["revision_number"], 1);

    // ---- attach a second template, then detach it (admin and above)
    b.visit(&format!("#/pipelines/{pid}"), "pipeline").await;
    b.choose("main", "Template", "Meta prod").await;
    b.until(
        "the revisions of Meta prod",
        "[...document.querySelectorAll('main [data-field=revision_id] option')].some((o) => o.textContent.startsWith('Revision 1 — Installed'))",
    )
    .await;
    b.click("main", "Attach").await;
    b.click("main", "Detach Meta prod").await;
    b.until(
        "Meta prod detached",
        "!document.querySelector('main table').innerText.includes('Meta prod')",
    )
    .await;

    // ---- no URL the page asked for carried a token (a JWT starts with "eyJ")
    assert_eq!(
        b.js("return performance.getEntriesByType('resource').map((e) => e.name).filter((n) => n.includes('eyJ'))")
            .await,
        json!([])
    );

    // ---- the audit log (admin and above)
    b.visit("#/audit", "audit").await;
    b.until_text("rollout.rollback").await;
    b.check("audit").await;

    // ---- restore: a new revision copying an old one
    b.visit(&format!("#/templates/{ga4}"), "template").await;
    b.click("main", "Restore revision 1").await;
    b.until(
        "revision 4, restored from 1",
        "document.getElementById('rev-view') && document.getElementById('rev-view').textContent === 'Revision 4'",
    )
    .await;
    b.until_text("restored from revision 1").await;

    // ---- live: a change made elsewhere shows without a reload
    b.visit("#/templates", "templates").await;
    b.js("window.__sameDocument = 1;").await;
    app.post(
        "/v1/admin/integration-templates",
        &other,
        &json!({ "name": "Made elsewhere", "vendor": "slack" }),
    )
    .expect(201);
    b.until_text("Made elsewhere").await;
    assert_eq!(b.js("return window.__sameDocument").await, json!(1));
    // The same person from elsewhere (curl with the same token, another
    // tab) counts as elsewhere too, once this tab's own writes are past.
    tokio::time::sleep(Duration::from_millis(3200)).await;
    app.post(
        "/v1/admin/integration-templates",
        &owner,
        &json!({ "name": "Made by me in a terminal", "vendor": "slack" }),
    )
    .expect(201);
    b.until_text("Made by me in a terminal").await;
    assert_eq!(b.js("return window.__sameDocument").await, json!(1));

    // ---- user-written text is text: the payload shows, nothing runs
    let evil = app
        .post(
            "/v1/admin/integration-templates",
            &other,
            &json!({ "name": "<img src=x onerror=alert(1)>", "vendor": "webhook",
                     "description": "<img src=x onerror=window.__xss=1>" }),
        )
        .expect(201)
        .id();
    b.until_text("<img src=x onerror=alert(1)>").await;
    b.visit(&format!("#/templates/{evil}"), "template").await;
    b.until_text("<img src=x onerror=window.__xss=1>").await;
    assert_eq!(
        b.js("return document.querySelectorAll('main img').length")
            .await,
        json!(0)
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.check("template-xss").await;

    // ---- an editor: no audit log, no detach, but enable/disable
    b.sign_out().await;
    b.check("signin").await;
    // By keyboard: the token, then Enter.
    b.fill("main", "Access token", &format!("{editor}\u{e007}"))
        .await;
    b.until(
        "signed in",
        "!['signin', undefined].includes(document.body.dataset.page)",
    )
    .await;
    b.visit("#/templates", "templates").await;
    assert_eq!(
        b.js("return document.querySelector('#nav a[data-section=audit]').hidden")
            .await,
        json!(true)
    );
    b.visit(&format!("#/pipelines/{pid}"), "pipeline").await;
    assert!(!b.has_button("Detach").await, "an editor sees Detach");
    b.click("main", "Disable GA4 web").await;
    b.until_text("disabled").await;
    b.check("pipeline-editor").await;

    // ---- the token expires mid-edit: the input is kept, a new token asked for
    b.sign_out().await;
    // Accepted for 10 s from now (30 s of leeway past its expiry), then refused.
    let short = aged_token("eddie", Role::Editor, 30, 10);
    let refused_from = Instant::now() + Duration::from_secs(11);
    b.fill("main", "Access token", &short).await;
    b.click("main", "Sign in").await;
    b.until(
        "signed in",
        "!['signin', undefined].includes(document.body.dataset.page)",
    )
    .await;
    b.visit("#/templates", "templates").await;
    b.fill("main form.grid", "Name", "Typed before expiry")
        .await;
    b.choose("main form.grid", "Vendor", "Slack").await;
    tokio::time::sleep(refused_from.saturating_duration_since(Instant::now())).await;
    // The live stream may notice the ended sign-in first and open the
    // dialog: the form is submitted underneath it either way, and waits.
    b.js("document.querySelector('main form.grid').requestSubmit();")
        .await;
    b.until(
        "the sign-in dialog",
        "document.querySelector('dialog[open]')",
    )
    .await;
    b.check("token-expired").await;
    b.fill("dialog", "New access token", &editor).await;
    b.click("dialog", "Continue").await;
    b.until_page("template").await;
    b.until_text("Typed before expiry").await;

    // ---- a viewer sees no control it cannot use
    b.sign_out().await;
    b.sign_in_by_link(&viewer_link).await;
    let body = b.main_text().await;
    assert!(!body.contains("New template"), "{body}");
    b.check("templates-viewer").await;
    b.visit(&format!("#/templates/{ga4}"), "template").await;
    for control in ["Save as revision", "Restore revision", "Edit name"] {
        assert!(!b.has_button(control).await, "a viewer sees {control}");
    }
    assert_eq!(
        b.js("return document.querySelectorAll('main input:not([type=search]), main textarea').length")
            .await,
        json!(0),
        "a viewer sees inputs"
    );
    b.check("template-viewer").await;
    b.visit(&format!("#/pipelines/{pid}"), "pipeline").await;
    for control in ["Save pipeline", "Attach", "Disable", "Enable", "Detach"] {
        assert!(!b.has_button(control).await, "a viewer sees {control}");
    }
    b.check("pipeline-viewer").await;
    b.visit("#/catalog", "catalog").await;
    assert!(!b.has_button("Install").await, "a viewer sees Install");
    b.visit("#/pipelines", "pipelines").await;
    assert!(
        !b.has_button("Create pipeline").await,
        "a viewer sees Create"
    );
    b.check("pipelines-viewer").await;
    b.visit("#/rollouts", "rollouts").await;
    assert!(!b.has_button("Roll back").await, "a viewer sees Roll back");
    b.check("rollouts-viewer").await;
    b.visit("#/audit", "error").await;
    b.until_text("Not allowed").await;
    b.check("audit-viewer").await;
    b.visit("#/templates/tmpl_01JD8X8Z5Q0C7Y1KD0J9R7W3VN", "error")
        .await;
    b.until_text("Not found").await;
    b.check("not-found").await;
    b.click("main", "Back to templates").await;
    b.until_page("templates").await;

    // ---- pages of 20
    for i in 1..=20 {
        app.post(
            "/v1/admin/integration-templates",
            &other,
            &json!({ "name": format!("Bulk {i:02}"), "vendor": "slack" }),
        )
        .expect(201);
    }
    b.visit("#/templates", "templates").await;
    b.until_text("1–20 of 26").await;
    b.click("main", "Next page").await;
    b.until_text("21–26 of 26").await;
    b.check("templates-page-2").await;

    // ---- a long history: the timeline shows 20 revisions a page
    for n in 0..18 {
        app.post(
            &format!("/v1/admin/integration-templates/{ga4}/revisions"),
            &other,
            &json!({ "config": { "measurement_id": "{{pipeline_param.ga4_measurement_id}}",
                                 "api_secret": "***", "debug_mode": n % 2 == 0 },
                     "delivery_mode": "server_side", "change_summary": format!("step {n}") }),
        )
        .expect(201);
    }
    b.visit(&format!("#/templates/{ga4}"), "template").await;
    b.until_text("1–20 of 22").await;
    b.click("main", "Older revisions").await;
    b.until_text("21–22 of 22").await;
    b.until_text("Revision 1").await;
    b.check("template-older-revisions").await;

    // ---- search and the vendor filter are the API's (as a viewer: reading is enough)
    b.visit("#/templates?q=ga4", "templates").await;
    b.until_text("GA4 web").await;
    assert!(!b.main_text().await.contains("Meta prod"));
    b.visit("#/templates?vendor=meta_capi", "templates").await;
    b.until_text("Meta prod").await;
    assert!(!b.main_text().await.contains("GA4 web"));
    b.visit("#/templates?q=nothing-like-it", "templates").await;
    b.until_text("No template matches.").await;
    b.check("templates-search").await;
    b.visit("#/pipelines?q=WE", "pipelines").await;
    b.until(
        "the Web pipeline",
        "[...document.querySelectorAll('main table a')].some((a) => a.textContent === 'Web')",
    )
    .await;
    b.visit("#/pipelines?q=nothing-like-it", "pipelines").await;
    b.until_text("No pipeline matches.").await;

    b.client.close().await.expect("the session ends");
}

/// Whether `err` says the element went away (the page was redrawn between
/// finding it and using it), which a second look cures.
fn redrawn(err: &fantoccini::error::CmdError) -> bool {
    use fantoccini::error::{CmdError, ErrorStatus};
    matches!(
        err,
        CmdError::Standard(e)
            if matches!(e.error, ErrorStatus::StaleElementReference | ErrorStatus::NoSuchElement)
    )
}
