//! Masked renders: exactly the strings a hidden key flowed into become `***`.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::tests::{KEYS, all_params, config, params};
use super::*;
use crate::json_path::PathSegment;
use crate::secrets::MASK;

fn at_mut<'v>(value: &'v mut Value, path: &JsonPath) -> Option<&'v mut Value> {
    path.segments()
        .into_iter()
        .try_fold(value, |value, segment| match segment {
            PathSegment::Key(key) => value.get_mut(key.as_str()),
            PathSegment::Index(index) => value.get_mut(*index),
        })
}

#[test]
fn whole_and_embedded_uses_of_a_hidden_key_are_masked_and_nothing_else() {
    let plan = Plan::compile(json!({
        "id": "{{pipeline_param.id}}",
        "count": "{{pipeline_param.count}}",
        "url": "https://x/{{pipeline_param.token}}/y?id={{pipeline_param.id}}",
        "nested": [{ "auth": "Bearer {{pipeline_param.token}}" }, "{{pipeline_param.count}}"],
        "literal": "***",
        "static": "token"
    }));
    let with = params(json!({ "id": "p-1", "count": 3, "token": "EAAB" }));
    let shown = plan
        .render_masked(&with, |key| key.as_str() == "token")
        .unwrap()
        .into_owned();
    assert_eq!(
        shown,
        json!({
            "id": "p-1", "count": 3, "url": MASK,
            "nested": [{ "auth": MASK }, 3], "literal": "***", "static": "token"
        })
    );
    // A hidden number is masked too: the mask does not depend on the value's type.
    let shown = plan
        .render_masked(&with, |key| key.as_str() == "count")
        .unwrap()
        .into_owned();
    assert_eq!(shown["count"], json!(MASK));
    assert_eq!(shown["nested"][1], json!(MASK));
    assert_eq!(shown["id"], json!("p-1"));
}

#[test]
fn the_hidden_references_name_every_masked_string() {
    let plan = Plan::compile(json!({
        "a": "{{pipeline_param.token}}",
        "b": { "c": "x{{pipeline_param.token}}" },
        "d": "{{pipeline_param.id}}"
    }));
    let listed: Vec<String> = plan
        .hidden_references(|key| key.as_str() == "token")
        .map(|(key, path)| format!("{key} {path}"))
        .collect();
    assert_eq!(listed, ["token config.a", "token config.b.c"]);
}

#[test]
fn the_size_limit_applies_before_masking() {
    let plan = Plan::compile(json!({ "t": "{{pipeline_param.token}}" }));
    let with = params(json!({ "token": "x".repeat(100) }));
    let limits = RenderLimits::new(50);
    let masked = plan.render_masked_with(&with, limits, |_| true);
    assert_eq!(masked, plan.render_with(&with, limits));
    assert!(matches!(masked, Err(RenderError::TooLarge { .. })));
}

#[test]
fn missing_parameters_fail_a_masked_render_as_they_fail_a_plain_one() {
    let plan =
        Plan::compile(json!({ "t": "{{pipeline_param.token}}", "u": "{{pipeline_param.u}}" }));
    let with = params(json!({ "token": "EAAB" }));
    assert_eq!(
        plan.render_masked(&with, |_| true).unwrap_err(),
        plan.render(&with).unwrap_err()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A masked render is the plain render with exactly the hidden references' strings replaced.
    #[test]
    fn a_masked_render_is_the_plain_render_with_the_hidden_strings_replaced(
        config in config(), params in all_params(), hide in prop::collection::vec(any::<bool>(), KEYS.len())
    ) {
        let plan = Plan::compile(config);
        let hidden = |key: &ParamKey| KEYS.iter().zip(&hide).any(|(k, h)| *h && *k == key.as_str());
        let plain = plan.render(&params);
        let masked = plan.render_masked(&params, hidden);
        match (plain, masked) {
            (Ok(plain), Ok(masked)) => {
                let mut expected = plain.into_owned();
                for (_, path) in plan.hidden_references(hidden) {
                    let slot = at_mut(&mut expected, path).expect("a reference's path exists");
                    *slot = Value::String(MASK.to_owned());
                }
                prop_assert_eq!(masked.into_owned(), expected);
            }
            (plain, masked) => prop_assert_eq!(plain.map(|_| ()), masked.map(|_| ())),
        }
    }
}
