use serde_json::{Value, json};

use super::*;
use crate::catalog::{self, Category, Status};

fn field(key: &str, field_type: FieldType, required: bool) -> ConfigField {
    ConfigField {
        key: key.to_owned(),
        label: key.to_owned(),
        field_type,
        required,
        default: None,
        options: (field_type == FieldType::Select).then(|| vec!["eu".into(), "us".into()]),
        placeholder: None,
        help_text: None,
        secret_values: false,
    }
}

/// A vendor with one optional field of every type and one required string.
fn vendor() -> Vendor {
    let types = [
        ("s", FieldType::String),
        ("secret", FieldType::Secret),
        ("text", FieldType::Textarea),
        ("n", FieldType::Number),
        ("i", FieldType::Integer),
        ("b", FieldType::Boolean),
        ("sel", FieldType::Select),
        ("o", FieldType::Object),
        ("a", FieldType::Array),
    ];
    let mut config_fields: Vec<_> = types.iter().map(|(k, t)| field(k, *t, false)).collect();
    config_fields.push(field("id", FieldType::String, true));
    Vendor {
        key: "test".into(),
        name: "Test".into(),
        description: String::new(),
        category: Category::Other,
        status: Status::Ga,
        website: "https://example.com".into(),
        config_fields,
        variants: Vec::new(),
    }
}

fn problems(config: &Value) -> Vec<String> {
    validate_config(&vendor(), config)
        .err()
        .unwrap_or_default()
        .iter()
        .map(|p| format!("{} {}", p.path, p.problem.code()))
        .collect()
}

#[test]
fn every_type_accepts_its_values() {
    let config = json!({
        "id": "x", "s": "", "secret": "token", "text": "a\nb", "n": 1.5, "i": -3,
        "b": false, "sel": "eu", "o": {"k": 1}, "a": [1, "x"], "unknown_key": {"anything": true}
    });
    assert_eq!(problems(&config), Vec::<String>::new());
    assert_eq!(
        problems(&json!({ "id": "x", "n": 7, "i": 18_446_744_073_709_551_615_u64 })).len(),
        0
    );
}

#[test]
fn every_type_rejects_other_values() {
    let config = json!({
        "id": "x", "s": 1, "secret": false, "text": [], "n": "1", "i": 1.5,
        "b": "true", "sel": 1, "o": [], "a": {}
    });
    let mut found = problems(&config);
    found.sort();
    let mut expected: Vec<String> = ["s", "secret", "text", "n", "i", "b", "sel", "o", "a"]
        .iter()
        .map(|k| format!("config.{k} invalid_type"))
        .collect();
    expected.sort();
    assert_eq!(found, expected);
}

#[test]
fn select_values_must_be_options() {
    assert_eq!(
        problems(&json!({ "id": "x", "sel": "EU" })),
        ["config.sel not_an_option"]
    );
    let errors = validate_config(&vendor(), &json!({ "id": "x", "sel": "apac" })).unwrap_err();
    assert_eq!(errors[0].to_string(), "config.sel must be one of: eu, us");
}

#[test]
fn required_fields_must_hold_a_value() {
    for config in [json!({}), json!({ "id": null }), json!({ "id": "  " })] {
        assert_eq!(problems(&config), ["config.id required"], "{config}");
    }
    // Optional fields may be null or absent.
    assert_eq!(
        problems(&json!({ "id": "x", "n": null })),
        Vec::<String>::new()
    );
}

#[test]
fn a_whole_placeholder_satisfies_any_type_but_embedded_text_does_not() {
    let mut config = json!({ "id": "{{pipeline_param.id}}" });
    for key in ["s", "secret", "text", "n", "i", "b", "sel", "o", "a"] {
        config[key] = json!(format!("{{{{ pipeline_param.{key} }}}}"));
    }
    assert_eq!(problems(&config), Vec::<String>::new());
    assert_eq!(
        problems(&json!({ "id": "x", "n": "{{pipeline_param.n}}0" })),
        ["config.n invalid_type"]
    );
}

