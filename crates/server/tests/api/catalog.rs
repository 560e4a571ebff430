//! docs/api.md "Integration catalog" over HTTP: the catalog, installing from it, and validating every
//! revision's config against the vendor's fields (docs/api.md, "Revisions").

use std::collections::BTreeSet;

use integrations_domain::Role;
use serde_json::{Map, Value, json};

use crate::support::{
    TestApp,
    paths::{self, CATALOG, TEMPLATES},
};

const CATEGORIES: [&str; 6] = [
    "advertising",
    "analytics",
    "attribution",
    "cdp",
    "cloud_storage",
    "other",
];
const FIELD_TYPES: [&str; 9] = [
    "string", "secret", "textarea", "number", "integer", "boolean", "select", "object", "array",
];

/// The whole catalog, as a viewer reads it.
fn vendors(app: &TestApp) -> Vec<Value> {
    let reply = app
        .list_catalog(&app.token("org_a", Role::Viewer))
        .expect(200);
    reply.body["vendors"]
        .as_array()
        .expect("a vendors array")
        .clone()
}

fn keys(vendors: &[Value]) -> BTreeSet<String> {
    vendors
        .iter()
        .map(|v| v["key"].as_str().expect("a key").to_owned())
        .collect()
}

/// `(field, problem)` of every detail of an error body, sorted.
fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = expected
        .iter()
        .map(|(f, p)| ((*f).to_owned(), (*p).to_owned()))
        .collect();
    pairs.sort();
    pairs
}

fn template_total(app: &TestApp) -> u64 {
    app.list_templates(&app.owner(), "").expect(200).body["total"]
        .as_u64()
        .expect("a total")
}

fn revision_rows(app: &TestApp) -> String {
    app.db
        .texts("SELECT CAST(COUNT(*) AS TEXT) AS value FROM revisions")
        .concat()
}

/// Whether a required field counts as absent (absent, null or blank).
fn is_missing(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(_) => false,
    }
}

/// A valid value of the field's type.
fn filler(field: &Value) -> Value {
    match field["type"].as_str().expect("a field type") {
        "string" | "secret" | "textarea" => json!("x"),
        "select" => field["options"][0].clone(),
        "number" | "integer" => json!(1),
        "boolean" => json!(true),
        "object" => json!({}),
        "array" => json!([]),
        other => panic!("unknown field type {other}"),
    }
}

fn is_placeholder(value: &Value) -> bool {
    value.as_str().is_some_and(|s| {
        s.strip_prefix("{{pipeline_param.")
            .and_then(|rest| rest.strip_suffix("}}"))
            .is_some_and(|key| {
                !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            })
    })
}

/// `config` as a response shows it: every secret that is not a placeholder masked.
fn masked(vendor: &Value, config: &Map<String, Value>) -> Value {
    let mut config = config.clone();
    let mask = |value: &mut Value| {
        if !value.is_null() && !is_placeholder(value) {
            *value = json!("***");
        }
    };
    for field in vendor["config_fields"].as_array().expect("fields") {
        let key = field["key"].as_str().expect("a key");
        match config.get_mut(key) {
            Some(value) if field["type"] == "secret" => mask(value),
            // A field whose values are secrets (the webhook's headers).
            Some(Value::Object(members)) if field["secret_values"] == true => {
                members.values_mut().for_each(mask);
            }
            _ => {}
        }
    }
    Value::Object(config)
}

/// The variant's default config plus fillers for required fields it leaves out.
fn minimal_extra(vendor: &Value, defaults: &Map<String, Value>) -> Map<String, Value> {
    vendor["config_fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter(|f| f["required"] == true)
        .filter(|f| is_missing(defaults.get(f["key"].as_str().expect("a key"))))
        .map(|f| (f["key"].as_str().expect("a key").to_owned(), filler(f)))
        .collect()
}

fn vendor_by_key<'a>(vendors: &'a [Value], key: &str) -> &'a Value {
    vendors
        .iter()
        .find(|v| v["key"] == key)
        .unwrap_or_else(|| panic!("the catalog has {key}"))
}

/// A config of `vendor`'s default variant that passes validation.
fn valid_config(vendor: &Value) -> Map<String, Value> {
    let defaults = vendor["variants"]
        .as_array()
        .expect("variants")
        .iter()
        .find(|v| v["key"] == "default")
        .expect("a default variant")["default_config"]
        .as_object()
        .expect("an object")
        .clone();
    let mut config = defaults.clone();
    config.extend(minimal_extra(vendor, &defaults));
    config
}

