//! `GET /v1/admin/pipelines/{id}/config?at=`: the rendered configs a
//! pipeline had at a past instant, resolved by the events' order; every
//! refusal; secrets masked for all but `service`; and, for random sequences
//! of changes, the config at each change's instant equals what the live
//! route answered right after it.

use integrations_domain::Role;
use integrations_ports::EventStore as _;
use integrations_store::{DatabaseUrl, DieselStore, PoolOptions};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

use crate::secrets::{assert_clean, new_canary};
use crate::support::{Reply, TestApp, paths};

/// `?at=` with `+` written as `%2B`.
fn config_at(app: &TestApp, token: &str, pipeline: &str, at: &str) -> Reply {
    app.get(
        &format!(
            "{}?at={}",
            paths::pipeline_config(pipeline),
            at.replace('+', "%2B")
        ),
        token,
    )
}

/// The newest event of the org: its `at` and `seq`.
fn last_change(app: &TestApp) -> (String, u64) {
    let events = app.events(&app.owner(), "?limit=1000").expect(200).body;
    let last = events["events"]
        .as_array()
        .and_then(|all| all.last())
        .expect("an event")
        .clone();
    (
        last["at"].as_str().expect("at").to_owned(),
        last["seq"].as_u64().expect("seq"),
    )
}

/// A past answer in the live answer's shape: without `at`, `seq`s.
fn as_live(mut past: Value) -> Value {
    let object = past.as_object_mut().expect("an object");
    object.remove("at");
    object.remove("seq");
    for entry in past["integrations"].as_array_mut().expect("integrations") {
        entry.as_object_mut().expect("an entry").remove("seq");
    }
    past
}

/// A Meta template whose token and pixel come from parameters, with two
/// revisions: its id and the revisions' ids.
fn meta(app: &TestApp, name: &str) -> (String, [String; 2]) {
    let template = app.template(name, "meta_capi");
    let revisions = [1, 2].map(|n| {
        app.revision(
            &template,
            &json!({ "pixel_id": format!("{{{{pipeline_param.pixel}}}}{n}"),
                     "access_token": "{{pipeline_param.token}}" }),
        )["id"]
            .as_str()
            .expect("an id")
            .to_owned()
    });
    (template, revisions)
}

#[expect(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
fn a_past_config_has_the_pins_and_parameters_of_then_with_the_seq_that_shaped_each(app: &TestApp) {
    let owner = app.owner();
    let service = app.token("org_a", Role::Service);
    let viewer = app.token("org_a", Role::Viewer);
    let (first, second) = (new_canary(), new_canary());
    let (template, [r1, r2]) = meta(app, "Meta");
    let pipeline = app
        .create_pipeline(
            &owner,
            &json!({ "name": "Shop", "parameters": { "pixel": "1" },
                     "secret_parameters": { "token": first } }),
        )
        .expect(201)
        .id();
    let (created, created_seq) = last_change(app);
    let attachment = app
        .attach(
            &owner,
            &pipeline,
            &json!({ "integration_id": template, "revision_id": r1 }),
        )
        .expect(201)
        .id();
    let (attached, attached_seq) = last_change(app);
    let live_attached = app.pipeline_config(&service, &pipeline).expect(200).body;
    app.update_pipeline(
        &owner,
        &pipeline,
        &json!({ "parameters": { "pixel": "2" }, "secret_parameters": { "token": second } }),
    )
    .expect(200);
    let (updated, updated_seq) = last_change(app);
    app.update_attachment(
        &owner,
        &pipeline,
        &attachment,
        &json!({ "revision_id": r2 }),
    )
    .expect(200);
    let (repinned, repinned_seq) = last_change(app);
    app.update_attachment(&owner, &pipeline, &attachment, &json!({ "enabled": false }))
        .expect(200);
    let (disabled, _) = last_change(app);

    // Right after it was created: nothing attached.
    let then = config_at(app, &service, &pipeline, &created)
        .expect(200)
        .body;
    assert_eq!(then["integrations"], json!([]));
    assert_eq!(
        (then["seq"].as_u64(), &then["at"]),
        (Some(created_seq), &json!(created))
    );
    // Attached at r1, with the first values; as the live route said then.
    let then = config_at(app, &service, &pipeline, &attached).expect(200);
    assert_eq!(as_live(then.body.clone()), live_attached);
    let entry = &then.body["integrations"][0];
    assert_eq!(
        entry["config"],
        json!({ "pixel_id": "11", "access_token": first })
    );
    assert_eq!(
        (entry["revision_number"].as_u64(), entry["seq"].as_u64()),
        (Some(1), Some(attached_seq))
    );
    // The new parameters shaped it next, then the re-pin.
    let then = config_at(app, &service, &pipeline, &updated)
        .expect(200)
        .body;
    assert_eq!(
        then["integrations"][0]["config"],
        json!({ "pixel_id": "21", "access_token": second })
    );
    assert_eq!(then["integrations"][0]["seq"].as_u64(), Some(updated_seq));
    let then = config_at(app, &service, &pipeline, &repinned)
        .expect(200)
        .body;
    assert_eq!(
        (
            &then["integrations"][0]["config"]["pixel_id"],
            then["integrations"][0]["revision_number"].as_u64(),
            then["integrations"][0]["seq"].as_u64()
        ),
        (&json!("22"), Some(2), Some(repinned_seq))
    );
    // Disabled: not rendered, as on the live route.
    let then = config_at(app, &service, &pipeline, &disabled)
        .expect(200)
        .body;
    assert_eq!(then["integrations"], json!([]));

    // Everyone else reads masks, never a value of then.
    for role in [Role::Owner, Role::Admin, Role::Editor, Role::Viewer] {
        let token = app.token("org_a", role);
        let then = config_at(app, &token, &pipeline, &attached).expect(200);
        assert_eq!(
            then.body["integrations"][0]["config"],
            json!({ "pixel_id": "11", "access_token": "***" }),
            "{role:?}"
        );
        assert_clean("a past config", &then, &first);
        assert_clean("a past config", &then, &second);
    }

    // A deleted pipeline answers for the time it existed, and only then.
    app.delete_pipeline(&owner, &pipeline).expect(200);
    let (deleted, _) = last_change(app);
    let then = config_at(app, &viewer, &pipeline, &updated)
        .expect(200)
        .body;
    assert_eq!(then["integrations"][0]["config"]["pixel_id"], "21");
    config_at(app, &viewer, &pipeline, &deleted).expect_error(404, "NOT_FOUND");
    config_at(app, &viewer, &pipeline, "2020-01-01T00:00:00Z").expect_error(404, "NOT_FOUND");
    // An hour before "created", with an offset: before it existed.
    let before =
        time::OffsetDateTime::parse(&created, &time::format_description::well_known::Rfc3339)
            .expect("an instant")
            .to_offset(time::macros::offset!(+02:00))
            - time::Duration::hours(1);
    let before = before
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formatted");
    config_at(app, &viewer, &pipeline, &before).expect_error(404, "NOT_FOUND");
}

