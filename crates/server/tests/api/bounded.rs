//! The binary under its limits: the peak memory of the streamed revisions
//! list (measured on the server process itself), and migrations waiting for
//! another process's lock past the connections' statement timeout.

use std::process::Stdio;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection as _;
use diesel::{Connection as _, PgConnection};
use integrations_testing::{Backend, TestDb};
use serde_json::{Value, json};

use crate::process::{KEY, Process, SECRET, command, mint};

/// Revisions in the long history, and the size of each one's big field.
const REVISIONS: u64 = 60;
const CONFIG_BYTES: usize = 900 * 1024;
/// The most extra peak memory listing that history may take.
const PEAK_BUDGET_KIB: u64 = 40 * 1024;

/// A field (in KiB) of `/proc/<pid>/status`.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Lists a template of 60 revisions of ~900 KB each from a server process
/// and measures that process's peak resident memory during the answer: the
/// high-water mark is reset to the current size just before the request
/// (`/proc/<pid>/clear_refs`, value 5), then read after it.
fn peak_while_listing_a_long_history(backend: Backend) -> Option<u64> {
    peak_while_listing(
        backend,
        REVISIONS,
        |i| json!({ "url": "https://example.com/hook", "payload_template": format!("{i}{}", "x".repeat(CONFIG_BYTES)) }),
    )
}

/// A server process on a fresh database of `backend`, its data folder and an
/// owner token (`None` when PostgreSQL is skipped).
fn serve(backend: Backend) -> Option<(TestDb, tempfile::TempDir, Process, String)> {
    let db = TestDb::on(backend)?;
    let dir = tempfile::tempdir().expect("a folder");
    let mut server = command(dir.path());
    server
        .env("DATABASE_URL", db.url())
        .env("JWT_SECRET", SECRET)
        .env("ENCRYPTION_KEY", KEY)
        .env("RATE_LIMIT_PER_MINUTE", "0");
    let server = Process::start(server);
    let token = mint(dir.path(), &[("JWT_SECRET", SECRET)], "org_a", "u", "owner");
    Some((db, dir, server, token))
}

/// Lists `count` revisions whose configs `config` makes, from a server
/// process, and returns the extra peak resident memory of the answer.
fn peak_while_listing(backend: Backend, count: u64, config: impl Fn(u64) -> Value) -> Option<u64> {
    let (_db, _dir, server, token) = serve(backend)?;
    let template = server
        .create_template(&token, &json!({ "name": "Big", "vendor": "webhook" }))
        .expect(201)
        .id();
    let path = crate::support::paths::revisions(&template);
    for i in 0..count {
        let body = json!({ "config": config(i), "delivery_mode": "server_side" });
        let revision = server.create_revision(&token, &template, &body);
        assert_eq!(
            revision.status, 201,
            "revision {i}: {}",
            revision.body["error"]
        );
    }
    let pid = server.child.id();
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("the peak resets");
    let before = status_kib(pid, "VmRSS:");
    let mut response = ureq::get(format!("{}{path}", server.base))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .expect("the list");
    let bytes = response
        .body_mut()
        .with_config()
        .limit(256 * 1024 * 1024)
        .read_to_vec()
        .expect("the whole body");
    let peak = status_kib(pid, "VmHWM:");
    let listed: Value = serde_json::from_slice(&bytes).expect("complete JSON");
    let numbers: Vec<u64> = listed["revisions"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| r["revision_number"].as_u64().expect("a number"))
        .collect();
    assert_eq!(numbers, (1..=count).rev().collect::<Vec<_>>());
    assert_eq!(listed["total"], count);
    assert!(
        bytes.len() as u64 > count * 800_000,
        "the configs are all there"
    );
    Some(peak.saturating_sub(before))
}

