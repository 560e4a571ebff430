//! Key rotation while a server serves reads and writes: the new key as a
//! second entry, then first, `rekey`, then the old key dropped — every
//! secret still opens, every diff is unchanged, no revision row changed.

use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine as _;
use integrations_domain::Role;
use serde_json::{Value, json};

use crate::secret_binding::{
    LEGACY_TOKEN, LEGACY_TOKEN_PLAIN, attach, diff, id_of, legacy_template, rendered,
};
use crate::support::{ENCRYPTION_KEY, TestApp, stored_configs};

/// What a render must keep showing the `service` role: the attachment and its config.
type Expected = Vec<((String, String), Value)>;

fn new_key() -> String {
    base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>())
}

fn service_config(app: &TestApp, attached: &(String, String)) -> Value {
    rendered(app, Role::Service, attached).expect(200).body["config"].clone()
}

/// A Meta template with `count` revisions, each with a token of its own
/// (some echoed, so that versions are shared), each attached; returns the
/// template and what each attachment renders for `service`.
fn meta_history(app: &TestApp, name: &str, count: u32) -> (String, Expected) {
    let template = app.template(name, "meta_capi");
    let mut expected = Vec::new();
    for n in 1..=count {
        let token = if n % 3 == 0 {
            "***".to_owned()
        } else {
            format!("{name}-token-{n}")
        };
        let revision = app.revision(
            &template,
            &json!({ "pixel_id": format!("{n}"), "access_token": token }),
        );
        let attached = attach(app, &template, &id_of(&revision), &json!({}));
        let config = service_config(app, &attached);
        assert!(
            config["access_token"]
                .as_str()
                .is_some_and(|t| t.starts_with(name)),
            "{config}"
        );
        expected.push((attached, config));
    }
    (template, expected)
}

fn diffs(app: &TestApp, template: &str, count: u32) -> Vec<Value> {
    (1..count).map(|n| diff(app, template, n, n + 1)).collect()
}

fn key_ids(app: &TestApp, keyring: &str) -> Vec<(String, bool, u64)> {
    let settings = app.settings_with(|s| s.encryption_key = Some(keyring.to_owned()));
    integrations_server::keys(&settings)
        .expect("keys")
        .into_iter()
        .map(|k| (k.kid, k.configured, k.sealed_values))
        .collect()
}