#[test]
fn all_problems_are_reported_at_once() {
    let found = problems(&json!({ "s": 1, "b": 2, "deep": { "x": ["{{pipeline_param.}}"] } }));
    assert_eq!(
        found,
        [
            "config.s invalid_type",
            "config.b invalid_type",
            "config.id required",
            "config.deep.x[0] malformed_placeholder"
        ]
    );
}

#[test]
fn malformed_placeholders_are_reported_anywhere_with_a_message() {
    let errors = validate_config(
        &vendor(),
        &json!({ "id": "x", "o": { "k-1": "id={{pipeline_param.ga4-id}}" } }),
    )
    .unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].to_string(),
        "config.o[\"k-1\"] holds the malformed placeholder '{{pipeline_param.ga4-id}}': write \
         {{pipeline_param.KEY}} with a KEY of 1 to 64 letters, digits or underscores"
    );
}

#[test]
fn the_config_must_be_an_object() {
    for config in [json!([]), json!("x"), json!(1), Value::Null] {
        assert_eq!(problems(&config), ["config invalid_type"]);
    }
}

fn nested(levels: usize) -> Value {
    // `levels` objects, the config included.
    let mut value = json!({ "id": "x" });
    for _ in 1..levels {
        value = json!({ "id": "x", "o": value });
    }
    value
}

#[test]
fn configs_may_nest_64_levels_but_not_65() {
    assert_eq!(problems(&nested(64)), Vec::<String>::new());
    assert_eq!(problems(&nested(65)), ["config too_deep"]);
    let mut arrays = json!(1);
    for _ in 0..64 {
        arrays = json!([arrays]);
    }
    assert_eq!(
        problems(&json!({ "id": "x", "a": arrays })),
        ["config too_deep"]
    );
}

#[test]
fn catalog_vendors_validate_the_seed_examples() {
    let meta = catalog::vendor("meta_capi").expect("meta_capi is in the catalog");
    let seed = json!({
        "pixel_id": "1234567890", "access_token": "EAABsb...", "batch_size": 100, "hash_pii": true
    });
    assert_eq!(validate_config(meta, &seed), Ok(()));
    let ga4 = catalog::vendor("ga4").expect("ga4 is in the catalog");
    let seed = json!({
        "measurement_id": "{{pipeline_param.ga4_measurement_id}}",
        "api_secret": "{{pipeline_param.ga4_api_secret}}",
        "debug_mode": false
    });
    assert_eq!(validate_config(ga4, &seed), Ok(()));
}

#[test]
fn at_most_a_hundred_problems_are_listed_and_the_rest_counted() {
    // One required field missing, then 1 MiB of malformed references.
    let unterminated = "{{pipeline_param.x".repeat(1_048_576 / 18);
    let first_snippet: String = unterminated.chars().take(80).collect();
    let count = 1_048_576 / 18;
    let errors = validate_config(&vendor(), &json!({ "a": [unterminated] }))
        .expect_err("every reference is malformed");
    assert_eq!(errors.len(), MAX_PROBLEMS);
    assert_eq!(errors.listed().len(), MAX_PROBLEMS);
    assert_eq!(errors.total(), 1 + count);
    assert_eq!(errors.more(), 1 + count - MAX_PROBLEMS);
    assert_eq!(errors[0].to_string(), "config.id is required");
    assert_eq!(
        errors[1].problem,
        Problem::MalformedPlaceholder(first_snippet)
    );
    assert_eq!(errors[99].path.to_string(), "config.a[0]");
}

#[test]
fn exactly_a_hundred_problems_leave_nothing_more() {
    let config = json!({ "id": "x", "a": vec!["{{pipeline_param.}}"; MAX_PROBLEMS] });
    let errors = validate_config(&vendor(), &config).expect_err("malformed");
    assert_eq!((errors.len(), errors.more()), (MAX_PROBLEMS, 0));
    let config = json!({ "id": "x", "a": vec!["{{pipeline_param.}}"; MAX_PROBLEMS + 1] });
    let errors = validate_config(&vendor(), &config).expect_err("malformed");
    assert_eq!((errors.len(), errors.more()), (MAX_PROBLEMS, 1));
    assert_eq!(errors.into_iter().count(), MAX_PROBLEMS);
}

mod rendered {
    use std::borrow::Cow;

    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::vendor;
    use crate::substitution::Plan;
    use crate::{Parameters, validate_config, validate_rendered};