fn listing_a_long_history_stays_within_its_memory_budget(backend: Backend) {
    let Some(extra) = peak_while_listing_a_long_history(backend) else {
        return;
    };
    // Shown with --nocapture; docs/performance.md records a run.
    eprintln!(
        "{backend:?}: listing {REVISIONS} revisions of {CONFIG_BYTES} bytes took {extra} KiB of extra peak RSS"
    );
    assert!(
        extra < PEAK_BUDGET_KIB,
        "{backend:?}: the list took {extra} KiB of extra peak memory (budget {PEAK_BUDGET_KIB} KiB)"
    );
}

#[test]
fn listing_a_long_history_stays_within_its_memory_budget_on_sqlite() {
    listing_a_long_history_stays_within_its_memory_budget(Backend::Sqlite);
}

#[test]
fn listing_a_long_history_stays_within_its_memory_budget_on_postgres() {
    listing_a_long_history_stays_within_its_memory_budget(Backend::Postgres);
}

/// The shape that grows most when parsed: 20 revisions of ~900 KB arrays of
/// small numbers (~14 MB each as a tree). Batches of four would hold ~56 MB.
fn listing_number_arrays_stays_within_its_memory_budget(backend: Backend) {
    let Some(extra) = peak_while_listing(
        backend,
        20,
        |i| json!({ "url": "https://example.com/hook", "numbers": vec![i % 10; 450_000] }),
    ) else {
        return;
    };
    eprintln!("{backend:?}: listing 20 number-array revisions took {extra} KiB of extra peak RSS");
    assert!(
        extra < PEAK_BUDGET_KIB,
        "{backend:?}: the list took {extra} KiB of extra peak memory (budget {PEAK_BUDGET_KIB} KiB)"
    );
}

#[test]
fn listing_number_arrays_stays_within_its_memory_budget_on_sqlite() {
    listing_number_arrays_stays_within_its_memory_budget(Backend::Sqlite);
}

#[test]
fn listing_number_arrays_stays_within_its_memory_budget_on_postgres() {
    listing_number_arrays_stays_within_its_memory_budget(Backend::Postgres);
}

#[test]
fn two_processes_wait_for_a_held_migration_lock_and_migrate_once() {
    let Some(db) = TestDb::postgres() else { return };
    let dir = tempfile::tempdir().expect("a folder");
    let mut holder = PgConnection::establish(db.url()).expect("a third connection");
    holder
        .batch_execute(&format!(
            "SELECT pg_advisory_lock({})",
            integrations_store::migrations::POSTGRES_MIGRATION_LOCK
        ))
        .expect("the migration lock");
    let mut migrations: Vec<_> = (0..2)
        .map(|_| {
            command(dir.path())
                .arg("migrate")
                .env("DATABASE_URL", db.url())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("migrate starts")
        })
        .collect();
    // Longer than the 5 s statement timeout of every pooled connection.
    std::thread::sleep(Duration::from_secs(7));
    for child in &mut migrations {
        assert!(
            child.try_wait().expect("waitable").is_none(),
            "still waiting for the lock"
        );
    }
    assert!(
        db.texts("SELECT table_name::text AS value FROM information_schema.tables WHERE table_name = 'templates'")
            .is_empty(),
        "nothing migrated while the lock was held"
    );
    drop(holder);
    let deadline = Instant::now() + Duration::from_secs(60);
    for mut child in migrations {
        let status = loop {
            if let Some(status) = child.try_wait().expect("waitable") {
                break status;
            }
            assert!(Instant::now() < deadline, "migrate did not finish");
            std::thread::sleep(Duration::from_millis(100));
        };
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            std::io::Read::read_to_string(&mut pipe, &mut stderr).expect("stderr");
        }
        assert!(status.success(), "{stderr}");
    }
    let versions = db.texts("SELECT version AS value FROM __diesel_schema_migrations");
    let mut distinct = versions.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), versions.len(), "each migration once");
    let embedded = std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../migrations/postgres"
    ))
    .expect("the migrations folder")
    .count();
    assert_eq!(versions.len(), embedded, "every migration applied");
}

