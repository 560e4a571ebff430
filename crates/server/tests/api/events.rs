//! The change feed over HTTP (docs/api.md, "Events"): what each change
//! appends, the filters and cursors, long polls, config watches, the
//! Server-Sent Events stream, pruning, shutdown, and several processes on
//! one PostgreSQL database.

use std::io::{BufRead as _, BufReader};
use std::time::{Duration, Instant};

use integrations_domain::Role;
use integrations_ports::EventStore as _;
use integrations_store::{DatabaseUrl, DieselStore, PoolOptions};
use serde_json::{Value, json};

use crate::process::{KEY, Process, SECRET, command, mint};
use crate::support::{Reply, TestApp, meta_config, paths};

/// The events of `org_a` after `after` (unfiltered, up to 1,000).
fn events_after(app: &TestApp, after: u64) -> Vec<Value> {
    let reply = app
        .events(&app.owner(), &format!("?after={after}&limit=1000"))
        .expect(200);
    reply.body["events"].as_array().cloned().unwrap_or_default()
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().filter_map(|e| e["type"].as_str()).collect()
}

fn event_seq(reply: &Reply) -> u64 {
    reply
        .header("event-seq")
        .and_then(|v| v.parse().ok())
        .expect("an Event-Seq header")
}

/// Creates a pipeline in `org_a` and returns its id.
fn pipeline(app: &TestApp, name: &str) -> String {
    app.create_pipeline(
        &app.owner(),
        &json!({ "name": name, "parameters": { "PIXEL": "p-secretish" } }),
    )
    .expect(201)
    .id()
}

/// Attaches revision 1 of `template` to `pipeline`; returns the attachment's id.
fn attach(app: &TestApp, pipeline: &str, template: &str) -> String {
    let revision = app.get_revision(&app.owner(), template, 1).expect(200).body;
    app.attach(
        &app.owner(),
        pipeline,
        &json!({ "integration_id": template, "revision_id": revision["id"] }),
    )
    .expect(201)
    .id()
}

fn every_change_appends_one_event_with_its_pipelines_and_no_config(app: &mut TestApp) {
    let token = app.owner();
    let t = app.template("Meta", "meta_capi");
    app.revision(&t, &meta_config());
    let (p1, p2) = (pipeline(app, "Web"), pipeline(app, "App"));
    let pi = attach(app, &p1, &t);
    attach(app, &p2, &t);
    app.revision(&t, &meta_config());
    app.update_template(&token, &t, &json!({ "name": "Meta 2" }))
        .expect(200);
    app.update_pipeline(
        &token,
        &p1,
        &json!({ "parameters": { "PIXEL": "changed-value" } }),
    )
    .expect(200);
    app.update_attachment(&token, &p1, &pi, &json!({ "enabled": false }))
        .expect(200);
    app.detach(&token, &p1, &pi).expect(200);
    app.delete_pipeline(&token, &p2).expect(200);
    // A refused change appends nothing.
    app.create_template(&token, &json!({ "name": "", "vendor": "ga4" }))
        .expect(422);

    let reply = app.events(&token, "").expect(200);
    let body = &reply.body;
    let events = body["events"].as_array().expect("events");
    assert_eq!(
        types(events),
        [
            "template.created",
            "revision.created",
            "pipeline.created",
            "pipeline.created",
            "pipeline_integration.attached",
            "pipeline_integration.attached",
            "revision.created",
            "template.updated",
            "pipeline.updated",
            "pipeline_integration.updated",
            "pipeline_integration.detached",
            "pipeline_integration.detached",
            "pipeline.deleted",
        ]
    );
    let seqs: Vec<u64> = events.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert_eq!(
        seqs,
        (1..=13).collect::<Vec<u64>>(),
        "numbered in commit order"
    );
    assert_eq!(body["next"], 13);
    assert_eq!(event_seq(&reply), 13);
    let mut pins = vec![p1.clone(), p2.clone()];
    pins.sort();
    // A revision of a pinned template lists the pipelines pinning it.
    assert_eq!(
        events[1]["pipeline_ids"],
        json!([]),
        "nothing pinned the template yet"
    );
    assert_eq!(events[6]["pipeline_ids"], json!(pins));
    assert_eq!(events[6]["resource_type"], "revision");
    assert_eq!(events[6]["data"]["revision_number"], 2);
    assert_eq!(events[6]["data"]["template_id"], t.as_str());
    assert_eq!(events[7]["pipeline_ids"], json!(pins));
    assert_eq!(events[8]["pipeline_ids"], json!([p1]));
    assert_eq!(events[9]["resource_type"], "pipeline_integration");
    assert_eq!(events[9]["resource_id"], pi.as_str());
    assert_eq!(events[9]["data"]["enabled"], false);
    assert_eq!(events[12]["resource_id"], p2.as_str());
    for event in events {
        assert_eq!(event["org_id"], "org_a");
        assert_eq!(event["actor"], "user_123");
        assert!(
            event["id"]
                .as_str()
                .is_some_and(|id| id.starts_with("evt_"))
        );
        assert!(event["at"].as_str().is_some());
    }
    let text = &reply.text;
    for private in [
        "canary",
        "p-secretish",
        "changed-value",
        "access_token",
        "pixel_id",
    ] {
        assert!(!text.contains(private), "an event holds {private}: {text}");
    }
    // Another org has a feed of its own.
    let other = app.token("org_b", Role::Viewer);
    let empty = app.events(&other, "").expect(200);
    assert_eq!(empty.body, json!({ "events": [], "next": 0 }));
    assert_eq!(event_seq(&empty), 0);
}

