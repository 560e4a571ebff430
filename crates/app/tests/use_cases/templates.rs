//! Templates: creation, name clashes, `If-Match`.

use integrations_app::{
    AppError, CreateTemplate, NamedKind, TemplateSearch, UpdateTemplate, template_etag,
};
use integrations_domain::{Action, Role, TemplateId};
use integrations_ports::{AuditAction, AuthError};

use crate::fakes::{NOW, SequentialIds, app, caller, create_template};

fn create(name: &str) -> CreateTemplate {
    CreateTemplate {
        name: name.to_owned(),
        vendor: "webhook".to_owned(),
        description: None,
    }
}

#[test]
fn a_template_takes_the_next_id_and_the_clock_and_is_audited() {
    let (app, store) = app();
    let editor = caller("org_a", "u_1", Role::Editor);
    let template = create_template(&app, &editor, create("Hooks")).expect("created");
    // The first id goes to the template, the second to its audit entry.
    assert_eq!(template.id, TemplateId::from_ulid(SequentialIds::nth(1)));
    assert_eq!((template.created_at, template.updated_at), (NOW, NOW));
    assert_eq!(template.latest_revision, 0);
    let state = store.state();
    assert_eq!(state.audit.len(), 1);
    assert_eq!(state.audit[0].action, AuditAction::TemplateCreate);
    assert_eq!(state.audit[0].resource_id, template.id.to_string());
    assert_eq!(state.audit[0].at, NOW);
}

#[test]
fn a_taken_name_is_name_taken_naming_the_template() {
    let (app, store) = app();
    let editor = caller("org_a", "u_1", Role::Editor);
    create_template(&app, &editor, create("GA4 Web")).expect("created");
    let err = create_template(&app, &editor, create("ga4 WEB")).expect_err("taken");
    assert!(
        matches!(&err, AppError::NameTaken { kind: NamedKind::Template, name } if name == "ga4 WEB"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "an integration template named 'ga4 WEB' already exists"
    );
    // Another org may use the name.
    let other = caller("org_b", "u_2", Role::Editor);
    create_template(&app, &other, create("GA4 Web")).expect("another org's name");
    assert_eq!(store.state().templates.len(), 2);
}

#[test]
fn a_rename_onto_a_taken_name_is_name_taken_naming_the_template() {
    let (app, _store) = app();
    let editor = caller("org_a", "u_1", Role::Editor);
    create_template(&app, &editor, create("First")).expect("created");
    let second = create_template(&app, &editor, create("Second")).expect("created");
    let err = app
        .update_template(&editor, &second.id.to_string(), None, || {
            Ok::<_, AppError>(UpdateTemplate {
                name: Some("FIRST".to_owned()),
                description: None,
            })
        })
        .expect_err("taken");
    assert!(
        matches!(&err, AppError::NameTaken { kind: NamedKind::Template, name } if name == "FIRST"),
        "{err:?}"
    );
}

#[test]
fn every_problem_of_a_new_template_is_listed_and_nothing_is_stored() {
    let (app, store) = app();
    let editor = caller("org_a", "u_1", Role::Editor);
    let err = create_template(
        &app,
        &editor,
        CreateTemplate {
            name: "  ".to_owned(),
            vendor: "nope".to_owned(),
            description: Some("x".repeat(2_001)),
        },
    )
    .expect_err("invalid");
    let AppError::Invalid(problems) = err else {
        panic!("{err:?}");
    };
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["name", "vendor", "description"]);
    assert!(store.state().templates.is_empty());
    assert!(store.state().audit.is_empty());
}

#[test]
fn a_viewer_may_not_create_a_template() {
    let (app, store) = app();
    let viewer = caller("org_a", "u_1", Role::Viewer);
    // Forbidden comes before validation: the name is not even looked at.
    let err = create_template(&app, &viewer, create("")).expect_err("forbidden");
    assert!(matches!(err, AppError::Forbidden(Action::Edit)), "{err:?}");
    assert!(store.state().templates.is_empty());
}

#[test]
fn if_match_must_name_the_current_etag() {
    let (app, _store) = app();
    let editor = caller("org_a", "u_1", Role::Editor);
    let template = create_template(&app, &editor, create("Hooks")).expect("created");
    let id = template.id.to_string();
    let rename = |name: &str| {
        let name = name.to_owned();
        move || {
            Ok::<_, AppError>(UpdateTemplate {
                name: Some(name),
                description: None,
            })
        }
    };
    let err = app
        .update_template(&editor, &id, Some("\"12345\""), rename("Stale"))
        .expect_err("stale");
    assert!(matches!(err, AppError::PreconditionFailed), "{err:?}");
    // Any of several listed tags may be the current one; `*` matches anything.
    let listed = format!("\"1\", {}", template_etag(&template));
    let renamed = app
        .update_template(&editor, &id, Some(&listed), rename("Current"))
        .expect("the current etag");
    assert_eq!(renamed.name.as_str(), "Current");
    app.update_template(&editor, &id, Some("*"), rename("Any"))
        .expect("any version");
}

#[test]
fn an_update_reads_its_body_only_after_the_template_is_found() {
    let (app, _store) = app();
    let editor = caller("org_a", "u_1", Role::Editor);
    for missing in ["tmpl_01KBZ0N4XW5D7Q2V6T3M9R8P1A", "not-an-id"] {
        let err = app
            .update_template(
                &editor,
                missing,
                None,
                || -> Result<UpdateTemplate, AppError> {
                    panic!("the body of a request for a missing template was read")
                },
            )
            .expect_err("missing");
        assert!(matches!(err, AppError::NotFound), "{err:?}");
    }
}

#[test]
fn tokens_are_verified_by_the_port() {
    let (app, _store) = app();
    let verified = app.authenticate("admin").expect("a valid token");
    assert_eq!(verified.caller.role, Role::Admin);
    let err = app.authenticate("expired").expect_err("expired");
    assert!(
        matches!(err, AppError::Unauthenticated(AuthError::Expired)),
        "{err:?}"
    );
}

#[test]
fn a_bad_search_is_refused_before_the_store_is_asked() {
    // The fake store answers `Unexpected` to a list: reaching it would fail
    // otherwise, so each refusal here happened before any storage work.
    let (app, _store) = app();
    let viewer = caller("org_a", "u_1", Role::Viewer);
    let window = integrations_app::Window::from(integrations_domain::Page::default());
    let cases = [
        (Some("x".repeat(201)), None, "q", "too_long"),
        (Some("a\u{0}b".to_owned()), None, "q", "control_character"),
        (None, Some("nope".to_owned()), "vendor", "unknown_vendor"),
    ];
    for (q, vendor, field, code) in cases {
        let search = TemplateSearch { q, vendor };
        let err = app
            .list_templates(&viewer, &search, window.clone())
            .expect_err("invalid");
        let AppError::Invalid(problems) = err else {
            panic!("{err:?}");
        };
        assert_eq!(
            (problems[0].field.as_str(), problems[0].problem),
            (field, code)
        );
    }
    let err = app
        .list_pipelines(&viewer, Some(&"y".repeat(201)), window)
        .expect_err("invalid");
    assert!(matches!(err, AppError::Invalid(_)), "{err:?}");
}