    /// A stored config rendered with `params`, then checked as delivered.
    fn problems_after(config: &Value, params: Value) -> Vec<String> {
        let params: Parameters = serde_json::from_value(params).expect("parameters");
        let plan = Plan::compile(config.clone());
        let rendered = plan.render(&params).map(Cow::into_owned).expect("renders");
        validate_rendered(&vendor(), &rendered)
            .err()
            .unwrap_or_default()
            .iter()
            .map(|p| format!("{} {}", p.path, p.problem.code()))
            .collect()
    }

    #[test]
    fn a_value_filled_from_a_parameter_is_checked_as_delivered() {
        let config = json!({
            "id": "x", "n": "{{pipeline_param.n}}", "i": "{{pipeline_param.i}}",
            "b": "{{pipeline_param.b}}", "sel": "{{pipeline_param.region}}",
        });
        assert!(
            validate_config(&vendor(), &config).is_ok(),
            "valid as stored"
        );
        assert_eq!(
            problems_after(
                &config,
                json!({ "n": 1.5, "i": 3, "b": true, "region": "eu" })
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            problems_after(
                &config,
                json!({ "n": "abc", "i": 1.5, "b": "yes", "region": "mars" })
            ),
            [
                "config.n invalid_type",
                "config.i invalid_type",
                "config.b invalid_type",
                "config.sel not_an_option",
            ]
        );
    }

    #[test]
    fn nothing_is_exempt_as_a_placeholder_and_substituted_text_is_data() {
        // A placeholder left in place (a render that could not substitute it)
        // is a string where a number belongs.
        let left = json!({ "id": "x", "n": "{{pipeline_param.n}}" });
        let found = validate_rendered(&vendor(), &left).unwrap_err();
        assert_eq!(found[0].to_string(), "config.n must be a number");
        // A value that merely looks like a reference is not "malformed": it
        // is what will be sent.
        let config = json!({ "id": "{{pipeline_param.id}}", "s": "{{pipeline_param.s}}" });
        assert_eq!(
            problems_after(&config, json!({ "id": "x", "s": "{{ not a placeholder" })),
            Vec::<String>::new()
        );
        // A required field filled with blank text is missing.
        assert_eq!(
            problems_after(&config, json!({ "id": " ", "s": "" })),
            ["config.id required"]
        );
    }

    #[test]
    fn a_rendered_config_must_be_an_object_of_bounded_depth() {
        assert!(validate_rendered(&vendor(), &json!([1])).is_err());
        assert_eq!(
            validate_rendered(&vendor(), &super::nested(65)).unwrap_err()[0].problem,
            crate::Problem::TooDeep
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// A number field filled from a parameter passes exactly when the
        /// parameter is a number; any other kind of value is one problem, at
        /// that field.
        #[test]
        fn a_number_field_passes_exactly_when_its_parameter_is_a_number(
            value in prop_oneof![
                any::<i64>().prop_map(|n| json!(n)),
                (-1.0e12_f64..1.0e12).prop_map(|f| json!(f)),
                any::<bool>().prop_map(|b| json!(b)),
                "[a-z0-9 ]{0,12}".prop_map(|s| json!(s)),
            ],
            id in "[a-z]{1,8}",
        ) {
            let config = json!({ "id": "{{pipeline_param.id}}", "n": "{{pipeline_param.n}}" });
            let found = problems_after(&config, json!({ "id": id, "n": value }));
            if value.is_number() {
                prop_assert!(found.is_empty(), "{found:?}");
            } else {
                prop_assert_eq!(found, vec!["config.n invalid_type".to_owned()]);
            }
        }

        /// A select filled from a parameter passes exactly when the value is
        /// one of its options.
        #[test]
        fn a_select_passes_exactly_when_its_value_is_an_option(region in "[a-z]{1,3}") {
            let config = json!({ "id": "x", "sel": "{{pipeline_param.region}}" });
            let found = problems_after(&config, json!({ "region": region.clone() }));
            if region == "eu" || region == "us" {
                prop_assert!(found.is_empty());
            } else {
                prop_assert_eq!(found, vec!["config.sel not_an_option".to_owned()]);
            }
        }
    }
}