fn filters_and_cursors(app: &mut TestApp) {
    let token = app.owner();
    let t = app.template("Meta", "meta_capi");
    app.revision(&t, &meta_config());
    let p1 = pipeline(app, "Web");
    let p2 = pipeline(app, "App");
    attach(app, &p1, &t);
    app.delete_pipeline(&token, &p1).expect(200);
    // 1 template, 2 revision, 3-4 pipelines, 5 attach, 6 detach, 7 delete.
    let only = app
        .events(&token, "?types=pipeline.created,pipeline.deleted")
        .expect(200)
        .body;
    assert_eq!(
        types(only["events"].as_array().expect("events")),
        ["pipeline.created", "pipeline.created", "pipeline.deleted"]
    );
    assert_eq!(only["next"], 7, "the highest seq examined");
    // A deleted pipeline's events stay readable by its id.
    let mine = app
        .events(&token, &format!("?pipeline_id={p1}"))
        .expect(200)
        .body;
    let seqs: Vec<u64> = mine["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["seq"].as_u64())
        .collect();
    assert_eq!(seqs, [3, 5, 6, 7]);
    let none = app
        .events(&token, "?pipeline_id=pip_01ARZ3NDEKTSV4RRFFQ69G5FAV")
        .expect(200)
        .body;
    assert_eq!(
        none,
        json!({ "events": [], "next": 7 }),
        "a filtered reader moves on"
    );
    // A limit stops at the last event returned, so nothing is skipped.
    let first = app
        .events(&token, &format!("?pipeline_id={p2}&limit=1"))
        .expect(200)
        .body;
    assert_eq!(first["events"][0]["seq"], 4);
    assert_eq!(first["next"], 4);
    let page = app.events(&token, "?after=2&limit=2").expect(200).body;
    assert_eq!(
        (page["events"][0]["seq"].as_u64(), page["next"].as_u64()),
        (Some(3), Some(4))
    );
    // Beyond the newest: nothing, and `next` stays.
    assert_eq!(
        app.events(&token, "?after=99").expect(200).body,
        json!({ "events": [], "next": 99 })
    );
    // Every role reads the feed, `service` included.
    for role in [Role::Viewer, Role::Service] {
        app.events(&app.token("org_a", role), "?limit=1")
            .expect(200);
    }
}

fn bad_queries_are_refused_and_change_nothing(app: &mut TestApp) {
    let token = app.owner();
    for (query, field) in [
        ("?after=-1", "after"),
        ("?limit=0", "limit"),
        ("?limit=1001", "limit"),
        ("?types=template.created,template.exploded", "types"),
        (
            "?pipeline_id=tmpl_01ARZ3NDEKTSV4RRFFQ69G5FAV",
            "pipeline_id",
        ),
        ("?wait=61", "wait"),
        ("?wait=-1", "wait"),
    ] {
        let reply = app
            .events(&token, query)
            .expect_error(422, "VALIDATION_FAILED");
        assert_eq!(reply.first_field(), field, "{query}");
    }
    app.events(&token, "?after=abc").expect(400);
    app.events(&token, &format!("?types={}", "x".repeat(5000)))
        .expect(422);
    app.send_raw("GET", paths::EVENTS, None, &[], None)
        .expect(401);
    let stream = [("Accept", "text/event-stream"), ("Last-Event-ID", "seven")];
    let reply = app.send_raw("GET", paths::EVENTS, Some(&token), &stream, None);
    assert_eq!(
        reply.expect_error(422, "VALIDATION_FAILED").first_field(),
        "Last-Event-ID"
    );
    let config = app.send_raw(
        "GET",
        &format!(
            "{}?wait=100",
            paths::pipeline_config("pip_01ARZ3NDEKTSV4RRFFQ69G5FAV")
        ),
        Some(&token),
        &[("If-None-Match", "\"x\"")],
        None,
    );
    assert_eq!(
        config.expect_error(422, "VALIDATION_FAILED").first_field(),
        "wait"
    );
    app.send_raw("POST", paths::EVENTS, Some(&token), &[], None)
        .expect(405);
    assert_eq!(events_after(app, 0), Vec::<Value>::new());
}

/// Runs `request` on another thread while `change` runs here after a short
/// pause; returns the request's reply.
fn while_held(
    app: &TestApp,
    request: impl FnOnce(crate::support::Client) -> Reply + Send + 'static,
    change: impl FnOnce(),
) -> Reply {
    let client = crate::support::Client::new(app.base.clone());
    let held = std::thread::spawn(move || request(client));
    std::thread::sleep(Duration::from_millis(500));
    change();
    held.join().expect("the held request")
}

fn a_long_poll_is_released_by_a_matching_change(app: &mut TestApp) {
    let token = app.owner();
    let p = pipeline(app, "Web");
    let other = pipeline(app, "Other");
    let (t1, held) = (token.clone(), p.clone());
    // Held past an event that does not match, released by one that does.
    let reply = while_held(
        app,
        move |client| client.events(&t1, &format!("?after=2&wait=30&pipeline_id={held}")),
        || {
            app.update_pipeline(&token, &other, &json!({ "description": "not this one" }))
                .expect(200);
            std::thread::sleep(Duration::from_millis(300));
            app.update_pipeline(&token, &p, &json!({ "description": "this one" }))
                .expect(200);
        },
    )
    .expect(200);
    let events = reply.body["events"].as_array().expect("events").clone();
    assert_eq!(types(&events), ["pipeline.updated"]);
    assert_eq!(events[0]["seq"], 4);
    assert_eq!(reply.body["next"], 4);
    // Nothing comes: an empty answer after `wait`, `next` unchanged.
    let quiet = app.events(&token, "?after=4&wait=1").expect(200);
    assert_eq!(quiet.body, json!({ "events": [], "next": 4 }));
}

fn a_config_watch_is_released_when_the_config_changes(app: &mut TestApp) {
    let token = app.owner();
    let t = app.template("Meta", "meta_capi");
    app.revision(&t, &meta_config());
    let p = pipeline(app, "Web");
    let pi = attach(app, &p, &t);
    let first = app.pipeline_config(&token, &p).expect(200);
    let etag = first.header("etag").expect("an ETag").to_owned();
    assert_eq!(event_seq(&first), 4, "template, revision, pipeline, attach");
    let path = format!("{}?wait=30", paths::pipeline_config(&p));
    let (t1, e1, path1) = (token.clone(), etag.clone(), path.clone());
    let reply = while_held(
        app,
        move |client| client.send_raw("GET", &path1, Some(&t1), &[("If-None-Match", &e1)], None),
        || {
            // A new revision of the pinned template does not change the
            // rendered config (the pin stays at revision 1)…
            app.revision(&t, &meta_config());
            std::thread::sleep(Duration::from_millis(300));
            // …disabling the integration does.
            app.update_attachment(&token, &p, &pi, &json!({ "enabled": false }))
                .expect(200);
        },
    )
    .expect(200);
    assert_ne!(reply.header("etag"), Some(etag.as_str()));
    assert_eq!(reply.body["integrations"], json!([]));
    assert_eq!(event_seq(&reply), 6);
    // Unchanged for `wait` seconds: 304 with the ETag.
    let now = reply.header("etag").expect("an ETag").to_owned();
    let held = app.send_raw(
        "GET",
        &format!("{}?wait=1", paths::pipeline_config(&p)),
        Some(&token),
        &[("If-None-Match", &now)],
        None,
    );
    assert_eq!(
        (held.status, held.header("etag")),
        (304, Some(now.as_str()))
    );
    // Without If-None-Match, `wait` is ignored.
    app.send_raw("GET", &path, Some(&token), &[], None)
        .expect(200);
}

/// Reads a Server-Sent Events stream until `frames` events came; returns
/// each as (id, event, data).
fn read_stream(
    base: &str,
    token: &str,
    query: &str,
    last_id: Option<&str>,
    frames: usize,
) -> Vec<(String, String, Value)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into();
    let mut request = agent
        .get(format!("{base}{}{query}", paths::EVENTS))
        .header("Authorization", format!("Bearer {token}"))
        .header("Accept", "text/event-stream");
    if let Some(id) = last_id {
        request = request.header("Last-Event-ID", id);
    }
    let response = request.call().expect("the stream opens");
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let mut lines = BufReader::new(response.into_body().into_reader()).lines();
    let mut out = Vec::new();
    let (mut id, mut event) = (String::new(), String::new());
    while out.len() < frames {
        let line = lines.next().expect("the stream goes on").expect("a line");
        if let Some(v) = line.strip_prefix("id: ") {
            v.clone_into(&mut id);
        } else if let Some(v) = line.strip_prefix("event: ") {
            v.clone_into(&mut event);
        } else if let Some(v) = line.strip_prefix("data: ") {
            out.push((
                id.clone(),
                event.clone(),
                serde_json::from_str(v).expect("JSON data"),
            ));
        }
    }
    out
}

