//! Creating a revision: the check order 403 → 404 → 400/422 → 412, and the
//! `revisions_created` count.

use integrations_app::{
    App, AppError, CreateRevision, CreateTemplate, Idempotent, Outcome, StoredResponse,
};
use integrations_domain::{Action, Caller, Revision, Role, Template};
use serde_json::{Map, Value, json};

use crate::fakes::{NOW, app, caller, create_template, done};

fn editor() -> Caller {
    caller("org_a", "u_1", Role::Editor)
}

fn template(app: &App) -> Template {
    create_template(
        app,
        &editor(),
        CreateTemplate {
            name: "Hooks".to_owned(),
            vendor: "webhook".to_owned(),
            description: None,
        },
    )
    .expect("created")
}

fn config(value: Value) -> Map<String, Value> {
    let Value::Object(map) = value else {
        panic!("not an object: {value}")
    };
    map
}

fn body(url: &Value, delivery_mode: &str) -> CreateRevision {
    CreateRevision {
        config: config(json!({ "url": url })),
        delivery_mode: delivery_mode.to_owned(),
        change_summary: None,
    }
}

fn valid() -> CreateRevision {
    body(&json!("https://a.example/hook"), "server_side")
}

/// Creates a revision of `template` without an idempotency key.
fn create(
    app: &App,
    caller: &Caller,
    template: &str,
    if_match: Option<&str>,
    input: CreateRevision,
) -> Result<Revision, AppError> {
    app.create_revision(caller, template, if_match, || Ok(input), None)
        .map(done)
}

/// The input of a request whose body must not be read.
fn unread() -> Result<CreateRevision, AppError> {
    panic!("the body was read before an earlier check failed")
}

#[test]
fn the_role_is_checked_before_the_template_is_looked_for() {
    let (app, _store) = app();
    let viewer = caller("org_a", "u_2", Role::Viewer);
    for id in ["tmpl_01KBZ0N4XW5D7Q2V6T3M9R8P1A", "not-an-id"] {
        let err = app
            .create_revision(&viewer, id, None, unread, None)
            .expect_err("forbidden");
        assert!(matches!(err, AppError::Forbidden(Action::Edit)), "{err:?}");
    }
}

#[test]
fn a_missing_template_is_404_before_the_body_is_read() {
    let (app, _store) = app();
    let existing = template(&app);
    let elsewhere = caller("org_b", "u_3", Role::Owner);
    for (caller, id) in [
        (editor(), "tmpl_01KBZ0N4XW5D7Q2V6T3M9R8P1A".to_owned()),
        (editor(), "not-an-id".to_owned()),
        // Another org's template does not exist for this caller.
        (elsewhere, existing.id.to_string()),
    ] {
        let err = app
            .create_revision(&caller, &id, None, unread, None)
            .expect_err("not found");
        assert!(matches!(err, AppError::NotFound), "{id}: {err:?}");
    }
}

#[test]
fn a_body_that_does_not_parse_answers_as_the_adapter_said() {
    /// The adapter's own error type, as `http` has `ApiError`.
    #[derive(Debug)]
    enum Wire {
        App(AppError),
        Unparsable,
    }
    impl From<AppError> for Wire {
        fn from(err: AppError) -> Self {
            Self::App(err)
        }
    }
    let (app, store) = app();
    let id = template(&app).id.to_string();
    let err = app
        .create_revision(&editor(), &id, None, || Err(Wire::Unparsable), None)
        .expect_err("unparsable");
    assert!(matches!(err, Wire::Unparsable), "{err:?}");
    let err = app
        .create_revision(
            &caller("org_a", "u_2", Role::Viewer),
            &id,
            None,
            || Err(Wire::Unparsable),
            None,
        )
        .expect_err("forbidden first");
    assert!(matches!(err, Wire::App(AppError::Forbidden(_))), "{err:?}");
    assert!(store.state().revisions.is_empty());
}

#[test]
fn every_problem_is_listed_before_if_match_is_compared() {
    let (app, store) = app();
    let id = template(&app).id.to_string();
    // A stale If-Match and two bad values: 422 listing both, not 412.
    let err = create(
        &app,
        &editor(),
        &id,
        Some("\"7\""),
        body(&json!(7), "sideways"),
    )
    .expect_err("invalid");
    let AppError::Invalid(problems) = err else {
        panic!("{err:?}");
    };
    let mut fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["config.url", "delivery_mode"], "{problems:?}");
    assert!(store.state().revisions.is_empty());
}

#[test]
fn if_match_names_the_latest_revision_number() {
    let (app, store) = app();
    let id = template(&app).id.to_string();
    let first = create(&app, &editor(), &id, Some("\"0\""), valid()).expect("based on none");
    assert_eq!(first.number.get(), 1);
    assert_eq!(first.created_at, NOW);
    for stale in ["\"0\"", "\"2\"", "W/\"1\"x", "one"] {
        let err = create(&app, &editor(), &id, Some(stale), valid()).expect_err(stale);
        assert!(
            matches!(err, AppError::StaleRevision { latest: 1 }),
            "{stale}: {err:?}"
        );
    }
    create(&app, &editor(), &id, Some(" \"1\" "), valid()).expect("based on 1");
    create(&app, &editor(), &id, Some("*"), valid()).expect("based on any");
    create(&app, &editor(), &id, None, valid()).expect("unconditional");
    assert_eq!(store.state().revisions.len(), 4);
    assert_eq!(store.state().templates[0].latest_revision, 4);
}

#[test]
fn created_revisions_are_counted_once_and_failures_not_at_all() {
    let (app, store) = app();
    let counters = app.counters();
    let id = template(&app).id.to_string();
    assert_eq!(counters.revisions_created(), 0);
    create(&app, &editor(), &id, None, valid()).expect("created");
    assert_eq!(counters.revisions_created(), 1);
    create(&app, &editor(), &id, Some("\"0\""), valid()).expect_err("stale");
    create(&app, &editor(), &id, None, body(&json!(7), "server_side")).expect_err("invalid");
    assert_eq!(counters.revisions_created(), 1);
    // A retry with the same key replays the recorded answer: the use case
    // does not run again, and nothing more is counted.
    let respond = |revision: &Revision| StoredResponse {
        status: 201,
        body: revision.number.to_string(),
        location: None,
    };
    let refuse = |_: &AppError| None;
    let mut outcomes = Vec::new();
    for _ in 0..2 {
        let request = Idempotent {
            key: "k1",
            fingerprint: "f1",
            respond: &respond,
            refuse: &refuse,
        };
        outcomes.push(
            app.create_revision(&editor(), &id, None, || Ok(valid()), Some(request))
                .expect("answered"),
        );
    }
    assert!(matches!(&outcomes[0], Outcome::Done(r) if r.number.get() == 2));
    assert!(
        matches!(&outcomes[1], Outcome::Replayed(stored) if stored.body == "2"),
        "{:?}",
        outcomes[1]
    );
    assert_eq!(counters.revisions_created(), 2);
    assert_eq!(store.state().revisions.len(), 2);
    // The key was claimed and settled in the use case's unit of work: one
    // connection per request, key or not.
    assert_eq!(store.state().key_calls_outside_a_session, 0);
    // Clones of the application share the count.
    assert_eq!(app.clone().counters().revisions_created(), 2);
}