fn catalog_lists_every_vendor_in_full(app: &TestApp) {
    let vendors = vendors(app);
    assert!(vendors.len() >= 12, "{} vendors", vendors.len());
    let keys = keys(&vendors);
    assert_eq!(keys.len(), vendors.len(), "vendor keys are unique");
    for required in [
        "meta_capi",
        "ga4",
        "google_ads",
        "tiktok",
        "webhook",
        "slack",
    ] {
        assert!(keys.contains(required), "{required} is missing: {keys:?}");
    }
    for vendor in &vendors {
        let key = vendor["key"].as_str().expect("a key");
        for member in ["name", "description", "website"] {
            assert!(
                vendor[member].as_str().is_some_and(|s| !s.is_empty()),
                "{key}.{member}: {vendor}"
            );
        }
        assert!(
            CATEGORIES.contains(&vendor["category"].as_str().unwrap_or_default()),
            "{key}: {}",
            vendor["category"]
        );
        assert!(
            ["ga", "beta"].contains(&vendor["status"].as_str().unwrap_or_default()),
            "{key}: {}",
            vendor["status"]
        );
        let fields = vendor["config_fields"].as_array().expect("config_fields");
        assert!(!fields.is_empty(), "{key} has fields");
        for field in fields {
            assert!(field["key"].as_str().is_some(), "{key}: {field}");
            assert!(field["label"].as_str().is_some(), "{key}: {field}");
            assert!(field["required"].is_boolean(), "{key}: {field}");
            let field_type = field["type"].as_str().unwrap_or_default();
            assert!(FIELD_TYPES.contains(&field_type), "{key}: {field}");
            if field_type == "select" {
                assert!(
                    field["options"]
                        .as_array()
                        .is_some_and(|o| !o.is_empty() && o.iter().all(Value::is_string)),
                    "{key}: a select has options: {field}"
                );
            }
        }
        let variants = vendor["variants"].as_array().expect("variants");
        assert!(
            variants.iter().any(|v| v["key"] == "default"),
            "{key} has a default variant"
        );
        for variant in variants {
            for member in ["key", "name", "description"] {
                assert!(variant[member].is_string(), "{key}: {variant}");
            }
            assert!(variant["default_config"].is_object(), "{key}: {variant}");
        }
    }
    // Every human role reads the catalog; the event processor's `service`
    // role does not need it, and nobody without a token does.
    for role in [Role::Owner, Role::Admin, Role::Editor] {
        let reply = app.list_catalog(&app.token("org_a", role)).expect(200);
        assert_eq!(reply.body["vendors"], Value::Array(vendors.clone()));
    }
    app.list_catalog(&app.token("org_a", Role::Service))
        .expect_error(403, "FORBIDDEN");
    app.call("GET", CATALOG, None, None)
        .expect_error(401, "MISSING_TOKEN");
}

fn catalog_filters_by_category(app: &TestApp) {
    let token = app.token("org_a", Role::Viewer);
    let all = vendors(app);
    let advertising = app
        .get(&format!("{CATALOG}?category=advertising"), &token)
        .expect(200)
        .body["vendors"]
        .as_array()
        .expect("vendors")
        .clone();
    assert!(!advertising.is_empty());
    assert!(
        advertising.iter().all(|v| v["category"] == "advertising"),
        "{advertising:?}"
    );
    let advertising_keys = keys(&advertising);
    assert!(advertising_keys.contains("meta_capi"));
    assert!(!advertising_keys.contains("ga4"));
    // Each category returns exactly the vendors of that category.
    let mut seen = BTreeSet::new();
    for category in CATEGORIES {
        let listed = app
            .get(&format!("{CATALOG}?category={category}"), &token)
            .expect(200)
            .body["vendors"]
            .as_array()
            .expect("vendors")
            .clone();
        let expected: Vec<Value> = all
            .iter()
            .filter(|v| v["category"] == category)
            .cloned()
            .collect();
        assert_eq!(keys(&listed), keys(&expected), "{category}");
        seen.extend(keys(&listed));
    }
    assert_eq!(seen, keys(&all), "the categories partition the catalog");
    for unknown in ["nope", "Advertising", "ADVERTISING"] {
        let reply = app
            .get(&format!("{CATALOG}?category={unknown}"), &token)
            .expect_error(422, "VALIDATION_FAILED");
        assert!(
            reply
                .sorted_details()
                .iter()
                .any(|(field, _)| field == "category"),
            "{unknown}: {}",
            reply.body
        );
    }
}

