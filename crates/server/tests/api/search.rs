//! `?q` and `?vendor` on the template and pipeline lists.

use integrations_domain::Role;
use serde_json::{Value, json};

use crate::support::TestApp;

/// `text` percent-encoded for a query string (every byte but the unreserved).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn names(body: &Value, items: &str) -> Vec<String> {
    let mut names: Vec<String> = body[items]
        .as_array()
        .expect("a list")
        .iter()
        .map(|t| t["name"].as_str().expect("a name").to_owned())
        .collect();
    names.sort();
    names
}

fn templates_are_found_by_name_and_vendor(app: &TestApp) {
    let viewer = app.token("org_a", Role::Viewer);
    for (name, vendor) in [
        ("Meta CAPI Production", "meta_capi"),
        ("meta capi staging", "meta_capi"),
        ("GA4 web", "ga4"),
        ("50% off", "ga4"),
        ("500 off", "ga4"),
        ("a_b", "ga4"),
        ("axb", "ga4"),
        ("back\\slash", "ga4"),
        ("Ärger", "meta_capi"),
    ] {
        app.template(name, vendor);
    }
    let found = |query: &str| {
        let body = app.list_templates(&viewer, query).expect(200).body;
        (names(&body, "integrations"), body["total"].clone())
    };
    let q = |text: &str| format!("?q={}", encode(text));
    assert_eq!(
        found(&q("capi")),
        (
            vec!["Meta CAPI Production".into(), "meta capi staging".into()],
            json!(2)
        )
    );
    assert_eq!(found(&q("%")), (vec!["50% off".into()], json!(1)));
    assert_eq!(found(&q("_")), (vec!["a_b".into()], json!(1)));
    assert_eq!(found(&q("\\")), (vec!["back\\slash".into()], json!(1)));
    assert_eq!(found(&q("ä")), (vec!["Ärger".into()], json!(1)));
    assert_eq!(found(&q("ÄRGER")), (vec!["Ärger".into()], json!(1)));
    assert_eq!(found(&q("")).1, json!(9));
    assert_eq!(found("?vendor=ga4").1, json!(6));
    assert_eq!(
        found(&format!("{}&vendor=ga4", q("OFF"))),
        (vec!["50% off".into(), "500 off".into()], json!(2))
    );
    // A known vendor without templates: an empty list.
    assert_eq!(found("?vendor=webhook"), (vec![], json!(0)));
    // Unfiltered, as before.
    assert_eq!(found("").1, json!(9));
    // Another org's templates are never found.
    let stranger = app.token("org_b", Role::Owner);
    let body = app.list_templates(&stranger, &q("capi")).expect(200).body;
    assert_eq!(body["total"], json!(0));
}

fn filtered_lists_page_by_cursor_and_offset(app: &TestApp) {
    let token = app.owner();
    for i in 0..5 {
        app.template(&format!("Hit {i}"), "ga4");
        app.template(&format!("Miss {i}"), "ga4");
    }
    let first = app
        .list_templates(&token, "?q=hit&limit=2")
        .expect(200)
        .body;
    assert_eq!(first["total"], json!(5));
    let mut seen = names(&first, "integrations");
    let mut cursor = first["next_cursor"].as_str().map(str::to_owned);
    while let Some(next) = cursor {
        let page = app
            .list_templates(&token, &format!("?q=hit&limit=2&cursor={next}"))
            .expect(200)
            .body;
        assert_eq!(page["total"], json!(5));
        seen.extend(names(&page, "integrations"));
        cursor = page["next_cursor"].as_str().map(str::to_owned);
    }
    seen.sort();
    assert_eq!(seen, ["Hit 0", "Hit 1", "Hit 2", "Hit 3", "Hit 4"]);
    let offset = app
        .list_templates(&token, "?q=HIT&limit=2&offset=4")
        .expect(200)
        .body;
    assert_eq!(names(&offset, "integrations"), ["Hit 0"]);
    assert!(offset.get("next_cursor").is_none(), "{offset}");
    // A cursor is a position: with another filter it pages that filter's
    // list from there.
    let miss_cursor = app
        .list_templates(&token, "?q=miss&limit=1")
        .expect(200)
        .body["next_cursor"]
        .as_str()
        .expect("a cursor")
        .to_owned();
    let after = app
        .list_templates(&token, &format!("?q=hit&cursor={miss_cursor}"))
        .expect(200)
        .body;
    assert_eq!(
        names(&after, "integrations"),
        ["Hit 0", "Hit 1", "Hit 2", "Hit 3", "Hit 4"]
    );
}

fn bad_searches_are_422_and_change_nothing(app: &TestApp) {
    let token = app.owner();
    app.template("Kept", "ga4");
    let long = "x".repeat(201);
    for (query, field, problem) in [
        (format!("?q={long}"), "q", "too_long"),
        ("?q=a%00b".to_owned(), "q", "control_character"),
        ("?q=a%0Ab".to_owned(), "q", "control_character"),
        ("?vendor=nope".to_owned(), "vendor", "unknown_vendor"),
        ("?vendor=".to_owned(), "vendor", "unknown_vendor"),
    ] {
        let reply = app
            .list_templates(&token, &query)
            .expect_error(422, "VALIDATION_FAILED");
        assert!(reply.has_detail(field, problem), "{query}: {}", reply.text);
    }
    // 200 characters are fine; counted in characters, not bytes.
    let at_limit = "ä".repeat(200);
    app.list_templates(&token, &format!("?q={}", encode(&at_limit)))
        .expect(200);
    let reply = app
        .list_pipelines(&token, &format!("?q={long}"))
        .expect_error(422, "VALIDATION_FAILED");
    assert!(reply.has_detail("q", "too_long"), "{}", reply.text);
    // Two of one parameter, or bytes that are not UTF-8: never a 500.
    for query in ["?q=a&q=b", "?q=%FF%FE", "?vendor=ga4&vendor=ga4"] {
        let status = app.list_templates(&token, query).status;
        assert!(status == 200 || status == 400, "{query}: {status}");
    }
    assert_eq!(app.list_templates(&token, "").expect(200).body["total"], 1);
}

fn pipelines_are_found_by_name(app: &TestApp) {
    let token = app.owner();
    for name in ["Web shop", "WEB app", "Ärger_1", "Ärger 1"] {
        app.create_pipeline(&token, &json!({ "name": name }))
            .expect(201);
    }
    let service = app.token("org_a", Role::Service);
    let found = |text: &str| {
        let body = app
            .list_pipelines(&service, &format!("?q={}", encode(text)))
            .expect(200)
            .body;
        (names(&body, "pipelines"), body["total"].clone())
    };
    assert_eq!(
        found("web"),
        (vec!["WEB app".into(), "Web shop".into()], json!(2))
    );
    assert_eq!(found("R_").0, ["Ärger_1"]);
    assert_eq!(found("ä").1, json!(2));
    assert_eq!(found("").1, json!(4));
}

crate::api_tests!(
    templates_are_found_by_name_and_vendor,
    filtered_lists_page_by_cursor_and_offset,
    bad_searches_are_422_and_change_nothing,
    pipelines_are_found_by_name,
);