fn a_stream_sends_events_as_they_commit_and_resumes_from_last_event_id(app: &mut TestApp) {
    let token = app.owner();
    pipeline(app, "One");
    pipeline(app, "Two");
    let (base, t1) = (app.base.clone(), token.clone());
    let streamed = std::thread::spawn(move || read_stream(&base, &t1, "?after=0", Some("1"), 2));
    std::thread::sleep(Duration::from_millis(500));
    let third = pipeline(app, "Three");
    let frames = streamed.join().expect("the stream");
    assert_eq!(
        frames[0].0, "2",
        "resumed after Last-Event-ID, which wins over after"
    );
    assert_eq!(
        (frames[1].0.as_str(), frames[1].1.as_str()),
        ("3", "pipeline.created")
    );
    assert_eq!(frames[1].2["resource_id"], third.as_str());
    // Filters apply to a stream too.
    let only = read_stream(
        &app.base,
        &token,
        &format!("?types=pipeline.created&pipeline_id={third}"),
        None,
        1,
    );
    assert_eq!(only[0].0, "3");
}

/// An idle stream says it is alive: a comment line every 15 s, before the
/// client's or a proxy's idle timeout would cut it. (The route's own timer,
/// so one backend is enough.)
#[test]
fn an_idle_stream_sends_a_heartbeat_comment() {
    let app = TestApp::spawn(integrations_testing::Backend::Sqlite).expect("SQLite");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(25)))
        .build()
        .into();
    let response = agent
        .get(format!("{}{}?after=0", app.base, paths::EVENTS))
        .header("Authorization", format!("Bearer {}", app.owner()))
        .header("Accept", "text/event-stream")
        .call()
        .expect("the stream opens");
    let opened = Instant::now();
    let mut lines = BufReader::new(response.into_body().into_reader()).lines();
    let heartbeat = loop {
        let line = lines.next().expect("the stream goes on").expect("a line");
        if line.starts_with(':') {
            break line;
        }
    };
    assert_eq!(heartbeat, ": heartbeat");
    // Not sooner: a heartbeat fills silence, it is not a stream of its own.
    let waited = opened.elapsed();
    assert!(
        waited >= Duration::from_secs(14),
        "a heartbeat after {waited:?} of silence"
    );
}

