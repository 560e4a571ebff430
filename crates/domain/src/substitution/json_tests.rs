//! The JSON text form must be, byte for byte, `serde_json::to_string` of the
//! `Value` form, and fail exactly when and as the `Value` form fails.

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;
use serde_json::{Number, Value, json};

use super::tests::{KEYS, all_params, config, param_value, params};
use super::text::push_escaped;
use super::*;

/// Renders both forms, checks they agree and that the text parses back, and returns the text.
fn text_of(plan: &Plan, params: &Parameters) -> String {
    let value = plan.render(params).expect("all parameters are defined");
    let text = plan
        .render_json(params)
        .expect("all parameters are defined");
    assert_eq!(text, serde_json::to_string(&*value).expect("serialises"));
    assert_eq!(
        serde_json::from_str::<Value>(&text).ok().as_ref(),
        Some(&*value)
    );
    text
}

fn render_json(config: Value, with: Value) -> String {
    text_of(&Plan::compile(config), &params(with))
}

/// Every byte below 0x20, DEL, quotes, backslashes, `/`, non-ASCII and a placeholder.
const NASTY: &str = "\u{0}\u{1}\u{7}\u{8}\t\n\u{b}\u{c}\r\u{e}\u{1b}\u{1f} \"q\" \\b\\ / \u{7f} é 日本 🎉 \u{2028} \u{ffff} {{pipeline_param.b}}";

