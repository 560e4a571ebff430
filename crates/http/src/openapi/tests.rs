//! The document against what it describes: the catalog is static, so every
//! vendor is checked against the documented schema here, and the documented
//! name pattern against the domain's own rule.

use std::sync::LazyLock;

use integrations_domain::{Name, catalog};
use serde_json::Value;

use super::document;

fn doc() -> Value {
    serde_json::to_value(document()).expect("the document serialises")
}

/// Checks `value` against the subset of JSON Schema the document uses for
/// these types: `$ref`, `type`, `enum`, `properties`, `required`,
/// `additionalProperties`, `items`, `oneOf`. Returns the problems found.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().expect("a schema name");
        return check(
            doc,
            &doc["components"]["schemas"][name],
            value,
            at,
            problems,
        );
    }
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let matching = options
            .iter()
            .filter(|option| {
                let mut found = Vec::new();
                check(doc, option, value, at, &mut found);
                found.is_empty()
            })
            .count();
        if matching != 1 {
            problems.push(format!("{at}: {matching} oneOf options match"));
        }
        return;
    }
    if let Some(kind) = schema.get("type") {
        let kinds: Vec<&str> = match kind {
            Value::Array(kinds) => kinds.iter().filter_map(Value::as_str).collect(),
            other => other.as_str().into_iter().collect(),
        };
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let fits = kinds.contains(&actual) || (actual == "integer" && kinds.contains(&"number"));
        if !fits {
            problems.push(format!("{at}: a {actual}, documented as {kinds:?}"));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            problems.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    if let (Some(object), Some(properties)) = (
        value.as_object(),
        schema.get("properties").and_then(Value::as_object),
    ) {
        for required in schema["required"].as_array().into_iter().flatten() {
            let key = required.as_str().expect("a key");
            if !object.contains_key(key) {
                problems.push(format!("{at}.{key}: missing"));
            }
        }
        for (key, field) in object {
            match properties.get(key) {
                Some(property) => check(doc, property, field, &format!("{at}.{key}"), problems),
                None => problems.push(format!("{at}.{key}: not documented")),
            }
        }
    }
    if let (Some(items), Some(schema)) = (value.as_array(), schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            check(doc, schema, item, &format!("{at}[{i}]"), problems);
        }
    }
}

#[test]
fn every_catalog_vendor_matches_the_documented_schema() {
    let doc = doc();
    let schema = serde_json::json!({ "$ref": "#/components/schemas/CatalogVendor" });
    let mut problems = Vec::new();
    for vendor in catalog::vendors() {
        let value = serde_json::to_value(vendor).expect("a vendor serialises");
        check(&doc, &schema, &value, &vendor.key, &mut problems);
    }
    assert!(problems.is_empty(), "{problems:#?}");
    // And the checker does see a difference.
    let mut wrong = serde_json::to_value(&catalog::vendors()[0]).expect("a vendor");
    wrong["category"] = "shopping".into();
    wrong["extra"] = true.into();
    check(&doc, &schema, &wrong, "wrong", &mut problems);
    assert_eq!(problems.len(), 2, "{problems:#?}");
}

#[test]
fn the_vendor_key_enum_is_the_catalog() {
    let doc = doc();
    let documented =
        &doc["components"]["schemas"]["CreateTemplateBody"]["properties"]["vendor"]["enum"];
    let keys: Vec<&str> = catalog::vendors().iter().map(|v| v.key.as_str()).collect();
    assert_eq!(documented, &serde_json::json!(keys));
}

/// The documented name pattern, compiled once.
fn name_pattern() -> &'static regex::Regex {
    static PATTERN: LazyLock<regex::Regex> = LazyLock::new(|| {
        let doc = doc();
        let pattern =
            doc["components"]["schemas"]["CreateTemplateBody"]["properties"]["name"]["pattern"]
                .as_str()
                .expect("a pattern");
        regex::Regex::new(pattern).expect("the pattern compiles")
    });
    &PATTERN
}

#[test]
fn the_name_pattern_is_the_domain_rule() {
    let pattern = name_pattern();
    let long = "x".repeat(200);
    let too_long = "x".repeat(201);
    let padded = format!("  {long}\u{3000}\n");
    let cases: [(&str, bool); 13] = [
        ("GA4 web", true),
        (" GA4 web\u{a0}", true),
        ("\tGA4\n", true),
        (&long, true),
        (&padded, true),
        ("", false),
        ("   \u{2003}", false),
        (&too_long, false),
        ("GA4\u{7}web", false),
        ("\u{1c}GA4", false),
        ("GA4\u{202e}web", false),
        ("\u{200b}", false),
        ("GA4\u{e0041}", false),
    ];
    for (raw, valid) in cases {
        assert_eq!(Name::parse(raw).is_ok(), valid, "the domain on {raw:?}");
        assert_eq!(pattern.is_match(raw), valid, "the pattern on {raw:?}");
    }
}

proptest::proptest! {
    #[test]
    fn the_name_pattern_accepts_exactly_what_the_domain_accepts(
        raw in "[ \t\n\r\u{b}\u{c}\u{1c}\u{7}\u{7f}\u{85}\u{a0}\u{2000}\u{3000}\u{feff}\u{200b}xé€]{0,3}[xé€ \u{3000}\u{202e}\u{ad}\u{e0041}]{0,205}[ \t\u{a0}\u{85}\u{7}\u{2066}x]{0,3}"
    ) {
        proptest::prop_assert_eq!(name_pattern().is_match(&raw), Name::parse(&raw).is_ok(), "{:?}", raw);
    }
}

#[test]
fn update_bodies_must_change_something_and_restore_bodies_are_optional() {
    let doc = doc();
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["UpdateTemplateBody"]["minProperties"], 1);
    assert_eq!(schemas["UpdatePipelineBody"]["minProperties"], 1);
    assert!(schemas["UpdateTemplateBody"].get("maxProperties").is_none());
    assert!(schemas["UpdateAttachmentBody"]["allOf"][1]["anyOf"].is_array());
    let restore = &doc["paths"]["/v1/admin/integration-templates/{id}/revisions/{rev}/restore"]["post"]
        ["requestBody"];
    assert_eq!(restore["required"], false);
}

/// OpenAPI requires `required: true` on every path parameter, and a
/// parameter for every `{name}` of a path: tools that generate clients drop
/// an operation that breaks either rule.
#[test]
fn every_path_parameter_is_declared_and_required() {
    let doc = doc();
    let mut problems = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let templated: Vec<&str> = path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for (method, operation) in item.as_object().expect("a path item") {
            let declared: Vec<&Value> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|parameter| parameter["in"] == "path")
                .collect();
            for parameter in &declared {
                let name = parameter["name"].as_str().unwrap_or("?");
                if parameter["required"] != true {
                    problems.push(format!("{method} {path}: {{{name}}} is not required"));
                }
                if !templated.contains(&name) {
                    problems.push(format!("{method} {path}: {{{name}}} is not in the path"));
                }
            }
            for name in &templated {
                if !declared.iter().any(|parameter| parameter["name"] == *name) {
                    problems.push(format!("{method} {path}: {{{name}}} is not declared"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