/// A stream ends when the token it was opened with expires (the client
/// reconnects, and an expired token is refused then): it never goes on
/// serving a caller whose sign-in has ended.
#[test]
fn a_stream_ends_when_its_token_expires() {
    let app = TestApp::spawn(integrations_testing::Backend::Sqlite).expect("SQLite");
    // Accepted until its expiry plus 30 s of leeway: 2 s from now.
    let token = app.aged_token(Role::Viewer, 30, Duration::from_secs(2));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(12)))
        .build()
        .into();
    let response = agent
        .get(format!("{}{}?after=0", app.base, paths::EVENTS))
        .header("Authorization", format!("Bearer {token}"))
        .header("Accept", "text/event-stream")
        .call()
        .expect("the stream opens");
    let mut body = String::new();
    std::io::Read::read_to_string(&mut response.into_body().into_reader(), &mut body)
        .expect("the stream ends, not the client's timeout");
    assert!(body.starts_with("retry: 1000"), "{body}");
    assert!(
        !body.contains("heartbeat"),
        "it ended before any heartbeat: {body}"
    );
}

fn a_cursor_below_the_pruned_events_is_410_and_an_up_to_date_one_is_not(app: &mut TestApp) {
    let token = app.owner();
    for name in ["A", "B", "C"] {
        pipeline(app, name);
    }
    let url = DatabaseUrl::parse(app.db.url()).expect("a URL");
    let store = DieselStore::open(&url, PoolOptions::for_url(&url)).expect("the store");
    let tomorrow = time::OffsetDateTime::now_utc() + time::Duration::days(1);
    assert_eq!(store.prune_events(tomorrow, 2).expect("pruned"), 2);
    let expired = app
        .events(&token, "?after=0")
        .expect_error(410, "CURSOR_EXPIRED");
    assert_eq!(
        expired.body["error"]["details"],
        json!([{ "field": "after", "problem": "expired", "oldest": 3 }])
    );
    // after = the pruned-through seq: up to date, nothing missed.
    assert_eq!(events_after(app, 2).len(), 1);
    // Without after: from the oldest kept.
    assert_eq!(
        app.events(&token, "").expect(200).body["events"][0]["seq"],
        3
    );
    assert_eq!(store.prune_events(tomorrow, 10).expect("pruned"), 1);
    // All pruned: behind is 410, up to date is an empty answer.
    let gone = app
        .events(&token, "?after=2")
        .expect_error(410, "CURSOR_EXPIRED");
    assert_eq!(gone.body["error"]["details"][0]["oldest"], 4);
    assert_eq!(
        app.events(&token, "?after=3").expect(200).body,
        json!({ "events": [], "next": 3 })
    );
    // A stream refuses an expired cursor before it starts.
    let stream = [("Accept", "text/event-stream")];
    app.send_raw(
        "GET",
        &format!("{}?after=1", paths::EVENTS),
        Some(&token),
        &stream,
        None,
    )
    .expect_error(410, "CURSOR_EXPIRED");
    // The numbers go on.
    pipeline(app, "D");
    assert_eq!(events_after(app, 3)[0]["seq"], 4);
}

