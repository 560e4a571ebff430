//! docs/api.md "Integration templates" over HTTP, including the seed page's examples.

use serde_json::{Value, json};

use crate::support::{TestApp, paths::TEMPLATES};

fn is_rfc3339_utc(value: &Value) -> bool {
    value.as_str().is_some_and(|s| {
        s.ends_with('Z')
            && time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .is_ok()
    })
}

fn seed_create_get_list_update_delete(app: &TestApp) {
    let token = app.owner();
    // The seed's "Create Integration Template" request.
    let created = app
        .create_template(&token, &json!({ "name": "Custom GA4 Setup", "vendor": "ga4", "description": "GA4 for internal analytics" }))
        .expect(201);
    let template = created.body.clone();
    let id = template["id"].as_str().expect("an id").to_owned();
    assert!(id.starts_with("tmpl_") && id.len() == 31, "{id}");
    assert_eq!(
        created.header("location"),
        Some(format!("{TEMPLATES}/{id}").as_str())
    );
    let expected_keys = [
        "catalog_variant_key",
        "catalog_vendor_key",
        "created_at",
        "description",
        "id",
        "latest_revision",
        "name",
        "org_id",
        "updated_at",
        "vendor",
    ];
    let mut keys: Vec<&str> = template
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, expected_keys);
    assert_eq!(template["org_id"], "org_a");
    assert_eq!(template["vendor"], "ga4");
    assert_eq!(template["catalog_vendor_key"], Value::Null);
    assert_eq!(template["latest_revision"], 0);
    assert!(
        is_rfc3339_utc(&template["created_at"]) && template["created_at"] == template["updated_at"]
    );

    // The seed's "Get Integration Template" and "List" (`?limit=20`).
    assert_eq!(app.get_template(&token, &id).expect(200).body, template);
    let listed = app.list_templates(&token, "?limit=20").expect(200).body;
    assert_eq!(
        listed,
        json!({ "integrations": [template], "total": 1, "limit": 20, "offset": 0 })
    );

    // The seed's "Update Integration Template".
    let updated = app
        .update_template(
            &token,
            &id,
            &json!({ "name": "Meta CAPI - E-commerce", "description": "Updated description" }),
        )
        .expect(200)
        .body;
    assert_eq!(updated["name"], "Meta CAPI - E-commerce");
    assert_eq!(updated["description"], "Updated description");
    assert_eq!(updated["vendor"], "ga4", "vendor is not updatable");
    assert_ne!(updated["updated_at"], template["updated_at"]);
    assert_eq!(updated["created_at"], template["created_at"]);
    let cleared = app
        .update_template(&token, &id, &json!({ "description": null }))
        .expect(200)
        .body;
    assert_eq!(cleared["description"], Value::Null);
    assert_eq!(cleared["name"], "Meta CAPI - E-commerce");

    // The seed's "Delete Integration Template".
    let deleted = app.delete_template(&token, &id).expect(200).body;
    assert_eq!(deleted, json!({ "status": "deleted" }));
    app.get_template(&token, &id).expect_error(404, "NOT_FOUND");
    app.list_revisions(&token, &id, "")
        .expect_error(404, "NOT_FOUND");
    app.delete_template(&token, &id)
        .expect_error(404, "NOT_FOUND");
    assert_eq!(app.list_templates(&token, "").expect(200).body["total"], 0);
}

fn lists_are_paginated_newest_first(app: &TestApp) {
    let token = app.owner();
    let ids: Vec<String> = (0..7)
        .map(|i| app.template(&format!("T{i}"), "webhook"))
        .collect();
    let all = app.list_templates(&token, "").expect(200).body;
    assert_eq!(
        (
            all["total"].as_u64(),
            all["limit"].as_u64(),
            all["offset"].as_u64()
        ),
        (Some(7), Some(50), Some(0))
    );
    let listed: Vec<&str> = all["integrations"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    let newest_first: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    assert_eq!(listed, newest_first);
    let page = app
        .list_templates(&token, "?limit=3&offset=2")
        .expect(200)
        .body;
    let paged: Vec<&str> = page["integrations"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert_eq!(paged, newest_first[2..5]);
    assert_eq!(
        (
            page["total"].as_u64(),
            page["limit"].as_u64(),
            page["offset"].as_u64()
        ),
        (Some(7), Some(3), Some(2))
    );
    let beyond = app.list_templates(&token, "?offset=100").expect(200).body;
    assert_eq!(beyond["integrations"], json!([]));
    assert_eq!(
        app.list_templates(&token, "?limit=100").expect(200).body["limit"],
        100
    );
}

fn names_are_trimmed_unique_and_reusable(app: &TestApp) {
    let token = app.owner();
    let created = app
        .create_template(&token, &json!({ "name": "  GA4 web  ", "vendor": "ga4" }))
        .expect(201)
        .body;
    assert_eq!(created["name"], "GA4 web");
    let clash = app
        .create_template(&token, &json!({ "name": "ga4 WEB", "vendor": "ga4" }))
        .expect_error(409, "NAME_TAKEN");
    assert_eq!(
        clash.body["error"]["message"],
        "an integration template named 'ga4 WEB' already exists"
    );
    // Another org may use the name.
    app.create_template(
        &app.token("org_b", integrations_domain::Role::Editor),
        &json!({ "name": "GA4 web", "vendor": "ga4" }),
    )
    .expect(201);
    let id = created["id"].as_str().expect("an id");
    app.delete_template(&token, id).expect(200);
    app.create_template(&token, &json!({ "name": "GA4 WEB", "vendor": "ga4" }))
        .expect(201);
    let unicode = "Pixel — été 🎉";
    assert_eq!(
        app.create_template(&token, &json!({ "name": unicode, "vendor": "meta_capi" }))
            .expect(201)
            .body["name"],
        unicode
    );
}

crate::api_tests!(
    seed_create_get_list_update_delete,
    lists_are_paginated_newest_first,
    names_are_trimmed_unique_and_reusable,
);
