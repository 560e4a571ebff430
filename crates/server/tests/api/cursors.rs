//! Keyset cursors over HTTP: every list answers `next_cursor` until its last
//! page, and following it visits what offsets visit, in the same order; a bad
//! cursor, or one given with `offset`, is 422 naming `cursor`.

use serde_json::{Value, json};

use crate::support::{TestApp, meta_config, paths::TEMPLATES};

/// `(field, problem)` of each detail of an error.
/// The `key` of each item of every page of `path`, by offsets then by cursors.
fn walks(app: &TestApp, path: &str, items: &str, key: &str) -> (Vec<Value>, Vec<Value>) {
    let token = app.owner();
    let join = if path.contains('?') { '&' } else { '?' };
    let mut by_offset = Vec::new();
    loop {
        let page = app
            .get(
                &format!("{path}{join}limit=2&offset={}", by_offset.len()),
                &token,
            )
            .expect(200)
            .body;
        assert_eq!(page["offset"], by_offset.len());
        let got = page[items].as_array().expect("items").clone();
        by_offset.extend(got.iter().map(|item| item[key].clone()));
        if got.is_empty() || page["next_cursor"].is_null() {
            break;
        }
    }
    let mut by_cursor = Vec::new();
    let mut page = app
        .get(&format!("{path}{join}limit=2"), &token)
        .expect(200)
        .body;
    loop {
        by_cursor.extend(
            page[items]
                .as_array()
                .expect("items")
                .iter()
                .map(|item| item[key].clone()),
        );
        let Some(cursor) = page["next_cursor"].as_str() else {
            break;
        };
        page = app
            .get(&format!("{path}{join}limit=2&cursor={cursor}"), &token)
            .expect(200)
            .body;
        assert!(
            page.get("offset").is_none(),
            "a cursor page has no offset: {page}"
        );
        assert_eq!(page["limit"], 2);
    }
    (by_offset, by_cursor)
}

fn every_list_pages_by_cursor_like_by_offset(app: &TestApp) {
    let token = app.owner();
    let ids: Vec<String> = (0..5)
        .map(|i| app.template(&format!("T{i}"), "meta_capi"))
        .collect();
    let template = &ids[0];
    for _ in 0..5 {
        app.revision(template, &meta_config());
    }
    let revision = app.revision(template, &meta_config());
    for i in 0..5 {
        let pipeline = app
            .create_pipeline(&token, &json!({ "name": format!("P{i}") }))
            .expect(201)
            .body;
        app.post(
            &format!(
                "/v1/admin/pipelines/{}/integrations",
                pipeline["id"].as_str().expect("id")
            ),
            &token,
            &json!({ "integration_id": template, "revision_id": revision["id"] }),
        )
        .expect(201);
    }
    for (path, items, key, count) in [
        (TEMPLATES.to_owned(), "integrations", "id", 5),
        ("/v1/admin/pipelines".to_owned(), "pipelines", "id", 5),
        ("/v1/admin/audit-log".to_owned(), "entries", "id", 21),
        (
            "/v1/admin/audit-log?resource_id=".to_owned() + template,
            "entries",
            "id",
            7, // its creation and its six revisions
        ),
        (
            format!("{TEMPLATES}/{template}/revisions"),
            "revisions",
            "revision_number",
            6,
        ),
        (
            format!("{TEMPLATES}/{template}/pipelines"),
            "pipelines",
            "attachment_id",
            5,
        ),
    ] {
        let (by_offset, by_cursor) = walks(app, &path, items, key);
        assert_eq!(by_offset.len(), count, "{path}");
        assert_eq!(by_cursor, by_offset, "{path}");
    }
    // The last page says so by having no next_cursor; a full first page does not.
    let all = app.list_templates(&token, "?limit=5").expect(200).body;
    assert!(all.get("next_cursor").is_none(), "{all}");
    assert_eq!(
        (all["total"].clone(), all["offset"].clone()),
        (json!(5), json!(0))
    );
    let first = app.list_templates(&token, "?limit=4").expect(200).body;
    assert!(first["next_cursor"].is_string(), "{first}");
    // A new template does not shift a cursor walk: the next page follows on.
    let cursor = first["next_cursor"].as_str().expect("a cursor").to_owned();
    app.template("Newer", "meta_capi");
    let next = app
        .get(&format!("{TEMPLATES}?limit=4&cursor={cursor}"), &token)
        .expect(200)
        .body;
    assert_eq!(next["integrations"][0]["id"], json!(ids[0]));
    assert_eq!(next["total"], 6);
}