/// A poll right after a change made through the same process never gets the
/// old ETag from memory, even before the feed has published the change.
fn a_poll_right_after_a_change_is_never_answered_from_memory(app: &mut TestApp) {
    let token = app.owner();
    let t = app.template("Meta", "meta_capi");
    app.revision(&t, &meta_config());
    let p = pipeline(app, "Web");
    attach(app, &p, &t);
    let mut etag = app
        .pipeline_config(&token, &p)
        .expect(200)
        .header("etag")
        .expect("an ETag")
        .to_owned();
    let poll = |etag: &str| {
        app.send_raw(
            "GET",
            &paths::pipeline_config(&p),
            Some(&token),
            &[("If-None-Match", etag)],
            None,
        )
    };
    // Remembered: the same ETag again is a 304 (from memory once the feed is fresh).
    assert_eq!(poll(&etag).status, 304);
    for n in 0..20 {
        app.update_pipeline(
            &token,
            &p,
            &json!({ "parameters": { "PIXEL": n.to_string() } }),
        )
        .expect(200);
        let changed = poll(&etag).expect(200);
        let now = changed.header("etag").expect("an ETag").to_owned();
        assert_ne!(now, etag, "change {n}");
        etag = now;
        assert_eq!(poll(&etag).status, 304);
    }
}

/// `org_a` gets `count` events numbered 1 to `count` straight in the table
/// (thousands through the API would take minutes): `pipeline.updated`
/// events that name no pipeline.
fn backlog(app: &TestApp, count: u64) {
    let rows = match app.db.backend() {
        integrations_testing::Backend::Sqlite => format!(
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {count}) \
             INSERT INTO events (org_id, seq, id, type, resource_type, resource_id, pipeline_ids, actor, at, data) \
             SELECT 'org_a', n, 'evt_01KBZ0N4XW5D7Q2V6T' || printf('%08d', n), 'pipeline.updated', \
             'pipeline', 'pip_01KBZ0N4XW5D7Q2V6T3M9R8P1A', '[]', 'user_123', \
             strftime('%Y-%m-%d %H:%M:%f', 'now'), '{{}}' FROM g;"
        ),
        integrations_testing::Backend::Postgres => format!(
            "INSERT INTO events (org_id, seq, id, type, resource_type, resource_id, pipeline_ids, actor, at, data) \
             SELECT 'org_a', g, 'evt_01KBZ0N4XW5D7Q2V6T' || lpad(g::text, 8, '0'), 'pipeline.updated', \
             'pipeline', 'pip_01KBZ0N4XW5D7Q2V6T3M9R8P1A', '[]', 'user_123', \
             now() AT TIME ZONE 'UTC', '{{}}' FROM generate_series(1, {count}) g;"
        ),
    };
    app.db
        .execute(&format!(
            "{rows} INSERT INTO event_seqs (org_id, last_seq) VALUES ('org_a', {count}) \
             ON CONFLICT (org_id) DO UPDATE SET last_seq = excluded.last_seq;"
        ))
        .expect("the backlog is written");
}