fn vendors_are_fetched_one_by_one(app: &TestApp) {
    let token = app.token("org_a", Role::Viewer);
    for vendor in vendors(app) {
        let key = vendor["key"].as_str().expect("a key");
        let fetched = app.get_catalog_entry(&token, key).expect(200);
        assert_eq!(fetched.body, vendor, "{key}");
    }
    for unknown in ["nope", "META_CAPI", "meta_capi%20"] {
        app.get_catalog_entry(&token, unknown)
            .expect_error(404, "NOT_FOUND");
        app.install(&app.owner(), unknown, &json!({ "name": "Nope" }))
            .expect_error(404, "NOT_FOUND");
    }
    app.call("GET", &format!("{CATALOG}/meta_capi"), None, None)
        .expect_error(401, "MISSING_TOKEN");
    assert_eq!(template_total(app), 0, "nothing was installed");
}

fn install_creates_a_template_with_revision_one(app: &TestApp) {
    let token = app.token("org_a", Role::Editor);
    let vendors = vendors(app);
    let meta = vendor_by_key(&vendors, "meta_capi");
    let retail = meta["variants"]
        .as_array()
        .expect("variants")
        .iter()
        .find(|v| v["key"] == "retail")
        .expect("meta_capi has a retail variant")["default_config"]
        .as_object()
        .expect("an object")
        .clone();
    let overrides = json!({
        "pixel_id": "987654321",
        "access_token": "EAAB-install-secret",
        "batch_size": 250,
        "event_name_mapping": { "order_completed": "Purchase" },
        "custom_key": ["kept"]
    });
    let reply = app
        .install(
            &token,
            "meta_capi",
            &json!({
                "name": "Meta CAPI Retail",
                "variant": "retail",
                "description": "Retail pixel",
                "config": overrides,
                "change_summary": "First install"
            }),
        )
        .expect(201);
    let body = reply.body.clone();
    let members: BTreeSet<&str> = body
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(members, BTreeSet::from(["template", "revision"]));
    let template = &body["template"];
    let revision = &body["revision"];
    let id = template["id"].as_str().expect("an id");
    assert!(id.starts_with("tmpl_"), "{id}");
    assert_eq!(template["name"], "Meta CAPI Retail");
    assert_eq!(template["vendor"], "meta_capi");
    assert_eq!(template["description"], "Retail pixel");
    assert_eq!(template["org_id"], "org_a");
    assert_eq!(template["catalog_vendor_key"], "meta_capi");
    assert_eq!(template["catalog_variant_key"], "retail");
    assert_eq!(template["latest_revision"], 1);
    assert_eq!(template["updated_at"], revision["created_at"]);
    let location = reply.header("location").expect("a Location header");
    assert!(
        location.ends_with(&format!("{TEMPLATES}/{id}")),
        "Location: {location}"
    );

    // The variant's defaults overlaid by the request, per top-level key: the
    // request's event_name_mapping replaces the variant's whole mapping.
    let mut expected = retail.clone();
    expected.extend(overrides.as_object().expect("an object").clone());
    assert_eq!(revision["revision_number"], 1);
    assert_eq!(revision["integration_id"], id);
    assert_eq!(revision["org_id"], "org_a");
    assert_eq!(revision["delivery_mode"], "server_side");
    assert_eq!(revision["change_summary"], "First install");
    assert_eq!(revision["created_by"], "user_123");
    assert!(
        revision["id"]
            .as_str()
            .is_some_and(|r| r.starts_with("rev_"))
    );
    assert_eq!(revision["config"], masked(meta, &expected));
    assert_eq!(revision["config"]["access_token"], "***");
    assert_eq!(
        revision["config"]["event_name_mapping"],
        json!({ "order_completed": "Purchase" })
    );
    assert_eq!(revision["config"]["action_source"], retail["action_source"]);

    // What install answered is what the API reads back.
    assert_eq!(
        app.get(location.trim_start_matches(&app.base), &token)
            .expect(200)
            .body,
        *template
    );
    assert_eq!(
        app.get(&format!("{}/1", paths::revisions(id)), &token)
            .expect(200)
            .body,
        *revision
    );
    let listed = app.list_revisions(&token, id, "").expect(200).body;
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["revisions"][0], *revision);
}