fn rotating_keys_while_serving_keeps_every_secret_and_diff(app: &mut TestApp) {
    // Under the old key: a history of sealed values, and a value sealed
    // inline by the first release.
    let (meta, mut expected) = meta_history(app, "Meta", 7);
    let (legacy, legacy_revision) = legacy_template(
        app,
        "meta_capi",
        &json!({ "pixel_id": "1", "access_token": LEGACY_TOKEN }),
    );
    let legacy_attached = attach(app, &legacy, &legacy_revision, &json!({}));
    assert_eq!(
        service_config(app, &legacy_attached)["access_token"],
        LEGACY_TOKEN_PLAIN
    );
    expected.push((
        legacy_attached.clone(),
        service_config(app, &legacy_attached),
    ));
    // A pipeline whose credential is a secret parameter (sealed on the pipeline).
    let from_secret = app.revision(
        &meta,
        &json!({ "pixel_id": "9", "access_token": "{{pipeline_param.token}}" }),
    );
    let owner = app.owner();
    let pipeline = app
        .create_pipeline(
            &owner,
            &json!({ "name": "With a secret", "secret_parameters": { "token": "pipeline-secret" } }),
        )
        .expect(201)
        .id();
    let attachment = app
        .attach(
            &owner,
            &pipeline,
            &json!({ "integration_id": meta, "revision_id": id_of(&from_secret) }),
        )
        .expect(201)
        .id();
    let with_secret = (pipeline, attachment);
    assert_eq!(
        service_config(app, &with_secret)["access_token"],
        "pipeline-secret"
    );
    expected.push((with_secret.clone(), service_config(app, &with_secret)));
    let diffs_before = diffs(app, &meta, 7);
    let rows_before = stored_configs(app);
    let old = ENCRYPTION_KEY.to_owned();
    let old_kid = key_ids(app, &old)[0].0.clone();
    let new = new_key();

    // Step 2: the new key as a second entry — still sealing with the old one.
    app.restart_with(|s| s.encryption_key = Some(format!("{old},kid_new:{new}")));
    let (_, more) = meta_history(app, "Second", 2);
    expected.extend(more);
    // Step 3: the new key first; rekey while a writer and a reader keep going.
    let both = format!("kid_new:{new},{old}");
    app.restart_with(|s| s.encryption_key = Some(both.clone()));
    let stop = AtomicBool::new(false);
    let (report, written) = std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let mut written = Vec::new();
            let mut round = 0;
            while !stop.load(Ordering::Relaxed) || round < 3 {
                round += 1;
                written.extend(meta_history(app, &format!("During{round}"), 2).1);
            }
            written
        });
        let reader = scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                for (attached, config) in &expected {
                    assert_eq!(&service_config(app, attached), config);
                }
            }
        });
        let settings = app.settings_with(|s| s.encryption_key = Some(both.clone()));
        let report = integrations_server::rekey(&settings, 2).expect("rekey runs");
        stop.store(true, Ordering::Relaxed);
        reader.join().expect("the reader saw every secret");
        (report, writer.join().expect("the writer wrote"))
    });
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(report.adopted, 1, "the first release's inline value");
    assert!(report.resealed >= 10, "{report:?}");
    // Again: nothing left to do, and nothing breaks.
    let settings = app.settings_with(|s| s.encryption_key = Some(both.clone()));
    let again = integrations_server::rekey(&settings, 100).expect("rekey runs again");
    assert_eq!((again.adopted, again.resealed, again.failed), (0, 0, 0));
    let counts = key_ids(app, &both);
    assert!(
        counts.contains(&(old_kid.clone(), true, 0)),
        "the old key seals nothing: {counts:?}"
    );

    // Step 6: the old key dropped. Every secret opens, every diff is unchanged.
    app.restart_with(|s| s.encryption_key = Some(format!("kid_new:{new}")));
    for (attached, config) in expected.iter().chain(&written) {
        assert_eq!(&service_config(app, attached), config);
    }
    assert_eq!(diffs(app, &meta, 7), diffs_before);
    let rows_after = stored_configs(app);
    assert_eq!(
        rows_after[..rows_before.len()],
        rows_before[..],
        "no revision row changed"
    );
    let counts = key_ids(app, &format!("kid_new:{new}"));
    assert_eq!(counts.len(), 1, "only the new key is in use: {counts:?}");
    assert_eq!((counts[0].0.as_str(), counts[0].1), ("kid_new", true));
}

fn a_value_under_a_dropped_key_is_reported_by_its_key_id(app: &mut TestApp) {
    let (_, expected) = meta_history(app, "Meta", 2);
    let old_kid = key_ids(app, ENCRYPTION_KEY)[0].0.clone();
    // The old key dropped before any rekey: its values cannot be opened.
    let new = new_key();
    app.restart_with(|s| s.encryption_key = Some(format!("kid_new:{new}")));
    let (attached, _) = &expected[0];
    let reply = rendered(app, Role::Service, attached).expect_error(500, "KEY_UNAVAILABLE");
    assert!(
        reply.body.to_string().contains(&old_kid),
        "names the key id: {}",
        reply.body
    );
    assert_eq!(app.get("/readyz", "").status, 200);
    let report = integrations_server::rekey(
        &app.settings_with(|s| s.encryption_key = Some(format!("kid_new:{new}"))),
        10,
    )
    .expect("rekey runs");
    assert_eq!((report.resealed, report.failed), (0, 2), "{report:?}");
    assert!(report.failures.iter().all(|f| f.kid == old_kid
        && f.place.owner_kind == "revision"
        && !f.reason.contains("token")));
    let counts = key_ids(app, &format!("kid_new:{new}"));
    assert!(counts.contains(&(old_kid, false, 2)), "{counts:?}");
}