/// A filter that matches nothing over a backlog three times the bound: a
/// held poll answers its empty page with `next` once it examined the bound
/// (rather than reading the whole backlog, then waiting out `wait`), and a
/// stream sends a checkpoint (`id:` without an event) after each bound's
/// worth of events. Nothing here is timed: without the bound, the poll
/// would answer `next` = the whole backlog, and the stream would send no
/// `id:` line at all.
fn a_filter_that_matches_nothing_examines_a_bounded_number_of_events(app: &mut TestApp) {
    let bound = integrations_app::MAX_EXAMINED;
    let total = 3 * bound + 17;
    backlog(app, total);
    let token = app.owner();
    let reply = app
        .events(&token, "?after=0&types=rollout.applied&wait=30")
        .expect(200);
    assert_eq!(reply.body["events"], json!([]));
    let next = reply.body["next"].as_u64().expect("next");
    assert!((bound..total).contains(&next), "next {next}");
    assert_eq!(event_seq(&reply), total);
    // The next poll goes on from there, one bound further.
    let again = app
        .events(
            &token,
            &format!("?after={next}&types=rollout.applied&wait=30"),
        )
        .expect(200);
    let further = again.body["next"].as_u64().expect("next");
    assert!(further > next && further < total, "{next} then {further}");
    // A stream: checkpoints, each at most a bound's worth further on.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let response = agent
        .get(format!(
            "{}{}?after=0&types=rollout.applied",
            app.base,
            paths::EVENTS
        ))
        .header("Authorization", format!("Bearer {token}"))
        .header("Accept", "text/event-stream")
        .call()
        .expect("the stream opens");
    let mut lines = BufReader::new(response.into_body().into_reader()).lines();
    let mut checkpoints = Vec::new();
    while checkpoints.len() < 3 {
        let line = lines.next().expect("the stream goes on").expect("a line");
        assert!(!line.starts_with("data:"), "no event matches: {line}");
        if let Some(id) = line.strip_prefix("id: ") {
            checkpoints.push(id.parse::<u64>().expect("a number"));
        }
    }
    let mut last = 0;
    for seq in &checkpoints {
        assert!(*seq > last && *seq - last <= 2 * bound, "{checkpoints:?}");
        last = *seq;
    }
    assert!(last <= total, "{checkpoints:?}");
}

/// A user (org and `sub`) holds at most `MAX_HELD_REQUESTS_PER_USER`
/// requests open at once — long polls, config watches, streams together —
/// then gets 429 with `Retry-After`; requests that are not held, other
/// users, and the same name in another org are not affected, and a place
/// is given back when its request answers. The places are held through the
/// app itself, so nothing here depends on timing.
fn held_requests_are_capped_per_user(app: &mut TestApp) {
    use integrations_domain::{Caller, OrgId, UserId};
    let max = crate::support::HELD_PER_USER;
    let t = app.template("Meta", "meta_capi");
    app.revision(&t, &meta_config());
    let p = pipeline(app, "Web");
    attach(app, &p, &t);
    let token = app.owner();
    let caller = Caller {
        org: OrgId::parse("org_a").expect("an org"),
        user: UserId::parse("user_123").expect("a user"),
        role: Role::Owner,
    };
    let mut held: Vec<_> = (0..max)
        .map(|_| app.app.hold(&caller).expect("a place"))
        .collect();
    let refused = app
        .events(&token, "?after=4&wait=30")
        .expect_error(429, "RATE_LIMITED");
    assert_eq!(refused.header("retry-after"), Some("5"));
    // Answers that are not held are given as ever, by any token of the user.
    let viewer = app.token("org_a", Role::Viewer);
    assert_eq!(events_after(app, 0).len(), 4);
    let at_once = app.events(&viewer, "?after=0&wait=30").expect(200);
    assert_eq!(at_once.body["events"].as_array().map(Vec::len), Some(4));
    app.events(&viewer, "?after=4&wait=30")
        .expect_error(429, "RATE_LIMITED");
    let etag = app
        .pipeline_config(&token, &p)
        .expect(200)
        .header("etag")
        .expect("an ETag")
        .to_owned();
    let watch = format!("{}?wait=30", paths::pipeline_config(&p));
    app.send_raw(
        "GET",
        &watch,
        Some(&token),
        &[("If-None-Match", &etag)],
        None,
    )
    .expect_error(429, "RATE_LIMITED");
    let stream = [("Accept", "text/event-stream")];
    app.send_raw("GET", paths::EVENTS, Some(&token), &stream, None)
        .expect_error(429, "RATE_LIMITED");
    // Another user, and the same user name in another org, are counted apart.
    let other = app.token_for("org_a", "user_456", Role::Viewer);
    app.events(&other, "?after=4&wait=1").expect(200);
    let elsewhere = app.token_for("org_b", "user_123", Role::Viewer);
    app.events(&elsewhere, "?after=0&wait=1").expect(200);
    // A place given back is the next request's, and is given back with
    // its answer.
    drop(held.pop());
    let quiet = app.events(&token, "?after=4&wait=1").expect(200);
    assert_eq!(quiet.body["events"], json!([]));
    let again = app.app.hold(&caller).expect("given back with the answer");
    assert!(app.app.hold(&caller).is_err(), "the cap is reached");
    // A stream holds its place while it is open.
    drop(again);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let response = agent
        .get(format!("{}{}?after=4", app.base, paths::EVENTS))
        .header("Authorization", format!("Bearer {token}"))
        .header("Accept", "text/event-stream")
        .call()
        .expect("the stream opens");
    let mut lines = BufReader::new(response.into_body().into_reader()).lines();
    let first = lines.next().expect("a line").expect("a line");
    assert_eq!(first, "retry: 1000");
    assert!(
        app.app.hold(&caller).is_err(),
        "the stream holds the last place"
    );
    drop(held);
}