fn bad_instants_are_refused_and_an_expired_history_is_410(app: &TestApp) {
    let owner = app.owner();
    let pipeline = app
        .create_pipeline(&owner, &json!({ "name": "P", "parameters": { "k": "1" } }))
        .expect(201)
        .id();
    let (created, _) = last_change(app);
    for bad in ["yesterday", "2026-13-01T00:00:00Z", "", "1"] {
        let reply = config_at(app, &owner, &pipeline, bad).expect_error(422, "VALIDATION_FAILED");
        assert!(
            reply.has_detail("at", "invalid_value"),
            "{bad}: {}",
            reply.body
        );
    }
    let future = config_at(app, &owner, &pipeline, "2999-01-01T00:00:00Z")
        .expect_error(422, "VALIDATION_FAILED");
    assert!(future.has_detail("at", "in_future"), "{}", future.body);
    let both = app
        .get(
            &format!("{}?at={created}&wait=5", paths::pipeline_config(&pipeline)),
            &owner,
        )
        .expect_error(422, "VALIDATION_FAILED");
    assert_eq!(both.first_field(), "at");
    // Unknown or malformed pipelines are 404 whatever the instant.
    for id in ["pip_01JN3Z5K8V6W0XQ4R2T7YB9CDE", "nope"] {
        config_at(app, &owner, id, &created).expect_error(404, "NOT_FOUND");
        config_at(app, &owner, id, "garbage").expect_error(404, "NOT_FOUND");
    }
    // Another org's pipeline does not exist for this one.
    config_at(app, &app.token("org_b", Role::Owner), &pipeline, &created)
        .expect_error(404, "NOT_FOUND");
    // A role the route refuses: none (viewer and above, and service).
    config_at(app, &app.token("org_a", Role::Viewer), &pipeline, &created).expect(200);

    // Pruned past the first state: before the cutoff is 410, after it the
    // newest kept state still answers.
    app.update_pipeline(&owner, &pipeline, &json!({ "parameters": { "k": "2" } }))
        .expect(200);
    std::thread::sleep(std::time::Duration::from_millis(5));
    let cutoff = time::OffsetDateTime::now_utc();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let url = DatabaseUrl::parse(app.db.url()).expect("a URL");
    let store = DieselStore::open(&url, PoolOptions::for_url(&url)).expect("the store");
    while store.prune_events(cutoff, 100).expect("pruned") > 0 {}
    let expired = config_at(app, &owner, &pipeline, &created).expect_error(410, "HISTORY_EXPIRED");
    assert!(expired.has_detail("at", "expired"), "{}", expired.body);
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formatted");
    let then = config_at(app, &owner, &pipeline, &now).expect(200);
    assert_eq!(then.body["pipeline_id"], json!(pipeline));
}

