use serde_json::{Map, Value, json};

use super::*;
use crate::catalog;

fn meta() -> &'static Vendor {
    catalog::vendor("meta_capi").expect("meta_capi is in the catalog")
}

fn webhook() -> &'static Vendor {
    catalog::vendor("webhook").expect("webhook is in the catalog")
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

#[test]
fn masks_secret_values_but_not_references_or_nulls() {
    let mut config = object(json!({
        "pixel_id": "123", "access_token": "EAAB-canary", "batch_size": 100
    }));
    mask(meta(), &mut config);
    assert_eq!(config["access_token"], json!(MASK));
    assert_eq!(config["pixel_id"], json!("123"));

    for kept in [json!("{{ pipeline_param.meta_token }}"), Value::Null] {
        let mut config = object(json!({ "access_token": kept.clone() }));
        mask(meta(), &mut config);
        assert_eq!(config["access_token"], kept);
    }
    // Text around a placeholder may itself be a credential: it is masked.
    let mut config = object(json!({ "access_token": "Bearer-{{pipeline_param.t}}" }));
    mask(meta(), &mut config);
    assert_eq!(config["access_token"], json!(MASK));
}

#[test]
fn masks_every_value_of_a_secret_valued_object_but_not_its_keys() {
    let mut config = object(json!({
        "url": "https://example.com",
        "headers": {
            "Authorization": "Bearer canary",
            "X-Tenant": "{{pipeline_param.tenant}}",
            "X-Sealed": "enc:v2:01JF3Q1ZKXW0000000000000AB",
        },
        "signing_secret": "canary-2",
    }));
    mask(webhook(), &mut config);
    assert_eq!(
        Value::Object(config),
        json!({
            "url": "https://example.com",
            "headers": { "Authorization": "***", "X-Tenant": "{{pipeline_param.tenant}}", "X-Sealed": "***" },
            "signing_secret": "***",
        })
    );
    // Not an object (a placeholder for the whole map): nothing to mask inside.
    let mut config = object(json!({ "headers": "{{pipeline_param.headers}}" }));
    mask(webhook(), &mut config);
    assert_eq!(config["headers"], "{{pipeline_param.headers}}");
}

#[test]
fn echoed_mask_keeps_the_previous_value() {
    let previous = object(json!({ "pixel_id": "1", "access_token": "enc:v2:VERSION1" }));
    let mut config = object(json!({ "pixel_id": "2", "access_token": "***" }));
    let echoed = keep_echoed(meta(), &mut config, Some(&previous));
    assert_eq!(echoed, Ok(vec![SecretPath::field("access_token")]));
    assert_eq!(config["access_token"], json!("enc:v2:VERSION1"));
    assert_eq!(config["pixel_id"], json!("2"));
}

#[test]
fn echoed_mask_without_a_previous_value_is_a_problem_and_changes_nothing() {
    for previous in [None, Some(object(json!({ "pixel_id": "1" })))] {
        let mut config = object(json!({ "access_token": "***" }));
        let problems = keep_echoed(meta(), &mut config, previous.as_ref()).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].path.to_string(), "config.access_token");
        assert_eq!(problems[0].problem, Problem::NothingToKeep);
        assert_eq!(config["access_token"], json!("***"));
    }
}

#[test]
fn a_new_value_replaces_the_secret() {
    let previous = object(json!({ "access_token": "enc:v2:OLD" }));
    let mut config = object(json!({ "access_token": "new" }));
    assert_eq!(
        keep_echoed(meta(), &mut config, Some(&previous)),
        Ok(Vec::new())
    );
    assert_eq!(config["access_token"], json!("new"));
}

#[test]
fn echo_is_per_sub_key() {
    let previous = object(json!({
        "headers": { "Authorization": "enc:v2:AUTH", "X-Old": "enc:v2:OLD", "X-Name": "{{pipeline_param.n}}" }
    }));
    let mut config = object(json!({
        "headers": { "Authorization": "***", "X-New": "fresh" }
    }));
    let echoed = keep_echoed(webhook(), &mut config, Some(&previous));
    assert_eq!(
        echoed,
        Ok(vec![SecretPath::sub_key("headers", "Authorization")])
    );
    assert_eq!(
        config["headers"],
        json!({ "Authorization": "enc:v2:AUTH", "X-New": "fresh" })
    );
    // A header the previous revision lacks, or holds as a placeholder, has nothing to keep.
    let mut config = object(json!({
        "headers": { "Authorization": "***", "X-Missing": "***", "X-Name": "***" }
    }));
    let problems = keep_echoed(webhook(), &mut config, Some(&previous)).unwrap_err();
    let found: Vec<String> = problems.iter().map(|p| p.path.to_string()).collect();
    assert_eq!(
        found,
        [
            r#"config.headers["X-Missing"]"#,
            r#"config.headers["X-Name"]"#
        ]
    );
    assert_eq!(config["headers"]["Authorization"], "***", "left unchanged");
}

