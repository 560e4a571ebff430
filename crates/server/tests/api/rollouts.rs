//! Rollouts over HTTP (docs/api.md, "Rollouts"): previews that render,
//! check and diff each pipeline's config; applies all or nothing; the pins a
//! rollout finds moved meanwhile; rollbacks; lists; events and audit.

use integrations_domain::Role;
use serde_json::{Value, json};

use crate::support::{Reply, TestApp};

fn rollouts(template: &str) -> String {
    format!("/v1/admin/integration-templates/{template}/rollouts")
}

/// A Meta CAPI template whose revision 1 fills the pixel from a parameter
/// and whose revision 2 also fills the batch size and the action source
/// from parameters (and rotates the token); returns (template, rev 1 id,
/// rev 2 id).
fn template(app: &TestApp) -> (String, String, String) {
    let t = app.template("Meta", "meta_capi");
    let one = app.revision(
        &t,
        &json!({ "pixel_id": "{{pipeline_param.PIXEL}}", "access_token": "EAAB-token-one", "batch_size": 100 }),
    );
    let two = app.revision(
        &t,
        &json!({
            "pixel_id": "{{pipeline_param.PIXEL}}", "access_token": "EAAB-token-two",
            "batch_size": "{{pipeline_param.BATCH}}", "action_source": "{{pipeline_param.SOURCE}}",
        }),
    );
    (
        t,
        one["id"].as_str().expect("id").to_owned(),
        two["id"].as_str().expect("id").to_owned(),
    )
}

/// A pipeline with `parameters` pinning `revision` of `template`: (pipeline, pin).
fn pinned(
    app: &TestApp,
    name: &str,
    parameters: &Value,
    template: &str,
    revision: &str,
) -> (String, String) {
    let token = app.owner();
    let p = app
        .create_pipeline(&token, &json!({ "name": name, "parameters": parameters }))
        .expect(201)
        .id();
    let pin = app
        .attach(
            &token,
            &p,
            &json!({ "integration_id": template, "revision_id": revision }),
        )
        .expect(201)
        .id();
    (p, pin)
}

fn pinned_at(app: &TestApp, pipeline: &str, pin: &str) -> u64 {
    app.get_attachment(&app.owner(), pipeline, pin)
        .expect(200)
        .body["revision_number"]
        .as_u64()
        .expect("a number")
}

fn row<'a>(reply: &'a Reply, pipeline: &str) -> &'a Value {
    reply.body["pipelines"]
        .as_array()
        .expect("pipelines")
        .iter()
        .find(|row| row["pipeline_id"] == pipeline)
        .expect("the pipeline's row")
}

fn start(app: &TestApp, token: &str, template: &str, body: &Value) -> Reply {
    app.post(&rollouts(template), token, body)
}

fn event_types(app: &TestApp, after: u64) -> Vec<(String, Value)> {
    app.events(&app.owner(), &format!("?after={after}&limit=1000"))
        .expect(200)
        .body["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap_or_default().to_owned(),
                e["pipeline_ids"].clone(),
            )
        })
        .collect()
}

fn newest_seq(app: &TestApp) -> u64 {
    app.events(&app.owner(), "?limit=1000").expect(200).body["next"]
        .as_u64()
        .expect("next")
}