fn the_keys_route_counts_the_orgs_own_secrets_per_key(app: &mut TestApp) {
    let admin = app.token("org_a", Role::Admin);
    let old_kid = key_ids(app, ENCRYPTION_KEY)[0].0.clone();
    let empty = app.get("/v1/admin/keys", &admin).expect(200).body;
    assert_eq!(
        empty,
        json!({ "keys": [{ "kid": old_kid, "active": true, "configured": true, "sealed_values": 0 }] })
    );
    // Three revisions, each with its own sealed value (the third echoes the
    // second's: same version, but a row of its own).
    meta_history(app, "Meta", 3);
    // Another org's secrets are not counted.
    let other = app.token("org_b", Role::Owner);
    let t = app
        .post(
            "/v1/admin/integration-templates",
            &other,
            &json!({ "name": "Theirs", "vendor": "meta_capi" }),
        )
        .expect(201)
        .body["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    app.post(
        &format!("/v1/admin/integration-templates/{t}/revisions"),
        &other,
        &json!({ "config": { "pixel_id": "9", "access_token": "theirs" }, "delivery_mode": "server_side" }),
    )
    .expect(201);
    let new = new_key();
    app.restart_with(|s| s.encryption_key = Some(format!("kid_new:{new},{ENCRYPTION_KEY}")));
    let admin = app.token("org_a", Role::Admin);
    let keys = app.get("/v1/admin/keys", &admin).expect(200).body;
    assert_eq!(
        keys,
        json!({ "keys": [
            { "kid": "kid_new", "active": true, "configured": true, "sealed_values": 0 },
            { "kid": old_kid, "active": false, "configured": true, "sealed_values": 3 },
        ] })
    );
    assert!(!keys.to_string().contains(&new) && !keys.to_string().contains(ENCRYPTION_KEY));
    // The old key dropped: its id is still listed, as not configured.
    app.restart_with(|s| s.encryption_key = Some(format!("kid_new:{new}")));
    let keys = app
        .get("/v1/admin/keys", &app.token("org_a", Role::Owner))
        .expect(200)
        .body;
    assert_eq!(
        keys["keys"][1],
        json!({ "kid": old_kid, "active": false, "configured": false, "sealed_values": 3 })
    );
}

fn a_secret_parameter_under_a_dropped_key_is_reported_in_place(app: &mut TestApp) {
    let owner = app.owner();
    let meta = app.template("Meta", "meta_capi");
    let needs = app.revision(
        &meta,
        &json!({ "pixel_id": "1", "access_token": "{{pipeline_param.token}}" }),
    );
    let hook = app.template("Hook", "webhook");
    let plain = app.revision(
        &hook,
        &json!({ "url": "https://example.com/{{pipeline_param.pixel}}" }),
    );
    let pipeline = app
        .create_pipeline(
            &owner,
            &json!({ "name": "P", "parameters": { "pixel": "7" }, "secret_parameters": { "token": "t" } }),
        )
        .expect(201)
        .id();
    let attach = |template: &str, revision: &Value| {
        app.attach(
            &owner,
            &pipeline,
            &json!({ "integration_id": template, "revision_id": id_of(revision) }),
        )
        .expect(201)
        .id()
    };
    let (with_token, without) = (attach(&meta, &needs), attach(&hook, &plain));
    let old_kid = key_ids(app, ENCRYPTION_KEY)[0].0.clone();
    app.restart_with(|s| s.encryption_key = Some(format!("kid_new:{}", new_key())));
    let service = app.token("org_a", Role::Service);
    let one = app
        .attachment_config(&service, &pipeline, &with_token)
        .expect_error(500, "KEY_UNAVAILABLE");
    assert!(one.text.contains(&old_kid), "{}", one.text);
    // The pipeline route renders what it can and reports the rest in place.
    let all = app.pipeline_config(&service, &pipeline).expect(200);
    let entries = all.body["integrations"].as_array().expect("entries");
    let of = |id: &str| entries.iter().find(|e| e["id"] == id).expect("an entry");
    assert_eq!(of(&with_token)["error"]["code"], "KEY_UNAVAILABLE");
    assert_eq!(of(&with_token)["config"], Value::Null);
    assert_eq!(of(&without)["config"]["url"], "https://example.com/7");
    assert_eq!(app.get("/readyz", "").status, 200);
}

crate::api_tests!(
    a_secret_parameter_under_a_dropped_key_is_reported_in_place,
    the_keys_route_counts_the_orgs_own_secrets_per_key,
    rotating_keys_while_serving_keeps_every_secret_and_diff,
    a_value_under_a_dropped_key_is_reported_by_its_key_id,
);

// ----- The real binary: `rekey` killed mid-run, run again; what it cannot open. -----

/// `integrations keys` as rows of (kid, active, configured, sealed values).
fn keys_rows(stdout: &str) -> Vec<(String, bool, bool, u64)> {
    stdout
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            match cells[..] {
                [kid, active, configured, count] => Some((
                    kid.to_owned(),
                    active == "yes",
                    configured == "yes",
                    count.parse().expect("a count"),
                )),
                _ => None,
            }
        })
        .collect()
}