fn bad_cursors_are_refused_naming_cursor(app: &TestApp) {
    let token = app.owner();
    for i in 0..3 {
        app.template(&format!("T{i}"), "meta_capi");
        app.create_pipeline(&token, &json!({ "name": format!("P{i}") }))
            .expect(201);
    }
    let of_templates = app.list_templates(&token, "?limit=1").expect(200).body["next_cursor"]
        .as_str()
        .expect("a cursor")
        .to_owned();
    for (path, problem) in [
        (format!("{TEMPLATES}?cursor=not*base64"), "invalid"),
        (format!("{TEMPLATES}?cursor=bm9wZQ"), "invalid"),
        (format!("{TEMPLATES}?cursor="), "invalid"),
        (
            format!("/v1/admin/pipelines?cursor={of_templates}"),
            "invalid",
        ),
        (
            format!("/v1/admin/audit-log?cursor={of_templates}"),
            "invalid",
        ),
        (
            format!("{TEMPLATES}?cursor={of_templates}&offset=0"),
            "conflict",
        ),
        (
            format!("{TEMPLATES}?cursor={of_templates}&limit=0"),
            "out_of_range",
        ),
    ] {
        let reply = app
            .get(&path, &token)
            .expect_error(422, "VALIDATION_FAILED");
        let field = if problem == "out_of_range" {
            "limit"
        } else {
            "cursor"
        };
        assert_eq!(
            reply.details(),
            vec![(field.to_owned(), problem.to_owned())],
            "{path}"
        );
    }
    let template = app.template("With revisions", "meta_capi");
    app.revision(&template, &meta_config());
    let revisions = format!("{TEMPLATES}/{template}/revisions");
    for bad in [of_templates.as_str(), "cjow", "cjotMQ"] {
        let reply = app
            .get(&format!("{revisions}?cursor={bad}"), &token)
            .expect_error(422, "VALIDATION_FAILED");
        assert_eq!(
            reply.details(),
            vec![("cursor".to_owned(), "invalid".to_owned())],
            "{bad}"
        );
    }
}

/// A cursor naming an instant no item can have (before 1970, before
/// 4713 BC where PostgreSQL's timestamps start, after 9999) is refused as
/// any bad cursor is — 422 naming `cursor` — on every list that takes one,
/// never a database error.
fn cursors_at_impossible_instants_are_refused_naming_cursor(app: &TestApp) {
    use base64::Engine as _;
    let token = app.owner();
    let template = app.template("T", "meta_capi");
    let ulid = "01KBZ0N4XW5D7Q2V6T3M9R8P1A";
    let lists = [
        (TEMPLATES.to_owned(), "tmpl_"),
        ("/v1/admin/pipelines".to_owned(), "pip_"),
        ("/v1/admin/audit-log".to_owned(), "log_"),
        (format!("{TEMPLATES}/{template}/pipelines"), "pi_"),
        (format!("{TEMPLATES}/{template}/rollouts"), "ro_"),
        ("/v1/admin/rollouts".to_owned(), "ro_"),
    ];
    for (path, prefix) in &lists {
        let cursor = |micros: i64| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(format!("n:{micros}:{prefix}{ulid}"))
        };
        // A sane instant with the list's kind of id is a cursor it takes.
        app.get(
            &format!("{path}?cursor={}", cursor(1_700_000_000_000_000)),
            &token,
        )
        .expect(200);
        for micros in [-1, -219_000_000_000_000_000, 253_402_300_800_000_000] {
            let reply = app
                .get(&format!("{path}?cursor={}", cursor(micros)), &token)
                .expect_error(422, "VALIDATION_FAILED");
            assert_eq!(
                reply.details(),
                vec![("cursor".to_owned(), "invalid".to_owned())],
                "{path} at {micros}"
            );
        }
    }
}

crate::api_tests!(
    cursors_at_impossible_instants_are_refused_naming_cursor,
    every_list_pages_by_cursor_like_by_offset,
    bad_cursors_are_refused_naming_cursor,
);