#[expect(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
fn a_preview_renders_checks_and_diffs_every_pipeline_and_changes_nothing(app: &mut TestApp) {
    let (t, one, two) = template(app);
    let (good, good_pin) = pinned(
        app,
        "Good",
        &json!({ "PIXEL": "111", "BATCH": 50, "SOURCE": "website" }),
        &t,
        &one,
    );
    let (bad, _) = pinned(
        app,
        "Bad",
        &json!({ "PIXEL": "222", "BATCH": "abc", "SOURCE": "mars" }),
        &t,
        &one,
    );
    let (lacking, _) = pinned(app, "Lacking", &json!({ "PIXEL": "333" }), &t, &one);
    // Already at the target: not moved by default.
    let (current, _) = pinned(
        app,
        "Current",
        &json!({ "PIXEL": "444", "BATCH": 1, "SOURCE": "app" }),
        &t,
        &two,
    );
    let before = newest_seq(app);
    let viewer = app.token("org_a", Role::Viewer);
    let preview = start(
        app,
        &viewer,
        &t,
        &json!({ "revision_id": two, "dry_run": true }),
    )
    .expect(200);
    assert_eq!(preview.body["status"], "preview");
    assert_eq!(preview.body["dry_run"], true);
    assert_eq!(preview.body["to_revision"], 2);
    assert!(
        preview.body["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("ro_"))
    );
    let ids: Vec<&str> = preview.body["pipelines"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["pipeline_id"].as_str())
        .collect();
    let mut expected = vec![good.as_str(), bad.as_str(), lacking.as_str()];
    expected.sort_unstable();
    assert_eq!(ids, expected, "pipelines behind, by id; never {current}");

    let ready = row(&preview, &good);
    assert_eq!(ready["status"], "ready");
    assert_eq!(
        (
            ready["from_revision"].as_u64(),
            ready["to_revision"].as_u64()
        ),
        (Some(1), Some(2))
    );
    assert_eq!(ready["pipeline_name"], "Good");
    assert_eq!(
        ready["config_diff"],
        json!([
            { "op": "replace", "path": "/access_token", "value": "***" },
            { "op": "add", "path": "/action_source", "value": "website" },
            { "op": "replace", "path": "/batch_size", "value": 50 },
        ]),
        "the rendered configs' difference, the credential masked"
    );
    let blocked = row(&preview, &bad);
    assert_eq!(blocked["status"], "blocked");
    let problems: Vec<(&str, &str)> = blocked["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| {
            (
                p["field"].as_str().unwrap_or(""),
                p["problem"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        problems,
        [
            ("config.action_source", "not_an_option"),
            ("config.batch_size", "invalid_type")
        ]
    );
    let missing = row(&preview, &lacking);
    assert_eq!(missing["status"], "blocked");
    assert_eq!(missing["missing_parameters"], json!(["BATCH", "SOURCE"]));
    assert!(
        !preview.text.contains("EAAB-token"),
        "no secret in a preview: {}",
        preview.text
    );

    // Nothing stored, nothing moved, no event.
    assert_eq!(pinned_at(app, &good, &good_pin), 1);
    assert_eq!(app.get(&rollouts(&t), &viewer).expect(200).body["total"], 0);
    assert_eq!(newest_seq(app), before);

    // An apply is for editors; a blocked one moves nothing and lists every problem.
    start(app, &viewer, &t, &json!({ "revision_id": two })).expect_error(403, "FORBIDDEN");
    let editor = app.token("org_a", Role::Editor);
    let refused = start(app, &editor, &t, &json!({ "revision_id": two }))
        .expect_error(422, "ROLLOUT_BLOCKED");
    let mut details: Vec<(String, String, String)> = refused.body["error"]["details"]
        .as_array()
        .expect("details")
        .iter()
        .map(|d| {
            (
                d["pipeline_id"].as_str().unwrap_or("").to_owned(),
                d["field"].as_str().unwrap_or("").to_owned(),
                d["problem"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    details.sort();
    let mut want = vec![
        (
            bad.clone(),
            "config.action_source".to_owned(),
            "not_an_option".to_owned(),
        ),
        (
            bad.clone(),
            "config.batch_size".to_owned(),
            "invalid_type".to_owned(),
        ),
        (
            lacking.clone(),
            "pipeline_param.BATCH".to_owned(),
            "missing_parameter".to_owned(),
        ),
        (
            lacking.clone(),
            "pipeline_param.SOURCE".to_owned(),
            "missing_parameter".to_owned(),
        ),
    ];
    want.sort();
    assert_eq!(details, want);
    assert_eq!(pinned_at(app, &good, &good_pin), 1, "all or nothing");
    assert_eq!(newest_seq(app), before);
}

fn an_apply_moves_its_pipelines_in_one_step_with_events_and_audit(app: &mut TestApp) {
    let (t, one, two) = template(app);
    let params = json!({ "PIXEL": "1", "BATCH": 5, "SOURCE": "app" });
    let (a, a_pin) = pinned(app, "A", &params, &t, &one);
    let (b, b_pin) = pinned(app, "B", &params, &t, &one);
    let (c, c_pin) = pinned(app, "C", &params, &t, &one);
    let before = newest_seq(app);
    let editor = app.token("org_a", Role::Editor);
    let applied = start(
        app,
        &editor,
        &t,
        &json!({ "revision_id": two, "pipeline_ids": [b, a, a], "note": "Q4 token rotation" }),
    )
    .expect(201);
    let id = applied.id();
    assert_eq!(
        applied.header("location"),
        Some(format!("{}/{id}", rollouts(&t)).as_str())
    );
    assert_eq!(applied.body["status"], "applied");
    assert_eq!(applied.body["dry_run"], false);
    assert_eq!(applied.body["note"], "Q4 token rotation");
    assert_eq!(
        applied.body["pipelines"].as_array().map(Vec::len),
        Some(2),
        "once each"
    );
    for p in [&a, &b] {
        assert_eq!(row(&applied, p)["status"], "moved");
        assert_eq!(row(&applied, p)["from_revision"], 1);
    }
    assert_eq!(
        (
            pinned_at(app, &a, &a_pin),
            pinned_at(app, &b, &b_pin),
            pinned_at(app, &c, &c_pin)
        ),
        (2, 2, 1)
    );
    let events = event_types(app, before);
    let mut moved = [json!([a]), json!([b])];
    moved.sort_by_key(ToString::to_string);
    let mut both = vec![a.clone(), b.clone()];
    both.sort();
    let mut seen: Vec<(String, Value)> = events.clone();
    seen.sort_by_key(|(kind, ids)| format!("{kind}{ids}"));
    assert_eq!(
        seen,
        [
            ("pipeline_integration.updated".to_owned(), moved[0].clone()),
            ("pipeline_integration.updated".to_owned(), moved[1].clone()),
            ("rollout.applied".to_owned(), json!(both)),
        ]
    );
    assert_eq!(
        events[0].0, "rollout.applied",
        "the rollout's own event first"
    );
    let audit = app
        .audit_log(&app.owner(), &format!("?resource_id={id}"))
        .expect(200);
    assert_eq!(audit.body["entries"][0]["action"], "rollout.apply");
    assert_eq!(audit.body["entries"][0]["new_value"]["moved"], 2);

    // Stored: read it back, in the template's list and the org's.
    let viewer = app.token("org_a", Role::Viewer);
    let read = app
        .get(&format!("{}/{id}", rollouts(&t)), &viewer)
        .expect(200);
    assert_eq!(read.body["pipelines"], applied.body["pipelines"]);
    let listed = app.get(&rollouts(&t), &viewer).expect(200);
    assert_eq!(
        listed.body["rollouts"][0]["pipelines"][0]["config_diff"],
        Value::Null,
        "lists leave the diffs out"
    );
    assert!(read.body["pipelines"][0]["config_diff"].is_array());
    assert_eq!(
        (
            listed.body["total"].as_u64(),
            listed.body["rollouts"][0]["id"].as_str()
        ),
        (Some(1), Some(id.as_str()))
    );
    let org = app
        .get(
            &format!("/v1/admin/rollouts?template_id={t}&limit=1"),
            &viewer,
        )
        .expect(200);
    assert_eq!(org.body["rollouts"][0]["id"], id.as_str());
    let other = app.template("Other", "meta_capi");
    let none = app
        .get(&format!("/v1/admin/rollouts?template_id={other}"), &viewer)
        .expect(200);
    assert_eq!(none.body["total"], 0);
    // Another template's path does not show it; nor does another org.
    app.get(&format!("{}/{id}", rollouts(&other)), &viewer)
        .expect(404);
    let stranger = app.token("org_b", Role::Owner);
    let theirs = app.get("/v1/admin/rollouts", &stranger).expect(200);
    assert_eq!(theirs.body["total"], 0, "another org sees none");
}

#[expect(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
fn bad_rollouts_are_refused_and_change_nothing(app: &mut TestApp) {
    let (t, one, two) = template(app);
    let params = json!({ "PIXEL": "1", "BATCH": 5, "SOURCE": "app" });
    let (p, pin) = pinned(app, "P", &params, &t, &two);
    let loose = app
        .create_pipeline(&app.owner(), &json!({ "name": "Loose" }))
        .expect(201)
        .id();
    let other = app.template("Other", "meta_capi");
    let foreign = app.revision(&other, &crate::support::meta_config());
    let before = newest_seq(app);
    let token = app.owner();
    // Everyone is at the target or above: no target.
    assert!(
        start(app, &token, &t, &json!({ "revision_id": two }))
            .expect_error(422, "VALIDATION_FAILED")
            .has_detail("pipeline_ids", "no_targets")
    );
    let wrong = start(
        app,
        &token,
        &t,
        &json!({ "revision_id": two, "pipeline_ids": [p, loose, "pip_nonsense"] }),
    )
    .expect_error(422, "VALIDATION_FAILED");
    assert!(
        wrong.has_detail("pipeline_ids[2]", "not_attached"),
        "{}",
        wrong.text
    );
    let unattached = start(
        app,
        &token,
        &t,
        &json!({ "revision_id": two, "pipeline_ids": [p, loose] }),
    )
    .expect_error(422, "VALIDATION_FAILED");
    assert_eq!(
        unattached.details(),
        [("pipeline_ids[1]".to_owned(), "not_attached".to_owned())]
    );
    start(
        app,
        &token,
        &t,
        &json!({ "revision_id": two, "pipeline_ids": [] }),
    )
    .expect_error(422, "VALIDATION_FAILED");
    assert!(
        start(app, &token, &t, &json!({ "revision_id": foreign["id"] }))
            .expect_error(422, "VALIDATION_FAILED")
            .has_detail("revision_id", "not_found")
    );
    start(app, &token, &t, &json!({ "revision_id": "rev_x" }))
        .expect_error(422, "VALIDATION_FAILED");
    start(app, &token, &t, &json!({ "revision_id": two, "extra": 1 }))
        .expect_error(400, "INVALID_REQUEST");
    start(
        app,
        &token,
        &t,
        &json!({ "revision_id": two, "note": "x".repeat(2_001) }),
    )
    .expect_error(422, "VALIDATION_FAILED");
    start(app, &token, &other, &json!({ "pipeline_ids": [p] })).expect(400);
    start(app, &token, "tmpl_nothing", &json!({ "revision_id": two })).expect(404);
    let service = app.token("org_a", Role::Service);
    start(
        app,
        &service,
        &t,
        &json!({ "revision_id": two, "dry_run": true }),
    )
    .expect_error(403, "FORBIDDEN");
    app.get(&rollouts(&t), &service)
        .expect_error(403, "FORBIDDEN");
    app.get(&rollouts(&t), &token).expect(200);
    app.get(&format!("{}?limit=0", rollouts(&t)), &token)
        .expect_error(422, "VALIDATION_FAILED");
    app.get(&format!("{}?template_id={t}", rollouts(&t)), &token)
        .expect(400);
    app.get(&format!("{}/ro_nothing", rollouts(&t)), &token)
        .expect(404);
    app.post(
        &format!("{}/ro_nothing/rollback", rollouts(&t)),
        &token,
        &json!({}),
    )
    .expect(404);
    app.call("DELETE", &rollouts(&t), Some(&token), None)
        .expect_error(405, "METHOD_NOT_ALLOWED");
    // A stale If-Match: 412, nothing moved.
    let stale = app.raw_with(
        "POST",
        &rollouts(&t),
        &token,
        &[("If-Match", "\"1\"")],
        Some((
            "application/json",
            json!({ "revision_id": one, "pipeline_ids": [p] })
                .to_string()
                .into_bytes(),
        )),
    );
    stale.expect_error(412, "PRECONDITION_FAILED");
    assert_eq!(pinned_at(app, &p, &pin), 2);
    assert_eq!(newest_seq(app), before, "nothing refused left an event");
    // Any direction when named (never by default): back to 1, with If-Match.
    let down = app.raw_with(
        "POST",
        &rollouts(&t),
        &token,
        &[("If-Match", "\"2\"")],
        Some((
            "application/json",
            json!({ "revision_id": one, "pipeline_ids": [p] })
                .to_string()
                .into_bytes(),
        )),
    );
    down.expect(201);
    assert_eq!(pinned_at(app, &p, &pin), 1);
}

fn a_rollback_moves_back_only_the_pipelines_still_where_it_left_them(app: &mut TestApp) {
    let (t, one, two) = template(app);
    let three = app.revision(
        &t,
        &json!({ "pixel_id": "{{pipeline_param.PIXEL}}", "access_token": "EAAB-three" }),
    );
    let params = json!({ "PIXEL": "1", "BATCH": 5, "SOURCE": "app" });
    let (a, a_pin) = pinned(app, "A", &params, &t, &one);
    let (b, b_pin) = pinned(app, "B", &params, &t, &one);
    let editor = app.token("org_a", Role::Editor);
    let applied = start(
        app,
        &editor,
        &t,
        &json!({ "revision_id": two, "pipeline_ids": [a, b] }),
    )
    .expect(201);
    let id = applied.id();
    // Someone moves B on.
    app.update_attachment(&editor, &b, &b_pin, &json!({ "revision_id": three["id"] }))
        .expect(200);
    let before = newest_seq(app);
    let viewer = app.token("org_a", Role::Viewer);
    app.post(
        &format!("{}/{id}/rollback", rollouts(&t)),
        &viewer,
        &json!({}),
    )
    .expect_error(403, "FORBIDDEN");
    let back = app
        .post(
            &format!("{}/{id}/rollback", rollouts(&t)),
            &editor,
            &json!({}),
        )
        .expect(201);
    assert_eq!(back.body["rolled_back_from"], id.as_str());
    assert_eq!(back.body["to_revision"], Value::Null);
    assert_eq!(back.body["status"], "applied");
    assert_eq!(row(&back, &a)["status"], "moved");
    assert_eq!(
        (
            row(&back, &a)["from_revision"].as_u64(),
            row(&back, &a)["to_revision"].as_u64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(row(&back, &b)["status"], "skipped");
    assert_eq!(row(&back, &b)["current_revision"], 3);
    assert_eq!(
        (pinned_at(app, &a, &a_pin), pinned_at(app, &b, &b_pin)),
        (1, 3)
    );
    let events = event_types(app, before);
    assert_eq!(
        events,
        [
            ("rollout.rolled_back".to_owned(), json!([a])),
            ("pipeline_integration.updated".to_owned(), json!([a])),
        ]
    );
    // The history of A's config follows the rollout and its rollback.
    let at_rollout = applied.body["created_at"].as_str().expect("at").to_owned();
    let past = app
        .get(
            &format!(
                "/v1/admin/pipelines/{a}/config?at={}",
                at_rollout.replace('+', "%2B")
            ),
            &viewer,
        )
        .expect(200);
    assert_eq!(past.body["integrations"][0]["revision_number"], 2);
    let now = app
        .get(&format!("/v1/admin/pipelines/{a}/config"), &viewer)
        .expect(200);
    assert_eq!(now.body["integrations"][0]["revision_number"], 1);
    // A rollback of the rollback moves A forward again.
    let again = app
        .post(
            &format!("{}/{}/rollback", rollouts(&t), back.id()),
            &editor,
            &json!({}),
        )
        .expect(201);
    assert_eq!(row(&again, &a)["status"], "moved");
    assert_eq!(pinned_at(app, &a, &a_pin), 2);
    assert_eq!(app.get(&rollouts(&t), &viewer).expect(200).body["total"], 3);
}

fn a_pin_moved_after_the_preview_still_moves_and_is_recorded_as_it_was(app: &mut TestApp) {
    let (t, one, two) = template(app);
    let three = app.revision(
        &t,
        &json!({ "pixel_id": "{{pipeline_param.PIXEL}}", "access_token": "EAAB-three" }),
    );
    let (p, pin) = pinned(
        app,
        "P",
        &json!({ "PIXEL": "1", "BATCH": 5, "SOURCE": "app" }),
        &t,
        &one,
    );
    let token = app.owner();
    let preview = start(
        app,
        &token,
        &t,
        &json!({ "revision_id": two, "dry_run": true }),
    )
    .expect(200);
    assert_eq!(row(&preview, &p)["from_revision"], 1);
    app.update_attachment(&token, &p, &pin, &json!({ "revision_id": three["id"] }))
        .expect(200);
    let applied = start(
        app,
        &token,
        &t,
        &json!({ "revision_id": two, "pipeline_ids": [p] }),
    )
    .expect(201);
    assert_eq!(row(&applied, &p)["status"], "moved");
    assert_eq!(row(&applied, &p)["from_revision"], 3, "what it really had");
    assert!(
        row(&applied, &p)["config_diff"].is_array(),
        "the apply checks and diffs the pins as they are when it runs"
    );
    assert_eq!(pinned_at(app, &p, &pin), 2);
    // A pipeline that no longer pins the template by the time the rollout
    // is asked for is not a target (one detached during the apply's own
    // transaction is skipped: the storage contract tests cover that).
    let (q, q_pin) = pinned(
        app,
        "Q",
        &json!({ "PIXEL": "1", "BATCH": 5, "SOURCE": "app" }),
        &t,
        &one,
    );
    app.detach(&token, &q, &q_pin).expect(200);
    start(
        app,
        &token,
        &t,
        &json!({ "revision_id": two, "pipeline_ids": [q] }),
    )
    .expect_error(422, "VALIDATION_FAILED");
}

/// Re-pins race an apply: each pipeline's row records the revision it had
/// when the rollout moved it, in the order the feed shows the changes.
fn concurrent_re_pins_are_ordered_with_the_rollout(app: &mut TestApp) {
    let (t, one, two) = template(app);
    let three = app.revision(
        &t,
        &json!({ "pixel_id": "{{pipeline_param.PIXEL}}", "access_token": "EAAB-three" }),
    );
    let three_id = three["id"].as_str().expect("id").to_owned();
    let params = json!({ "PIXEL": "1", "BATCH": 5, "SOURCE": "app" });
    let pins: Vec<(String, String)> = (0..12)
        .map(|i| pinned(app, &format!("P{i}"), &params, &t, &one))
        .collect();
    let before = newest_seq(app);
    let token = app.owner();
    let repinner = {
        let client = crate::support::Client::new(app.base.clone());
        let pins = pins.clone();
        let token = token.clone();
        std::thread::spawn(move || {
            for (p, pin) in &pins {
                client
                    .update_attachment(&token, p, pin, &json!({ "revision_id": three_id }))
                    .expect(200);
            }
        })
    };
    let ids: Vec<&String> = pins.iter().map(|(p, _)| p).collect();
    let applied = start(
        app,
        &token,
        &t,
        &json!({ "revision_id": two, "pipeline_ids": ids }),
    )
    .expect(201);
    repinner.join().expect("the re-pins");
    // The order of the changes, from the feed.
    let events = app
        .events(&token, &format!("?after={before}&limit=1000"))
        .expect(200)
        .body["events"]
        .as_array()
        .cloned()
        .expect("events");
    let rollout_seq = events
        .iter()
        .find(|e| e["type"] == "rollout.applied")
        .and_then(|e| e["seq"].as_u64())
        .expect("the rollout's event");
    for (p, pin) in &pins {
        let manual = events
            .iter()
            .filter_map(|e| Some((e["seq"].as_u64()?, e)))
            .find(|(seq, e)| {
                // The rollout's own pin events follow its event directly.
                let the_rollouts = (rollout_seq + 1..=rollout_seq + 12).contains(seq);
                e["type"] == "pipeline_integration.updated"
                    && e["resource_id"] == pin.as_str()
                    && !the_rollouts
            })
            .map(|(seq, _)| seq);
        let row = row(&applied, p);
        assert_eq!(row["status"], "moved");
        match manual {
            Some(seq) if seq < rollout_seq => {
                assert_eq!(row["from_revision"], 3, "re-pinned first: moved from 3");
                assert_eq!(pinned_at(app, p, pin), 2);
            }
            _ => {
                assert_eq!(row["from_revision"], 1, "moved first: from 1");
                assert_eq!(pinned_at(app, p, pin), 3, "then re-pinned");
            }
        }
    }
}

fn an_apply_with_an_idempotency_key_runs_once(app: &mut TestApp) {
    let (t, one, two) = template(app);
    let (p, _) = pinned(
        app,
        "P",
        &json!({ "PIXEL": "1", "BATCH": 5, "SOURCE": "app" }),
        &t,
        &one,
    );
    let token = app.owner();
    let body = json!({ "revision_id": two, "pipeline_ids": [p] })
        .to_string()
        .into_bytes();
    let send = || {
        app.raw_with(
            "POST",
            &rollouts(&t),
            &token,
            &[("Idempotency-Key", "rollout-1")],
            Some(("application/json", body.clone())),
        )
    };
    let first = send().expect(201);
    let again = send().expect(201);
    assert_eq!(first.id(), again.id());
    assert_eq!(app.get(&rollouts(&t), &token).expect(200).body["total"], 1);
}

/// A credential in a secret parameter flows into the token: no preview, no
/// stored rollout, audit entry or event shows it, and a diff says nothing
/// about whether a guessed value is right.
fn a_rollout_never_shows_or_compares_a_secret(app: &mut TestApp) {
    let canary = crate::secrets::new_canary();
    let token = app.owner();
    let t = app.template("Meta", "meta_capi");
    let one = app.revision(
        &t,
        &json!({ "pixel_id": "1", "access_token": "{{pipeline_param.TOKEN}}" }),
    );
    // Revision 2 holds, in clear, exactly the pipeline's secret: a guess.
    let two = app.revision(&t, &json!({ "pixel_id": "1", "access_token": canary }));
    let p = app
        .create_pipeline(
            &token,
            &json!({ "name": "P", "secret_parameters": { "TOKEN": canary } }),
        )
        .expect(201)
        .id();
    app.attach(
        &token,
        &p,
        &json!({ "integration_id": t, "revision_id": one["id"] }),
    )
    .expect(201);
    let before = newest_seq(app);
    let viewer = app.token("org_a", Role::Viewer);
    let preview = start(
        app,
        &viewer,
        &t,
        &json!({ "revision_id": two["id"], "dry_run": true }),
    )
    .expect(200);
    crate::secrets::assert_clean("a preview", &preview, &canary);
    assert_eq!(
        row(&preview, &p)["config_diff"],
        json!([{ "op": "replace", "path": "/access_token", "value": "***" }]),
        "the same text from another source is a change: nothing is compared in clear"
    );
    let applied = start(app, &token, &t, &json!({ "revision_id": two["id"] })).expect(201);
    crate::secrets::assert_clean("an apply", &applied, &canary);
    let stored = app
        .get(&format!("{}/{}", rollouts(&t), applied.id()), &viewer)
        .expect(200);
    crate::secrets::assert_clean("a stored rollout", &stored, &canary);
    let back = app
        .post(
            &format!("{}/{}/rollback", rollouts(&t), applied.id()),
            &token,
            &json!({}),
        )
        .expect(201);
    crate::secrets::assert_clean("a rollback", &back, &canary);
    let audit = app.audit_log(&token, "?limit=100").expect(200);
    crate::secrets::assert_clean("the audit log", &audit, &canary);
    let events = app
        .events(&token, &format!("?after={before}&limit=1000"))
        .expect(200);
    crate::secrets::assert_clean("the events", &events, &canary);
}

/// A rollout preview or apply holds a connection while it renders every
/// target: only two run at once per process; the next is refused at once
/// with 429 and `Retry-After`, records nothing under its key, and goes
/// through once a slot is free. The slots are held through the app itself,
/// so nothing here depends on timing.
fn rollouts_beyond_the_cap_are_refused_until_a_slot_is_free(app: &mut TestApp) {
    let (t, one, two) = template(app);
    let params = json!({ "PIXEL": "1", "BATCH": 5, "SOURCE": "app" });
    let (p, pin) = pinned(app, "P", &params, &t, &one);
    let viewer = app.token("org_a", Role::Viewer);
    let owner = app.owner();
    let preview = json!({ "revision_id": two, "dry_run": true });
    let apply = |app: &TestApp| {
        app.raw_with(
            "POST",
            &rollouts(&t),
            &owner,
            &[("Idempotency-Key", "cap-1")],
            Some((
                "application/json",
                json!({ "revision_id": two }).to_string().into_bytes(),
            )),
        )
    };
    let held: Vec<_> = (0..integrations_app::MAX_ROLLOUTS_AT_ONCE)
        .map(|_| app.app.rollout_slot().expect("a free slot"))
        .collect();
    let refused = start(app, &viewer, &t, &preview).expect_error(429, "RATE_LIMITED");
    assert_eq!(refused.header("retry-after"), Some("1"));
    let refused = apply(app).expect_error(429, "RATE_LIMITED");
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(pinned_at(app, &p, &pin), 1, "nothing moved");
    drop(held);
    start(app, &viewer, &t, &preview).expect(200);
    // The refusal was not recorded under the key: the same key now applies.
    let applied = apply(app).expect(201);
    assert!(applied.header("idempotent-replayed").is_none());
    assert_eq!(pinned_at(app, &p, &pin), 2);
    // Each request gave its slot back.
    let all: Vec<_> = (0..integrations_app::MAX_ROLLOUTS_AT_ONCE)
        .map(|_| app.app.rollout_slot().expect("every slot is free again"))
        .collect();
    assert!(app.app.rollout_slot().is_err(), "the cap is reached");
    drop(all);
}

/// The check order of an apply: a viewer asking to apply is refused for its
/// role (403) before the template is looked up or the body's values are
/// checked; a stale `If-Match` is refused (412) before the preview runs —
/// shown with every rollout slot held, which a preview would need, and
/// with a target that would block the apply.
fn an_apply_checks_the_role_then_if_match_before_the_preview(app: &mut TestApp) {
    let (t, one, two) = template(app);
    let (p, pin) = pinned(app, "Lacking", &json!({ "PIXEL": "1" }), &t, &one);
    let viewer = app.token("org_a", Role::Viewer);
    start(app, &viewer, "tmpl_nothing", &json!({ "revision_id": two }))
        .expect_error(403, "FORBIDDEN");
    start(app, &viewer, &t, &json!({ "revision_id": "rev_x" })).expect_error(403, "FORBIDDEN");
    // A preview is the viewer's to ask for: then the template is looked up.
    start(
        app,
        &viewer,
        "tmpl_nothing",
        &json!({ "revision_id": two, "dry_run": true }),
    )
    .expect_error(404, "NOT_FOUND");
    let held: Vec<_> = (0..integrations_app::MAX_ROLLOUTS_AT_ONCE)
        .map(|_| app.app.rollout_slot().expect("a free slot"))
        .collect();
    let stale = app.raw_with(
        "POST",
        &rollouts(&t),
        &app.owner(),
        &[("If-Match", "\"1\"")],
        Some((
            "application/json",
            json!({ "revision_id": two, "pipeline_ids": [p] })
                .to_string()
                .into_bytes(),
        )),
    );
    let stale = stale.expect_error(412, "PRECONDITION_FAILED");
    assert!(
        stale.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("latest revision is 2")),
        "{}",
        stale.text
    );
    drop(held);
    // With the right If-Match the preview runs: blocked by the lacking pipeline.
    app.raw_with(
        "POST",
        &rollouts(&t),
        &app.owner(),
        &[("If-Match", "\"2\"")],
        Some((
            "application/json",
            json!({ "revision_id": two, "pipeline_ids": [p] })
                .to_string()
                .into_bytes(),
        )),
    )
    .expect_error(422, "ROLLOUT_BLOCKED");
    assert_eq!(pinned_at(app, &p, &pin), 1);
}

crate::api_tests!(
    an_apply_checks_the_role_then_if_match_before_the_preview,
    rollouts_beyond_the_cap_are_refused_until_a_slot_is_free,
    a_rollout_never_shows_or_compares_a_secret,
    a_preview_renders_checks_and_diffs_every_pipeline_and_changes_nothing,
    an_apply_moves_its_pipelines_in_one_step_with_events_and_audit,
    bad_rollouts_are_refused_and_change_nothing,
    a_rollback_moves_back_only_the_pipelines_still_where_it_left_them,
    a_pin_moved_after_the_preview_still_moves_and_is_recorded_as_it_was,
    concurrent_re_pins_are_ordered_with_the_rollout,
    an_apply_with_an_idempotency_key_runs_once,
);