#[test]
fn secret_paths_and_pointers() {
    let config = object(json!({
        "url": "u", "signing_secret": null, "headers": { "b/c": "1", "a~": "2" }
    }));
    let paths = secret_paths(webhook(), &config);
    let pointers: Vec<String> = paths.iter().map(SecretPath::pointer).collect();
    assert_eq!(
        pointers,
        ["/signing_secret", "/headers/a~0", "/headers/b~1c"]
    );
    assert_eq!(paths[2].get(&config), Some(&json!("1")));
    assert_eq!(paths[2].json_path().to_string(), r#"config.headers["b/c"]"#);
    assert_eq!(SecretPath::sub_key("headers", "nope").get(&config), None);
    assert!(secret_paths(meta(), &object(json!({ "pixel_id": "1" }))).is_empty());
}

#[test]
fn stored_values_are_classified_and_compared_by_version() {
    let sealed = json!("enc:v2:01JF3Q1ZKXW0000000000000AB");
    let legacy = json!("enc:v1:1a2b3c4d:AAECAwQFBgcICQoLDA0ODxAREhMUFRYX");
    let reference = json!("{{pipeline_param.token}}");
    let clear = json!("Bearer legacy-clear");
    assert!(matches!(
        StoredSecret::classify(&sealed),
        Some(StoredSecret::Sealed(v)) if v.as_str() == "01JF3Q1ZKXW0000000000000AB"
    ));
    let Some(StoredSecret::Legacy { version, .. }) = StoredSecret::classify(&legacy) else {
        panic!("a legacy value");
    };
    assert_eq!(
        version.as_ref().map(SecretVersion::as_str),
        Some("v1-AAECAwQFBgcICQoL")
    );
    assert_eq!(
        StoredSecret::classify(&reference),
        Some(StoredSecret::Reference("{{pipeline_param.token}}"))
    );
    assert_eq!(
        StoredSecret::classify(&clear),
        Some(StoredSecret::Clear(&clear))
    );
    assert_eq!(
        StoredSecret::classify(&json!("enc:v2:not valid!")),
        Some(StoredSecret::Clear(&json!("enc:v2:not valid!")))
    );
    assert_eq!(StoredSecret::classify(&Value::Null), None);

    // The same version is the same value, whatever the text around it.
    assert!(same_version(&sealed, &sealed.clone()));
    assert!(!same_version(
        &sealed,
        &json!("enc:v2:01JF3Q1ZKXW0000000000000AC")
    ));
    // A legacy value and the reference that carried it over share its version.
    let carried = json!(format!("{SEALED_PREFIX}v1-AAECAwQFBgcICQoL"));
    assert!(same_version(&legacy, &carried));
    assert!(!same_version(&legacy, &sealed));
    // Values without a version compare as written.
    assert!(same_version(&clear, &json!("Bearer legacy-clear")));
    assert!(!same_version(&clear, &json!("Bearer other")));
    assert!(!same_version(&clear, &sealed));
}

#[test]
fn version_ids_are_short_plain_text() {
    assert!(SecretVersion::parse("").is_none());
    assert!(SecretVersion::parse(&"a".repeat(65)).is_none());
    assert!(SecretVersion::parse(&"a".repeat(64)).is_some());
    assert!(SecretVersion::parse("a:b").is_none());
    let fresh = SecretVersion::from_ulid(ulid::Ulid::from_parts(1, 2));
    assert_eq!(SecretVersion::parse(fresh.as_str()), Some(fresh.clone()));
    assert_eq!(fresh.to_string(), fresh.as_str());
    assert_eq!(SecretVersion::of_legacy("enc:v1:kid:short"), None);
    assert_eq!(SecretVersion::of_legacy("enc:v2:x"), None);
}

#[test]
fn secret_header_values_must_be_strings() {
    let config = object(json!({ "headers": { "A": "x", "B": 3, "C": null, "D": {} } }));
    let found: Vec<String> = value_type_problems(webhook(), &config)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        found,
        [
            "config.B must be a string",
            "config.C must be a string",
            "config.D must be a string"
        ]
        .map(|s| s.replace("config.", "config.headers."))
    );
}

fn headers(count: usize) -> Map<String, Value> {
    let headers: Map<String, Value> = (0..count)
        .map(|i| (format!("X-H{i}"), json!("v")))
        .collect();
    object(json!({ "url": "https://example.com", "headers": headers }))
}

#[test]
fn a_secret_valued_object_holds_at_most_a_hundred_values() {
    assert!(value_type_problems(webhook(), &headers(MAX_SECRET_SUB_KEYS)).is_empty());
    let found = value_type_problems(webhook(), &headers(MAX_SECRET_SUB_KEYS + 1));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].path.to_string(), "config.headers");
    assert_eq!(found[0].problem, Problem::TooManySecrets);
    assert_eq!(found[0].problem.code(), "too_many");
    assert_eq!(
        found[0].to_string(),
        "config.headers must not hold more than 100 values (each is a secret)"
    );
    let config = Value::Object(headers(MAX_SECRET_SUB_KEYS + 1));
    let problems = crate::validate_config(webhook(), &config).expect_err("too many headers");
    assert_eq!(problems.listed(), found.as_slice());
}