#[test]
fn escapes_strings_exactly_as_serde_json() {
    let mut escaped = String::new();
    push_escaped(&mut escaped, NASTY);
    assert_eq!(
        format!("\"{escaped}\""),
        serde_json::to_string(NASTY).expect("serialises")
    );
    let mut escaped = String::new();
    push_escaped(&mut escaped, "a\"b\\c\u{1}\u{8}\u{c}/é");
    assert_eq!(escaped, r#"a\"b\\c\u0001\b\f/é"#);
}

#[test]
fn nasty_values_whole_and_inside_strings() {
    let text = render_json(
        json!({ "whole": "{{pipeline_param.a}}", "inside": "<\"{{pipeline_param.a}}\\>", "b": "{{pipeline_param.b}}" }),
        json!({ "a": NASTY, "b": "SHOULD NOT APPEAR TWICE" }),
    );
    assert_eq!(text.matches("SHOULD NOT APPEAR TWICE").count(), 1);
    assert_eq!(text.matches("{{pipeline_param.b}}").count(), 2);
    let text = render_json(
        json!({ "k": "{{pipeline_param.a}}" }),
        json!({ "a": "say \"hi\"\n" }),
    );
    assert_eq!(text, r#"{"k":"say \"hi\"\n"}"#);
}

#[test]
fn object_keys_and_static_text_are_escaped_and_never_substituted() {
    let text = render_json(
        json!({
            "{{pipeline_param.a}}": "k\"e\\y",
            "q\"\n\u{1}": ["{{event.name}}", "x{{pipeline_param.a}}\t{{pipeline_param.a}}"],
            "é": { "/": "{{ pipeline_param.a }}" }
        }),
        json!({ "a": "v" }),
    );
    assert!(
        text.contains(r#""{{pipeline_param.a}}":"k\"e\\y""#),
        "{text}"
    );
    assert!(
        text.contains(r#""q\"\n\u0001":["{{event.name}}","xv\tv"]"#),
        "{text}"
    );
}

#[test]
fn numbers_and_booleans_keep_their_json_text() {
    let numbers = [
        json!(0),
        json!(-7),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(2.5),
        json!(-0.125),
        json!(0.1),
        json!(1e300),
        json!(-2.225_073_858_507_201_4e-308),
        json!(5e-324),
        json!(100.0),
    ];
    for n in numbers {
        let text = render_json(
            json!({ "n": "{{pipeline_param.n}}", "t": "n={{pipeline_param.n}};" }),
            json!({ "n": n }),
        );
        assert!(
            text.starts_with(&format!(r#"{{"n":{n},"t":"n={n};"#)),
            "{text}"
        );
    }
    for b in [true, false] {
        assert_eq!(
            render_json(
                json!(["{{pipeline_param.b}}", "{{pipeline_param.b}}!"]),
                json!({ "b": b })
            ),
            format!(r#"[{b},"{b}!"]"#)
        );
    }
}

#[test]
fn empty_containers_null_and_adjacent_placeholders() {
    let text = render_json(
        json!({ "o": {}, "a": [], "n": null, "x": [{}, [], "{{pipeline_param.k}}{{pipeline_param.k}}", "{{pipeline_param.k}}"] }),
        json!({ "k": 1 }),
    );
    assert_eq!(text, r#"{"a":[],"n":null,"o":{},"x":[{},[],"11",1]}"#);
    assert_eq!(render_json(json!({}), json!({})), "{}");
    assert_eq!(render_json(json!([]), json!({})), "[]");
    assert_eq!(
        render_json(json!("{{pipeline_param.k}}"), json!({ "k": "v" })),
        r#""v""#
    );
}

#[test]
fn static_text_is_merged_into_one_run_between_holes() {
    let plan = Plan::compile(json!({
        "a": "{{pipeline_param.a}}", "b": [1, 2, { "c": true }], "d": "x{{pipeline_param.b}}y"
    }));
    // `{"a":` a `,"b":[1,2,{"c":true}],"d":"x` b `y"}`
    assert_eq!(plan.json.segment_count(), 5);
    let text = text_of(&plan, &params(json!({ "a": 1, "b": 2 })));
    assert_eq!(text, r#"{"a":1,"b":[1,2,{"c":true}],"d":"x2y"}"#);
}

#[test]
fn a_config_without_placeholders_is_one_literal() {
    let config = json!({ "a": [1, {"b": "{{event.x}}", "c": "\"\n"}], "c": {}, "d": 2.5 });
    let plan = Plan::compile(config.clone());
    assert_eq!(plan.json.segment_count(), 1);
    assert_eq!(
        plan.render_json(&Parameters::new()).ok(),
        serde_json::to_string(&config).ok()
    );
}

#[test]
fn a_config_64_levels_deep_renders() {
    let mut config = json!("{{pipeline_param.leaf}}");
    for i in 0..64 {
        config = if i % 2 == 0 {
            json!({ "k": config })
        } else {
            json!([config])
        };
    }
    let text = render_json(config, json!({ "leaf": "x\"" }));
    assert_eq!(text.len(), 32 * r#"[{"k":}]"#.len() + r#""x\"""#.len());
}

#[test]
fn missing_keys_fail_like_render_and_leave_the_buffer_alone() {
    let plan = Plan::compile(json!({
        "a": "{{pipeline_param.zeta}}",
        "list": [{ "x": "id={{pipeline_param.alpha}}" }, "{{pipeline_param.zeta}}"],
        "ok": "{{pipeline_param.present}}"
    }));
    let partial = params(json!({ "present": 1 }));
    let err = plan
        .render_json(&partial)
        .expect_err("two keys are missing");
    assert_eq!(Err(&err), plan.render(&partial).as_ref());
    assert_eq!(err.missing().map(|m| m.references().len()), Some(3));

    let mut out = String::from("prefix");
    assert_eq!(plan.render_json_into(&partial, &mut out), Err(err));
    assert_eq!(out, "prefix");
    let all = params(json!({ "present": 1, "alpha": "a", "zeta": true }));
    assert_eq!(plan.render_json_into(&all, &mut out), Ok(()));
    assert_eq!(out, r#"prefix{"a":true,"list":[{"x":"id=a"},true],"ok":1}"#);
}

#[test]
fn works_with_plain_maps() {
    let plan = Plan::compile(json!({ "a": "{{pipeline_param.a}}" }));
    let mut hash = HashMap::new();
    hash.insert("a".to_owned(), ParamValue::Number(Number::from(1)));
    assert_eq!(plan.render_json(&hash).as_deref(), Ok(r#"{"a":1}"#));
    let mut tree = BTreeMap::new();
    tree.insert("a", ParamValue::from("x"));
    assert_eq!(plan.render_json(&tree).as_deref(), Ok(r#"{"a":"x"}"#));
}

// ---- properties -------------------------------------------------------------------------

/// Any string, with control characters, quotes and backslashes far more often than chance.
fn nasty_string() -> impl Strategy<Value = String> {
    let c = prop_oneof![
        any::<char>(),
        (0_u8..0x20).prop_map(char::from),
        prop::sample::select(vec!['"', '\\', '/', '\u{7f}', 'é', '🎉', '{', '}']),
    ];
    prop::collection::vec(c, 0..24).prop_map(|chars| chars.into_iter().collect())
}

fn nasty_params() -> impl Strategy<Value = Parameters> {
    let value = prop_oneof![param_value(), nasty_string().prop_map(ParamValue::String)];
    prop::collection::vec(value, KEYS.len()).prop_map(|values| {
        KEYS.iter()
            .zip(values)
            .map(|(k, v)| (ParamKey::scanned(k), v))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_escaper_matches_serde_json(text in prop_oneof![nasty_string(), any::<String>()]) {
        let mut escaped = String::from("\"");
        push_escaped(&mut escaped, &text);
        escaped.push('"');
        prop_assert_eq!(Some(escaped), serde_json::to_string(&text).ok());
    }

    #[test]
    fn render_json_is_serde_json_of_render(
        config in config(), params in prop_oneof![all_params(), nasty_params()]
    ) {
        let plan = Plan::compile(config);
        let value = plan.render(&params).map(Cow::into_owned);
        prop_assert!(value.is_ok());
        let value = value.unwrap_or_default();
        let text = plan.render_json(&params);
        let expected = serde_json::to_string(&value).ok();
        prop_assert_eq!(text.as_ref().ok(), expected.as_ref());
        let parsed: Option<Value> = serde_json::from_str(&text.unwrap_or_default()).ok();
        prop_assert_eq!(parsed, Some(value));
    }

    #[test]
    fn render_json_fails_exactly_like_render(
        config in config(), params in all_params(),
        drop in prop::sample::subsequence(KEYS.to_vec(), 0..=KEYS.len()),
        prefix in "\\PC{0,4}",
    ) {
        let plan = Plan::compile(config);
        let partial: Parameters = params.iter()
            .filter(|(k, _)| !drop.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let value = plan.render(&partial).map(|v| serde_json::to_string(&*v).unwrap_or_default());
        prop_assert_eq!(&plan.render_json(&partial), &value);
        let mut out = prefix.clone();
        let appended = plan.render_json_into(&partial, &mut out);
        prop_assert_eq!(appended.err(), value.as_ref().err().cloned());
        prop_assert_eq!(out, format!("{prefix}{}", value.unwrap_or_default()));
    }
}
