use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::*;
use crate::validate_config;

/// The smallest value of a field's type that passes validation.
fn minimal_value(field: &ConfigField) -> Value {
    match field.field_type {
        FieldType::String | FieldType::Secret | FieldType::Textarea => json!("x"),
        FieldType::Select => json!(field.options.as_ref().and_then(|o| o.first())),
        FieldType::Number | FieldType::Integer => json!(1),
        FieldType::Boolean => json!(true),
        FieldType::Object => json!({}),
        FieldType::Array => json!([]),
    }
}

#[test]
fn catalog_files_parse_and_are_named_by_their_key() {
    for (key, text) in VENDOR_FILES {
        let vendor: Vendor = serde_json::from_str(text)
            .unwrap_or_else(|err| panic!("catalog/{key}.json is invalid: {err}"));
        assert_eq!(vendor.key, *key);
    }
    assert_eq!(vendors().len(), VENDOR_FILES.len());
}

#[test]
fn catalog_has_the_vendors_the_spec_names() {
    for key in [
        "meta_capi",
        "ga4",
        "google_ads",
        "tiktok",
        "webhook",
        "slack",
        "pinterest",
        "snapchat",
        "linkedin",
        "bigquery",
        "s3",
    ] {
        assert!(vendor(key).is_some(), "{key} is missing");
    }
    assert!(vendors().len() >= 12);
    let keys: HashSet<_> = vendors().iter().map(|v| &v.key).collect();
    assert_eq!(keys.len(), vendors().len(), "vendor keys repeat");
}

#[test]
fn fields_are_well_formed() {
    for vendor in vendors() {
        let keys: HashSet<_> = vendor.config_fields.iter().map(|f| &f.key).collect();
        assert_eq!(
            keys.len(),
            vendor.config_fields.len(),
            "{}: field keys repeat",
            vendor.key
        );
        assert!(
            vendor.config_fields.iter().any(|f| f.required),
            "{}",
            vendor.key
        );
        assert!(
            vendor.secret_keys().next().is_some(),
            "{}: no secret field",
            vendor.key
        );
        assert!(vendor.website.starts_with("https://"), "{}", vendor.key);
        for field in &vendor.config_fields {
            let context = format!("{}.{}", vendor.key, field.key);
            if field.secret_values {
                assert_eq!(
                    field.field_type,
                    FieldType::Object,
                    "{context}: secret values on a field that is not an object"
                );
            }
            let is_select = field.field_type == FieldType::Select;
            assert_eq!(field.options.is_some(), is_select, "{context}: options");
            if let Some(options) = &field.options {
                assert!(!options.is_empty(), "{context}: no options");
            }
            if let Some(default) = &field.default {
                assert_ne!(
                    field.field_type,
                    FieldType::Secret,
                    "{context}: secret default"
                );
                let config = json!({ &field.key: default });
                let alone = Vendor {
                    config_fields: vec![field.clone()],
                    ..vendor.clone()
                };
                assert_eq!(
                    validate_config(&alone, &config),
                    Ok(()),
                    "{context}: default"
                );
            }
        }
    }
}

#[test]
fn every_variant_installs_with_minimal_required_values() {
    for vendor in vendors() {
        assert!(
            vendor.variant("default").is_some(),
            "{}: no default variant",
            vendor.key
        );
        let keys: HashSet<_> = vendor.variants.iter().map(|v| &v.key).collect();
        assert_eq!(
            keys.len(),
            vendor.variants.len(),
            "{}: variant keys repeat",
            vendor.key
        );
        for variant in &vendor.variants {
            let context = format!("{}/{}", vendor.key, variant.key);
            let mut config: Map<String, Value> = variant.default_config.clone();
            for (key, value) in &config {
                let field = vendor.field(key);
                assert!(field.is_some(), "{context}: undeclared key {key}");
                if field.is_some_and(|f| f.field_type == FieldType::Secret) {
                    assert!(
                        !crate::secrets::holds_secret(value),
                        "{context}: literal secret"
                    );
                }
            }
            for field in vendor.config_fields.iter().filter(|f| f.required) {
                config
                    .entry(field.key.clone())
                    .or_insert_with(|| minimal_value(field));
            }
            let result = validate_config(vendor, &Value::Object(config));
            assert_eq!(result, Ok(()), "{context}");
        }
    }
}

#[test]
fn categories_filter_and_round_trip() {
    for category in Category::ALL {
        assert_eq!(Category::parse(category.as_str()), Some(category));
        assert!(vendors_in(category).all(|v| v.category == category));
    }
    let advertising: Vec<_> = vendors_in(Category::Advertising)
        .map(|v| v.key.as_str())
        .collect();
    assert!(advertising.contains(&"meta_capi") && !advertising.contains(&"ga4"));
    assert_eq!(Category::parse("ads"), None);
}

#[test]
fn vendors_serialise_with_the_spec_field_names() {
    let meta = serde_json::to_value(vendor("meta_capi")).unwrap_or_default();
    for key in [
        "key",
        "name",
        "description",
        "category",
        "status",
        "website",
        "config_fields",
        "variants",
    ] {
        assert!(meta.get(key).is_some(), "{key}");
    }
    assert!(meta["config_fields"][0].get("type").is_some());
    assert!(meta["variants"][0].get("default_config").is_some());
}

#[test]
fn webhook_header_values_are_secrets() {
    let webhook = vendor("webhook").expect("webhook");
    assert_eq!(webhook.secret_value_keys().collect::<Vec<_>>(), ["headers"]);
    assert!(
        vendors()
            .iter()
            .filter(|v| v.key != "webhook")
            .all(|v| v.secret_value_keys().next().is_none())
    );
    // The flag is on the wire only where it is set.
    let fields = serde_json::to_value(&webhook.config_fields).unwrap_or_default();
    let flagged: Vec<&str> = fields
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f.get("secret_values").is_some())
        .filter_map(|f| f["key"].as_str())
        .collect();
    assert_eq!(flagged, ["headers"]);
    assert_eq!(fields[2]["secret_values"], json!(true));
    // And it parses back; anything but a boolean is refused.
    let parsed: ConfigField = serde_json::from_value(fields[2].clone()).expect("parses");
    assert!(parsed.secret_values);
    let mut wrong = fields[2].clone();
    wrong["secret_values"] = json!("yes");
    assert!(serde_json::from_value::<ConfigField>(wrong).is_err());
}