/// Pinned revisions of a pipeline rendered for the pipeline route.
const PINNED: usize = 12;
/// Small numbers in each pinned config: ~900 KB of text, ~14 MB as a tree.
const NUMBERS: usize = 450_000;
/// The most extra peak memory rendering them may take: a few revisions'
/// worth of tree, where holding them all at once takes over 150 MB.
const RENDER_BUDGET_KIB: u64 = 80 * 1024;

/// Renders a pipeline that pins 12 revisions whose configs are ~900 KB
/// arrays of small numbers (the shape that grows most when parsed), as a
/// viewer (the masked path, which builds a tree), and measures the server's
/// extra peak memory. The revisions are read and rendered one at a time, so
/// the peak is one revision's worth, not twelve.
fn peak_while_rendering_a_heavy_pipeline(backend: Backend) -> Option<u64> {
    let (_db, dir, server, token) = serve(backend)?;
    let pipeline = server
        .create_pipeline(&token, &json!({ "name": "Heavy" }))
        .expect(201)
        .id();
    for i in 0..PINNED {
        let template = server
            .create_template(
                &token,
                &json!({ "name": format!("Heavy {i}"), "vendor": "webhook" }),
            )
            .expect(201)
            .id();
        let body = json!({
            "config": { "url": "https://example.com/hook", "numbers": vec![i % 10; NUMBERS] },
            "delivery_mode": "server_side",
        });
        let revision = server.create_revision(&token, &template, &body);
        assert_eq!(revision.status, 201, "{}", revision.body["error"]);
        server
            .attach(
                &token,
                &pipeline,
                &json!({ "integration_id": template, "revision_id": revision.body["id"] }),
            )
            .expect(201);
    }
    let viewer = mint(
        dir.path(),
        &[("JWT_SECRET", SECRET)],
        "org_a",
        "v",
        "viewer",
    );
    let pid = server.child.id();
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("the peak resets");
    let before = status_kib(pid, "VmRSS:");
    let mut response = ureq::get(format!(
        "{}/v1/admin/pipelines/{pipeline}/config",
        server.base
    ))
    .header("Authorization", format!("Bearer {viewer}"))
    .call()
    .expect("the rendered configs");
    let bytes = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_vec()
        .expect("the whole body");
    let peak = status_kib(pid, "VmHWM:");
    let answer: Value = serde_json::from_slice(&bytes).expect("complete JSON");
    let entries = answer["integrations"].as_array().expect("a list");
    assert_eq!(entries.len(), PINNED);
    let rendered = entries.iter().filter(|e| e["config"].is_object()).count();
    // 8 MiB holds 9 of them; the rest are reported too large, in place.
    assert_eq!(
        rendered,
        9,
        "{}",
        answer["integrations"][PINNED - 1]["error"]
    );
    Some(peak.saturating_sub(before))
}

fn rendering_a_heavy_pipeline_holds_one_revision_at_a_time(backend: Backend) {
    let Some(extra) = peak_while_rendering_a_heavy_pipeline(backend) else {
        return;
    };
    eprintln!("{backend:?}: rendering {PINNED} heavy revisions took {extra} KiB of extra peak RSS");
    assert!(
        extra < RENDER_BUDGET_KIB,
        "{backend:?}: rendering took {extra} KiB of extra peak memory (budget {RENDER_BUDGET_KIB} KiB)"
    );
}

#[test]
fn rendering_a_heavy_pipeline_holds_one_revision_at_a_time_on_sqlite() {
    rendering_a_heavy_pipeline_holds_one_revision_at_a_time(Backend::Sqlite);
}

#[test]
fn rendering_a_heavy_pipeline_holds_one_revision_at_a_time_on_postgres() {
    rendering_a_heavy_pipeline_holds_one_revision_at_a_time(Backend::Postgres);
}