fn install_defaults_to_the_default_variant_and_server_side(app: &TestApp) {
    let token = app.token("org_a", Role::Editor);
    let vendors = vendors(app);
    // Defaults: variant `default`, delivery_mode `server_side`, the variant's config as is.
    let ga4 = vendor_by_key(&vendors, "ga4");
    let plain = app
        .install(&token, "ga4", &json!({ "name": "GA4 web" }))
        .expect(201)
        .body;
    assert_eq!(plain["template"]["catalog_variant_key"], "default");
    assert_eq!(plain["template"]["catalog_vendor_key"], "ga4");
    assert_eq!(plain["template"]["description"], Value::Null);
    assert_eq!(plain["revision"]["delivery_mode"], "server_side");
    assert_eq!(
        plain["revision"]["config"],
        masked(ga4, &valid_config(ga4)),
        "the default variant's config, placeholders shown as they are"
    );
    let client = app
        .install(
            &token,
            "ga4",
            &json!({ "name": "GA4 client", "variant": "debug", "delivery_mode": "client_side" }),
        )
        .expect(201)
        .body;
    assert_eq!(client["revision"]["delivery_mode"], "client_side");
    assert_eq!(client["template"]["catalog_variant_key"], "debug");
    assert_eq!(client["revision"]["config"]["debug_mode"], true);
    assert_eq!(template_total(app), 2);
}