/// One change of a random sequence.
#[derive(Debug, Clone)]
enum Step {
    Parameters(u8),
    Secret(u8),
    Attach(usize, usize),
    Repin(usize, usize),
    Enable(usize, bool),
    Detach(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..4_u8).prop_map(Step::Parameters),
        (0..4_u8).prop_map(Step::Secret),
        (0..2_usize, 0..2_usize).prop_map(|(t, r)| Step::Attach(t, r)),
        (0..2_usize, 0..2_usize).prop_map(|(a, r)| Step::Repin(a, r)),
        (0..2_usize, any::<bool>()).prop_map(|(a, on)| Step::Enable(a, on)),
        (0..2_usize).prop_map(Step::Detach),
    ]
}

/// Applies a step (one that does not apply to the current state is skipped):
/// whether a change was made.
fn apply(
    app: &TestApp,
    pipeline: &str,
    templates: &[(String, [String; 2])],
    attached: &mut Vec<(usize, String)>,
    step: &Step,
) -> bool {
    let owner = app.owner();
    match *step {
        Step::Parameters(n) => {
            app.update_pipeline(
                &owner,
                pipeline,
                &json!({ "parameters": { "pixel": n.to_string() } }),
            )
            .expect(200);
        }
        Step::Secret(n) => {
            app.update_pipeline(
                &owner,
                pipeline,
                &json!({ "secret_parameters": { "token": format!("secret-{n}") } }),
            )
            .expect(200);
        }
        Step::Attach(t, r) => {
            if attached.iter().any(|(at, _)| *at == t) {
                return false;
            }
            let (template, revisions) = &templates[t];
            let id = app
                .attach(
                    &owner,
                    pipeline,
                    &json!({ "integration_id": template, "revision_id": revisions[r] }),
                )
                .expect(201)
                .id();
            attached.push((t, id));
        }
        Step::Repin(a, r) => {
            let Some((t, id)) = attached.get(a) else {
                return false;
            };
            app.update_attachment(
                &owner,
                pipeline,
                id,
                &json!({ "revision_id": templates[*t].1[r] }),
            )
            .expect(200);
        }
        Step::Enable(a, on) => {
            let Some((_, id)) = attached.get(a) else {
                return false;
            };
            app.update_attachment(&owner, pipeline, id, &json!({ "enabled": on }))
                .expect(200);
        }
        Step::Detach(a) => {
            if a >= attached.len() {
                return false;
            }
            let (_, id) = attached.remove(a);
            app.detach(&owner, pipeline, &id).expect(200);
        }
    }
    true
}

fn the_config_at_each_change_is_what_the_live_route_answered_right_after_it(app: &TestApp) {
    let owner = app.owner();
    let service = app.token("org_a", Role::Service);
    let viewer = app.token("org_a", Role::Viewer);
    let templates = [meta(app, "Meta A"), meta(app, "Meta B")];
    let mut runner = TestRunner::new(Config {
        cases: 6,
        failure_persistence: None,
        ..Config::default()
    });
    let case = std::cell::Cell::new(0_u32);
    runner
        .run(&proptest::collection::vec(step(), 1..8), |steps| {
            case.set(case.get() + 1);
            let pipeline = app
                .create_pipeline(
                    &owner,
                    &json!({ "name": format!("P{}", case.get()), "parameters": { "pixel": "0" },
                             "secret_parameters": { "token": "secret-0" } }),
                )
                .expect(201)
                .id();
            let mut attached = Vec::new();
            let mut seen = Vec::new();
            for step in &steps {
                if apply(app, &pipeline, &templates, &mut attached, step) {
                    let (at, _) = last_change(app);
                    let live = [&service, &viewer]
                        .map(|token| app.pipeline_config(token, &pipeline).expect(200).body);
                    seen.push((step.clone(), at, live));
                }
            }
            for (step, at, live) in seen {
                for (token, live) in [&service, &viewer].into_iter().zip(live) {
                    let then = config_at(app, token, &pipeline, &at).expect(200).body;
                    prop_assert_eq!(as_live(then), live, "after {:?} at {}", step, at);
                }
            }
            Ok(())
        })
        .expect("every past config is the live one of then");
}

crate::api_tests!(
    a_past_config_has_the_pins_and_parameters_of_then_with_the_seq_that_shaped_each,
    bad_instants_are_refused_and_an_expired_history_is_410,
    the_config_at_each_change_is_what_the_live_route_answered_right_after_it,
);