crate::api_tests!(
    held_requests_are_capped_per_user,
    a_filter_that_matches_nothing_examines_a_bounded_number_of_events,
    every_change_appends_one_event_with_its_pipelines_and_no_config,
    filters_and_cursors,
    bad_queries_are_refused_and_change_nothing,
    a_long_poll_is_released_by_a_matching_change,
    a_config_watch_is_released_when_the_config_changes,
    a_stream_sends_events_as_they_commit_and_resumes_from_last_event_id,
    a_cursor_below_the_pruned_events_is_410_and_an_up_to_date_one_is_not,
    a_poll_right_after_a_change_is_never_answered_from_memory,
);

/// Two (or more) server processes over one PostgreSQL test database.
fn processes(
    db: &integrations_testing::TestDb,
    count: usize,
) -> (tempfile::TempDir, Vec<Process>, String) {
    let dir = tempfile::tempdir().expect("a folder");
    let variables = [
        ("DATABASE_URL", db.url()),
        ("JWT_SECRET", SECRET),
        ("ENCRYPTION_KEY", KEY),
        ("RATE_LIMIT_PER_MINUTE", "0"),
    ];
    let servers = (0..count)
        .map(|_| {
            Process::start({
                let mut command = command(dir.path());
                command.envs(variables);
                command
            })
        })
        .collect();
    let token = mint(dir.path(), &variables, "org_a", "writer", "owner");
    (dir, servers, token)
}

/// Long-polls `server` from `after` until `total` events were seen; returns
/// their seqs in the order served.
fn tail(client: &crate::support::Client, token: &str, total: usize) -> Vec<u64> {
    let mut seen = Vec::with_capacity(total);
    let mut after = 0;
    let deadline = Instant::now() + Duration::from_secs(300);
    while seen.len() < total {
        assert!(
            Instant::now() < deadline,
            "only {} of {total} events came",
            seen.len()
        );
        let body = client
            .events(token, &format!("?after={after}&limit=1000&wait=5"))
            .expect(200)
            .body;
        for event in body["events"].as_array().expect("events") {
            seen.push(event["seq"].as_u64().expect("a seq"));
        }
        after = body["next"].as_u64().expect("next");
    }
    seen
}

#[test]
fn a_change_through_one_process_releases_waiters_on_another() {
    let Some(db) = integrations_testing::TestDb::on(integrations_testing::Backend::Postgres) else {
        return;
    };
    let (_dir, servers, token) = processes(&db, 2);
    let p = servers[0]
        .create_pipeline(&token, &json!({ "name": "Web", "parameters": {} }))
        .expect(201)
        .id();
    let etag = servers[1]
        .pipeline_config(&token, &p)
        .expect(200)
        .header("etag")
        .expect("an ETag")
        .to_owned();
    let watcher = crate::support::Client::new(servers[1].base.clone());
    let poller = crate::support::Client::new(servers[1].base.clone());
    let (tw, tp, pw) = (token.clone(), token.clone(), p.clone());
    let watch = std::thread::spawn(move || {
        watcher.send_raw(
            "GET",
            &format!("{}?wait=30", paths::pipeline_config(&pw)),
            Some(&tw),
            &[("If-None-Match", &etag)],
            None,
        )
    });
    let poll = std::thread::spawn(move || poller.events(&tp, "?after=1&wait=30"));
    std::thread::sleep(Duration::from_millis(500));
    servers[0]
        .update_pipeline(&token, &p, &json!({ "parameters": { "PIXEL": "2" } }))
        .expect(200);
    let long_poll = poll.join().expect("the long poll").expect(200);
    assert_eq!(
        types(long_poll.body["events"].as_array().expect("events")),
        ["pipeline.updated"]
    );
    let released = watch.join().expect("the watch").expect(200);
    assert_eq!(released.body["integrations"], json!([]));
    assert_eq!(event_seq(&released), 2);
    // The other process's metrics show its listening connection.
    let metrics = ureq::get(format!("{}/metrics", servers[1].base))
        .call()
        .expect("metrics")
        .into_body()
        .read_to_string()
        .expect("text");
    assert!(metrics.contains("feed_listener_up 1"), "{metrics}");
}