fn install_refuses_unknown_variants_and_bad_values(app: &TestApp) {
    let token = app.owner();
    let reply = app
        .install(
            &token,
            "meta_capi",
            &json!({ "name": "Meta", "variant": "no_such_variant" }),
        )
        .expect_error(422, "VALIDATION_FAILED");
    let found = reply.sorted_details();
    assert!(
        found.iter().any(|(field, _)| field == "variant"),
        "{}",
        reply.body
    );
    let reply = app
        .install(
            &token,
            "meta_capi",
            &json!({ "name": "Meta", "delivery_mode": "sideways" }),
        )
        .expect_error(422, "VALIDATION_FAILED");
    assert!(
        reply
            .sorted_details()
            .iter()
            .any(|(field, _)| field == "delivery_mode"),
        "{}",
        reply.body
    );
    // Malformed bodies are 400; server-assigned fields cannot be set.
    for body in [
        json!({}),
        json!({ "name": 5 }),
        json!({ "name": "Meta", "config": [] }),
        json!({ "name": "Meta", "vendor": "ga4" }),
        json!({ "name": "Meta", "revision_number": 7 }),
    ] {
        app.install(&token, "meta_capi", &body)
            .expect_error(400, "INVALID_REQUEST");
    }
    app.raw(
        "POST",
        &paths::install("meta_capi"),
        Some(&token),
        Some(("text/plain", br#"{"name":"Meta"}"#.to_vec())),
    )
    .expect_error(415, "UNSUPPORTED_MEDIA_TYPE");
    assert_eq!(template_total(app), 0);
    assert_eq!(revision_rows(app), "0");
}

fn install_validates_the_merged_config_and_creates_nothing_on_failure(app: &TestApp) {
    let token = app.owner();
    app.install(&token, "webhook", &json!({ "name": "Existing" }))
        .expect(201);
    let before = (template_total(app), revision_rows(app));
    assert_eq!(before, (1, "1".to_owned()));
    let reply = app
        .install(
            &token,
            "meta_capi",
            &json!({
                "name": "Broken Meta",
                "config": { "pixel_id": 42, "batch_size": "lots", "access_token": null }
            }),
        )
        .expect_error(422, "VALIDATION_FAILED");
    assert_eq!(
        reply.sorted_details(),
        pairs(&[
            ("config.pixel_id", "invalid_type"),
            ("config.batch_size", "invalid_type"),
            ("config.access_token", "required"),
        ])
    );
    // A mask with nothing before it cannot be kept on install either.
    let reply = app
        .install(
            &token,
            "meta_capi",
            &json!({ "name": "Broken Meta", "config": { "access_token": "***" } }),
        )
        .expect_error(422, "VALIDATION_FAILED");
    assert_eq!(
        reply.sorted_details(),
        pairs(&[("config.access_token", "no_previous_secret")])
    );
    assert_eq!((template_total(app), revision_rows(app)), before);
    app.list_templates(&token, "?limit=100").expect(200).body["integrations"]
        .as_array()
        .expect("a list")
        .iter()
        .for_each(|t| assert_ne!(t["name"], "Broken Meta"));
}

fn install_with_a_taken_name_leaves_no_orphan_revision(app: &TestApp) {
    let token = app.owner();
    app.template("Meta Prod", "meta_capi");
    app.install(&token, "ga4", &json!({ "name": "GA4 web" }))
        .expect(201);
    let before = (template_total(app), revision_rows(app));
    assert_eq!(before, (2, "1".to_owned()));
    for (vendor, name) in [
        ("meta_capi", "meta prod"),
        ("meta_capi", "  META PROD "),
        ("ga4", "ga4 WEB"),
        ("webhook", "GA4 web"),
    ] {
        app.install(&token, vendor, &json!({ "name": name }))
            .expect_error(409, "NAME_TAKEN");
        assert_eq!(
            (template_total(app), revision_rows(app)),
            before,
            "{vendor} {name}"
        );
    }
    // Another org may use the name.
    app.install(
        &app.token("org_b", Role::Editor),
        "ga4",
        &json!({ "name": "GA4 web" }),
    )
    .expect(201);
    assert_eq!(template_total(app), 2, "org_b's template is not org_a's");
}

fn install_needs_editor_or_above(app: &TestApp) {
    let body = json!({ "name": "Meta" });
    for role in [Role::Viewer, Role::Service] {
        let token = app.token("org_a", role);
        app.install(&token, "meta_capi", &body)
            .expect_error(403, "FORBIDDEN");
        // The role is checked before the vendor is looked up and the body validated.
        app.install(&token, "no_such_vendor", &body)
            .expect_error(403, "FORBIDDEN");
        app.install(&token, "meta_capi", &json!({ "bogus": 1 }))
            .expect_error(403, "FORBIDDEN");
    }
    app.call("POST", &paths::install("meta_capi"), None, Some(&body))
        .expect_error(401, "MISSING_TOKEN");
    assert_eq!(template_total(app), 0);
    assert_eq!(revision_rows(app), "0");
    for (role, name) in [
        (Role::Editor, "By editor"),
        (Role::Admin, "By admin"),
        (Role::Owner, "By owner"),
    ] {
        app.install(
            &app.token("org_a", role),
            "meta_capi",
            &json!({ "name": name }),
        )
        .expect(201);
    }
    assert_eq!(template_total(app), 3);
}

/// The table: every variant of every vendor installs with the minimal config.
fn every_variant_of_every_vendor_installs(app: &TestApp) {
    let token = app.token("org_a", Role::Editor);
    let vendors = vendors(app);
    let mut installed = 0_u64;
    for vendor in &vendors {
        let key = vendor["key"].as_str().expect("a key");
        for variant in vendor["variants"].as_array().expect("variants") {
            let variant_key = variant["key"].as_str().expect("a key");
            let defaults = variant["default_config"].as_object().expect("an object");
            let extra = minimal_extra(vendor, defaults);
            let reply = app.install(&token, key, &json!({ "name": format!("{key} / {variant_key}"), "variant": variant_key, "config": extra }));
            assert_eq!(
                reply.status, 201,
                "{key} / {variant_key} with {extra:?}: {}",
                reply.body
            );
            let revision = &reply.body["revision"];
            assert_eq!(revision["revision_number"], 1, "{key} / {variant_key}");
            let mut expected = defaults.clone();
            expected.extend(extra);
            assert_eq!(
                revision["config"],
                masked(vendor, &expected),
                "{key} / {variant_key}"
            );
            let template = &reply.body["template"];
            assert_eq!(template["catalog_vendor_key"], key);
            assert_eq!(template["catalog_variant_key"], variant_key);
            assert_eq!(template["latest_revision"], 1);
            installed += 1;
        }
    }
    assert_eq!(template_total(app), installed);
    assert_eq!(revision_rows(app), installed.to_string());
}

/// Wrong-typed values for a field type, each with the problem it must give.
fn wrong_values(field: &Value) -> Vec<(Value, &'static str)> {
    match field["type"].as_str().expect("a type") {
        "string" | "secret" | "textarea" => vec![
            (json!(42), "invalid_type"),
            (json!(true), "invalid_type"),
            (json!(["x"]), "invalid_type"),
            (json!({ "x": 1 }), "invalid_type"),
        ],
        "select" => vec![
            (json!(42), "invalid_type"),
            (json!([field["options"][0].clone()]), "invalid_type"),
            (json!("not-one-of-the-options"), "not_an_option"),
        ],
        "number" => vec![
            (json!("1"), "invalid_type"),
            (json!(true), "invalid_type"),
            (json!([1]), "invalid_type"),
        ],
        "integer" => vec![
            (json!("100"), "invalid_type"),
            (json!(1.5), "invalid_type"),
            (json!(false), "invalid_type"),
            (json!("n{{pipeline_param.batch}}"), "invalid_type"),
        ],
        "boolean" => vec![
            (json!("true"), "invalid_type"),
            (json!(1), "invalid_type"),
            (json!([]), "invalid_type"),
        ],
        "object" => vec![
            (json!([]), "invalid_type"),
            (json!("{}"), "invalid_type"),
            (json!(1), "invalid_type"),
        ],
        "array" => vec![
            (json!({}), "invalid_type"),
            (json!("[]"), "invalid_type"),
            (json!(1), "invalid_type"),
        ],
        other => panic!("unknown field type {other}"),
    }
}

/// For every field type the catalog declares, a vendor field of that type:
/// wrong-typed values are refused with `config.<key>`, a whole placeholder and
/// a right-typed value are accepted. No vendor declares `number` today, so that
/// type is covered only once a vendor does (the loop picks it up by itself).
fn every_field_type_is_validated_on_revisions(app: &TestApp) {
    let token = app.token("org_a", Role::Editor);
    let vendors = vendors(app);
    let mut covered = BTreeSet::new();
    for field_type in FIELD_TYPES {
        let Some((vendor, field)) = vendors.iter().find_map(|vendor| {
            vendor["config_fields"]
                .as_array()
                .expect("fields")
                .iter()
                .find(|f| f["type"] == field_type)
                .map(|f| (vendor, f))
        }) else {
            continue;
        };
        covered.insert(field_type);
        let vendor_key = vendor["key"].as_str().expect("a key");
        let key = field["key"].as_str().expect("a key");
        let id = app.template(&format!("{field_type} via {vendor_key}"), vendor_key);
        let base = valid_config(vendor);
        let path = format!("config.{key}");
        for (wrong, problem) in wrong_values(field) {
            let mut config = base.clone();
            config.insert(key.to_owned(), wrong.clone());
            let reply = app
                .create_revision(
                    &token,
                    &id,
                    &json!({ "config": config, "delivery_mode": "server_side" }),
                )
                .expect_error(422, "VALIDATION_FAILED");
            assert_eq!(
                reply.sorted_details(),
                pairs(&[(&path, problem)]),
                "{vendor_key}.{key} ({field_type}) = {wrong}"
            );
        }
        let placeholder = json!(format!("{{{{pipeline_param.{key}_param}}}}"));
        let mut accepted = vec![placeholder.clone(), filler(field)];
        if let Some(default) = field.get("default") {
            accepted.push(default.clone());
        }
        for good in accepted {
            let mut config = base.clone();
            config.insert(key.to_owned(), good.clone());
            let reply = app.create_revision(
                &token,
                &id,
                &json!({ "config": config, "delivery_mode": "server_side" }),
            );
            assert_eq!(
                reply.status, 201,
                "{vendor_key}.{key} ({field_type}) = {good}: {}",
                reply.body
            );
            if good == placeholder {
                assert_eq!(reply.body["config"][key], placeholder, "shown as it is");
            }
        }
        assert_eq!(
            app.list_revisions(&token, &id, "").expect(200).body["total"],
            2 + u64::from(field.get("default").is_some()),
            "{vendor_key}.{key}: only the valid configs became revisions"
        );
    }
    let expected: BTreeSet<&str> = FIELD_TYPES.into_iter().filter(|t| *t != "number").collect();
    assert!(
        covered.is_superset(&expected),
        "the catalog declares every field type but number: {covered:?}"
    );
}

fn every_problem_is_reported_at_once(app: &TestApp) {
    let token = app.token("org_a", Role::Editor);
    let meta = app.template("Meta", "meta_capi");
    let reply = app
        .create_revision(
            &token,
            &meta,
            &json!({
                "config": {
                    "pixel_id": 42,
                    "access_token": 7,
                    "api_version": "v1.0",
                    "action_source": ["website"],
                    "test_event_code": false,
                    "batch_size": "100",
                    "hash_pii": "yes",
                    "data_processing_options": "LDU",
                    "event_name_mapping": ["Purchase"],
                    "unknown_keys_are_fine": { "any": [1, "two"] }
                },
                "delivery_mode": "server_side"
            }),
        )
        .expect_error(422, "VALIDATION_FAILED");
    assert_eq!(
        reply.sorted_details(),
        pairs(&[
            ("config.pixel_id", "invalid_type"),
            ("config.access_token", "invalid_type"),
            ("config.api_version", "not_an_option"),
            ("config.action_source", "invalid_type"),
            ("config.test_event_code", "invalid_type"),
            ("config.batch_size", "invalid_type"),
            ("config.hash_pii", "invalid_type"),
            ("config.data_processing_options", "invalid_type"),
            ("config.event_name_mapping", "invalid_type"),
        ])
    );
    // Required fields: absent, null and blank all count as missing.
    let reply = app
        .create_revision(&token, &meta, &json!({ "config": { "pixel_id": "  ", "access_token": null }, "delivery_mode": "server_side" }))
        .expect_error(422, "VALIDATION_FAILED");
    assert_eq!(
        reply.sorted_details(),
        pairs(&[
            ("config.pixel_id", "required"),
            ("config.access_token", "required")
        ])
    );
    let slack = app.template("Slack", "slack");
    let reply = app
        .create_revision(&token, &slack, &json!({ "config": { "webhook_url": 5, "message_template": { "text": "hi" }, "event_names": "signed_up" }, "delivery_mode": "server_side" }))
        .expect_error(422, "VALIDATION_FAILED");
    assert_eq!(
        reply.sorted_details(),
        pairs(&[
            ("config.webhook_url", "invalid_type"),
            ("config.message_template", "invalid_type"),
            ("config.event_names", "invalid_type"),
        ])
    );
    for id in [&meta, &slack] {
        assert_eq!(
            app.list_revisions(&token, id, "").expect(200).body["total"],
            0
        );
    }
}

fn a_whole_placeholder_satisfies_every_type(app: &TestApp) {
    let token = app.token("org_a", Role::Editor);
    let meta = app.template("Meta", "meta_capi");
    let slack = app.template("Slack", "slack");
    let every_field = json!({
        "pixel_id": "{{pipeline_param.pixel}}",
        "access_token": "{{pipeline_param.token}}",
        "api_version": "{{pipeline_param.version}}",
        "action_source": "{{pipeline_param.source}}",
        "test_event_code": "{{pipeline_param.test_code}}",
        "batch_size": "{{pipeline_param.batch}}",
        "hash_pii": "{{pipeline_param.hash}}",
        "data_processing_options": "{{pipeline_param.dpo}}",
        "event_name_mapping": "{{pipeline_param.mapping}}"
    });
    let created = app
        .create_revision(
            &token,
            &meta,
            &json!({ "config": every_field, "delivery_mode": "client_side" }),
        )
        .expect(201)
        .body;
    assert_eq!(created["config"], every_field);
    let slack_placeholders = json!({
        "webhook_url": "{{pipeline_param.slack_url}}",
        "message_template": "{{pipeline_param.template}}",
        "event_names": "{{pipeline_param.events}}"
    });
    let created = app
        .create_revision(
            &token,
            &slack,
            &json!({ "config": slack_placeholders, "delivery_mode": "server_side" }),
        )
        .expect(201)
        .body;
    assert_eq!(created["config"], slack_placeholders);
}

crate::api_tests!(
    catalog_lists_every_vendor_in_full,
    catalog_filters_by_category,
    vendors_are_fetched_one_by_one,
    install_creates_a_template_with_revision_one,
    install_defaults_to_the_default_variant_and_server_side,
    install_refuses_unknown_variants_and_bad_values,
    install_validates_the_merged_config_and_creates_nothing_on_failure,
    install_with_a_taken_name_leaves_no_orphan_revision,
    install_needs_editor_or_above,
    every_variant_of_every_vendor_installs,
    every_field_type_is_validated_on_revisions,
    every_problem_is_reported_at_once,
    a_whole_placeholder_satisfies_every_type,
);