/// Runs `rekey` paused after each batch, and kills it (SIGKILL) in its first pause.
fn kill_after_the_first_batch(mut rekey: std::process::Command) {
    use std::io::{BufRead as _, BufReader};
    use std::process::Stdio;

    let mut rekey = rekey
        .env("INTEGRATIONS_FAULT_REKEY_BATCH_PAUSE_MS", "60000")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rekey starts");
    let stderr = rekey.stderr.take().expect("piped stderr");
    let paused = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains("pausing after a batch"));
    assert!(paused, "rekey reached its first pause");
    rekey.kill().expect("killed");
    rekey.wait().expect("reaped");
}

#[test]
fn rekey_resumes_after_a_kill_and_fails_loudly_on_what_it_cannot_open() {
    use crate::process::{self, Process};

    let db = integrations_testing::TestDb::sqlite();
    let dir = tempfile::tempdir().expect("a folder");
    let data = dir.path().join("data");
    let command = |keyring: (&str, &str)| {
        let mut command = process::command(dir.path());
        command
            .env("DATABASE_URL", db.url())
            .env("DATA_DIR", &data)
            .env("JWT_SECRET", process::SECRET)
            .env(keyring.0, keyring.1);
        command
    };
    let run = |keyring: &str, args: &[&str]| {
        command(("ENCRYPTION_KEYS", keyring))
            .args(args)
            .output()
            .expect("the binary runs")
    };
    // 20 secret parameters sealed under the suite's key.
    let server = Process::start(command(("ENCRYPTION_KEY", process::KEY)));
    let token = process::mint(
        dir.path(),
        &[("JWT_SECRET", process::SECRET)],
        "org_a",
        "ops",
        "editor",
    );
    let secrets: serde_json::Map<String, Value> = (0..20)
        .map(|i| (format!("k{i}"), json!(format!("value-{i}"))))
        .collect();
    server
        .create_pipeline(
            &token,
            &json!({ "name": "P", "secret_parameters": secrets }),
        )
        .expect(201);
    drop(server.stop());
    let both = format!("new:{},{}", new_key(), process::KEY);
    let before = keys_rows(&String::from_utf8_lossy(&run(&both, &["keys"]).stdout));
    let old_kid = before
        .iter()
        .find(|row| row.3 == 20)
        .map(|row| row.0.clone())
        .expect("the old key seals the 20 values");

    // Killed (SIGKILL) while it pauses after its first batch of 5.
    let mut rekey = command(("ENCRYPTION_KEYS", &both));
    rekey.args(["rekey", "--batch", "5"]);
    kill_after_the_first_batch(rekey);
    let midway = keys_rows(&String::from_utf8_lossy(&run(&both, &["keys"]).stdout));
    assert!(
        midway.contains(&("new".to_owned(), true, true, 5)),
        "{midway:?}"
    );
    assert!(
        midway.contains(&(old_kid.clone(), false, true, 15)),
        "{midway:?}"
    );

    // Run again: it finishes what is left, and says so.
    let again = run(&both, &["rekey", "--batch", "5"]);
    let printed = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success(), "{printed}");
    assert!(
        printed.contains("re-sealed 15 values under new"),
        "{printed}"
    );
    let after = keys_rows(&String::from_utf8_lossy(&run(&both, &["keys"]).stdout));
    assert!(
        after.contains(&("new".to_owned(), true, true, 20)),
        "{after:?}"
    );
    assert!(after.contains(&(old_kid, false, true, 0)), "{after:?}");

    // Under a keyring without the key they carry: non-zero, each value named
    // by place and key id, never by value.
    let other = format!("other:{}", new_key());
    let failed = run(&other, &["rekey"]);
    let printed = String::from_utf8_lossy(&failed.stdout);
    assert!(!failed.status.success(), "{printed}");
    assert!(
        printed.contains("20 values could not be opened"),
        "{printed}"
    );
    assert!(
        printed.contains("/secret_parameters/k0: key new"),
        "{printed}"
    );
    assert!(!printed.contains("value-"), "{printed}");
    assert!(String::from_utf8_lossy(&failed.stderr).contains("could not be opened"));

    // A server with that keyring starts, is ready, and warns about the key id.
    let server = Process::start(command(("ENCRYPTION_KEYS", &other)));
    assert_eq!(server.get("/readyz", "").status, 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !server.log().contains("kid") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let log = server.log();
    assert!(
        log.lines()
            .any(|line| line.contains("\"new\"") || line.contains("kid=new")),
        "the start-up check names the key id: {log}"
    );
}
