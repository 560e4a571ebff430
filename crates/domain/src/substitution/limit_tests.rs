//! Renders are bounded: their size is computed exactly from the plan before
//! anything is allocated, and a render over the limit is refused.

use serde_json::{Value, json};

use super::tests::params;
use super::*;

/// A pipeline whose `big` parameter is `len` bytes of `x`.
fn big(len: usize) -> Parameters {
    params(json!({ "big": "x".repeat(len) }))
}

#[test]
fn the_size_is_exact_escapes_numbers_and_booleans_included() {
    let plan = Plan::compile(json!({
        "s": "{{pipeline_param.s}}", "n": "{{pipeline_param.n}}", "f": "{{pipeline_param.f}}",
        "b": "{{pipeline_param.b}}", "t": "<{{pipeline_param.s}}|{{pipeline_param.n}}|{{pipeline_param.b}}>",
        "static": ["é\"\n", 1.5, null]
    }));
    for with in [
        json!({ "s": "q\"\\\u{0}\u{1f}\n\t\u{8}\u{c}\ré🎉/", "n": -12_345, "f": 1e300, "b": false }),
        json!({ "s": "", "n": u64::MAX, "f": 0.1, "b": true }),
        json!({ "s": "plain", "n": 0, "f": -2.5e-7, "b": true }),
    ] {
        let params = params(with);
        let text = plan.render_json(&params).expect("renders");
        assert_eq!(plan.render_size(&params), Ok(text.len() as u64), "{text}");
    }
}

#[test]
fn a_render_over_the_limit_is_refused_in_every_form() {
    let plan =
        Plan::compile(json!({ "a": "{{pipeline_param.big}}", "b": "<{{pipeline_param.big}}>" }));
    // `{"a":"` 10 bytes `","b":"<` 10 bytes `>"}`
    let size = 6 + 10 + 8 + 10 + 3;
    let params = big(10);
    assert_eq!(plan.render_size(&params), Ok(size));
    let exact = RenderLimits::new(size);
    assert_eq!(
        plan.render_json_with(&params, exact)
            .map(|t| t.len() as u64),
        Ok(size)
    );
    assert!(plan.render_with(&params, exact).is_ok());

    let tight = RenderLimits::new(size - 1);
    let refused = Err(RenderError::TooLarge {
        size,
        limit: size - 1,
    });
    assert_eq!(plan.render_json_with(&params, tight), refused);
    assert_eq!(
        plan.render_with(&params, tight).map(|_| String::new()),
        refused
    );
    let mut out = String::from("kept");
    assert_eq!(
        plan.render_json_into_with(&params, &mut out, tight),
        Err(RenderError::TooLarge {
            size,
            limit: size - 1
        })
    );
    assert_eq!(out, "kept");
    assert_eq!(
        RenderError::TooLarge {
            size,
            limit: size - 1
        }
        .to_string(),
        "the rendered config would be 37 bytes of JSON, over the limit of 36 bytes: \
         shorten the parameter values or use fewer placeholders"
    );
}

#[test]
fn a_config_without_placeholders_obeys_the_limit_too() {
    let config = json!({ "a": "x".repeat(100) });
    let plan = Plan::compile(config.clone());
    let size = serde_json::to_string(&config).expect("serialises").len() as u64;
    assert_eq!(plan.render_size(&Parameters::new()), Ok(size));
    assert!(matches!(
        plan.render_with(&Parameters::new(), RenderLimits::new(size)),
        Ok(Cow::Borrowed(_))
    ));
    assert_eq!(
        plan.render_with(&Parameters::new(), RenderLimits::new(size - 1)),
        Err(RenderError::TooLarge {
            size,
            limit: size - 1
        })
    );
}

#[test]
fn the_default_limit_is_one_mib() {
    assert_eq!(RenderLimits::default().max_output_bytes, 1_048_576);
    let plan = Plan::compile(json!("{{pipeline_param.big}}"));
    // A whole string placeholder adds its two quotes.
    assert!(plan.render_json(&big(1_048_574)).is_ok());
    assert_eq!(
        plan.render_json(&big(1_048_575)),
        Err(RenderError::TooLarge {
            size: 1_048_577,
            limit: 1_048_576
        })
    );
    assert!(plan.render(&big(1_048_575)).is_err());
}

/// The attack that found the hole: 20,000 placeholders in one string and a
/// 500 KB value would render ~10 GB. The size is known from the plan; the
/// render is refused without allocating it.
#[test]
fn twenty_thousand_copies_of_a_big_value_are_refused_by_arithmetic() {
    let text = "{{pipeline_param.big}}".repeat(20_000);
    let plan = Plan::compile(json!({ "url": text }));
    let params = big(500_000);
    let size = r#"{"url":""}"#.len() as u64 + 20_000 * 500_000;
    assert_eq!(plan.render_size(&params), Ok(size));
    let refused = Err(RenderError::TooLarge {
        size,
        limit: RenderLimits::DEFAULT_MAX_OUTPUT_BYTES,
    });
    assert_eq!(plan.render_json(&params), refused);
    assert_eq!(plan.render(&params).map(|_| String::new()), refused);
}

#[test]
fn missing_parameters_are_reported_before_the_size() {
    let plan =
        Plan::compile(json!({ "a": "{{pipeline_param.big}}", "b": "{{pipeline_param.gone}}" }));
    let err = plan
        .render_json_with(&big(100), RenderLimits::new(1))
        .expect_err("gone is missing");
    assert_eq!(
        err.missing()
            .map(|m| m.keys().map(ParamKey::as_str).collect::<Vec<_>>()),
        Some(vec!["gone"])
    );
    assert!(plan.render_size(&big(100)).is_err());
}

#[test]
fn a_plan_lists_the_first_hundred_malformed_references_and_counts_them_all() {
    let many = "{{pipeline_param.x".repeat(250);
    let plan = Plan::compile(json!({ "a": many, "b": ["{{pipeline_param.}}"] }));
    assert_eq!(plan.malformed().len(), 100);
    assert_eq!(plan.malformed_count(), 251);
    assert!(
        plan.malformed()
            .iter()
            .all(|m| m.path.to_string() == "config.a")
    );
}

#[test]
fn placeholders_under_a_long_path_share_it() {
    // 100 placeholders under a path of 64 levels of 1,000-byte keys: each
    // recorded path is the one shared path, not a copy of it.
    let key = "k".repeat(1_000);
    let mut config = Value::Array(vec![json!("{{pipeline_param.a}}"); 100]);
    for _ in 0..63 {
        config = json!({ key.clone(): config });
    }
    let plan = Plan::compile(config);
    let paths: Vec<&JsonPath> = plan.references().map(|(_, path)| path).collect();
    assert_eq!(paths.len(), 100);
    assert_eq!(paths[0].depth(), 64);
    assert_eq!(paths[7].parent(), paths[0].parent());
    assert!(paths.iter().all(|path| path.shares_parent_with(paths[0])));
    // Shown, each 1,000-byte key is cut to 128 characters and an ellipsis.
    let shown_key = format!(
        "[\"{}…\"]",
        "k".repeat(crate::json_path::MAX_SHOWN_KEY_CHARS)
    );
    assert_eq!(
        paths[99].to_string().len(),
        "config".len() + 63 * shown_key.len() + "[99]".len()
    );
}