/// The ordering proof: 8 writers in 2 processes commit 2,000 changes while
/// 4 readers (2 per process) tail the feed with long polls; every reader
/// sees every event exactly once, in `seq` order.
#[test]
fn every_reader_sees_every_event_once_in_order_under_writers_in_two_processes() {
    const WRITERS: usize = 8;
    const CHANGES_EACH: usize = 250;
    const TOTAL: usize = WRITERS * CHANGES_EACH;
    let Some(db) = integrations_testing::TestDb::on(integrations_testing::Backend::Postgres) else {
        return;
    };
    let (_dir, servers, token) = processes(&db, 2);
    let bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
    let readers: Vec<_> = (0..4)
        .map(|r| {
            let (client, token) = (
                crate::support::Client::new(bases[r % 2].clone()),
                token.clone(),
            );
            std::thread::spawn(move || tail(&client, &token, TOTAL))
        })
        .collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (client, token) = (
                crate::support::Client::new(bases[w % 2].clone()),
                token.clone(),
            );
            std::thread::spawn(move || {
                let p = client
                    .create_pipeline(
                        &token,
                        &json!({ "name": format!("W{w}"), "parameters": {} }),
                    )
                    .expect(201)
                    .id();
                for n in 1..CHANGES_EACH {
                    client
                        .update_pipeline(
                            &token,
                            &p,
                            &json!({ "parameters": { "N": n.to_string() } }),
                        )
                        .expect(200);
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().expect("a writer");
    }
    let expected: Vec<u64> = (1..=TOTAL as u64).collect();
    for reader in readers {
        let seen = reader.join().expect("a reader");
        assert_eq!(seen.len(), TOTAL);
        assert!(
            seen == expected,
            "a reader saw events out of order, twice or not at all"
        );
    }
}

#[test]
fn sigterm_answers_held_requests_at_once() {
    let dir = tempfile::tempdir().expect("a folder");
    let variables = [("JWT_SECRET", SECRET), ("ENCRYPTION_KEY", KEY)];
    let mut server = Process::start({
        let mut command = command(dir.path());
        command.envs(variables);
        command
    });
    let token = mint(dir.path(), &variables, "org_a", "ada", "viewer");
    let client = crate::support::Client::new(server.base.clone());
    let held = std::thread::spawn(move || {
        let started = Instant::now();
        (client.events(&token, "?after=0&wait=60"), started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        server.terminate().success(),
        "SIGTERM exits 0: {}",
        server.log()
    );
    let (reply, took) = held.join().expect("the held request");
    assert_eq!(reply.expect(200).body, json!({ "events": [], "next": 0 }));
    assert!(
        took < Duration::from_secs(30),
        "answered at shutdown, not after its wait: {took:?}"
    );
}

/// The listening connections dropped (a PostgreSQL restart, a proxy): the
/// processes stay ready, and a change through one still releases a waiter
/// on the other — through the periodic check, or the reconnected channel.
#[test]
fn waiters_are_released_while_the_listening_connection_is_down() {
    let Some(db) = integrations_testing::TestDb::on(integrations_testing::Backend::Postgres) else {
        return;
    };
    let (_dir, servers, token) = processes(&db, 2);
    let p = servers[0]
        .create_pipeline(&token, &json!({ "name": "Web", "parameters": {} }))
        .expect(201)
        .id();
    let terminated = db.texts(
        "SELECT pg_terminate_backend(pid)::text AS value FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = 'integrations-listener'",
    );
    assert_eq!(
        terminated,
        ["true", "true"],
        "one listening connection per process"
    );
    let poller = crate::support::Client::new(servers[1].base.clone());
    let held = token.clone();
    let poll = std::thread::spawn(move || poller.events(&held, "?after=1&wait=30"));
    std::thread::sleep(Duration::from_millis(300));
    servers[0]
        .update_pipeline(&token, &p, &json!({ "description": "changed" }))
        .expect(200);
    let released = poll.join().expect("the long poll").expect(200);
    assert_eq!(
        types(released.body["events"].as_array().expect("events")),
        ["pipeline.updated"]
    );
    for server in &servers {
        let ready = ureq::get(format!("{}/readyz", server.base))
            .call()
            .expect("readyz");
        assert_eq!(ready.status().as_u16(), 200);
    }
}
