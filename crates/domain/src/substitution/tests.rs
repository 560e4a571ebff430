use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;
use serde_json::{Number, Value, json};

use super::scan::scan;
use super::*;

pub(super) fn params(value: Value) -> Parameters {
    serde_json::from_value(value).expect("valid parameters")
}

fn render(config: Value, with: Value) -> Result<Value, RenderError> {
    Plan::compile(config)
        .render(&params(with))
        .map(Cow::into_owned)
}

#[test]
fn renders_the_seed_ga4_example() {
    let config = json!({
        "measurement_id": "{{pipeline_param.ga4_measurement_id}}",
        "api_secret": "{{pipeline_param.ga4_api_secret}}",
        "debug_mode": false
    });
    let rendered = render(
        config,
        json!({ "ga4_measurement_id": "G-ABC123", "ga4_api_secret": "s3cr3t" }),
    );
    assert_eq!(
        rendered,
        Ok(json!({ "measurement_id": "G-ABC123", "api_secret": "s3cr3t", "debug_mode": false }))
    );
}

#[test]
fn whole_placeholders_keep_the_json_type_and_embedded_ones_interpolate_text() {
    let config = json!({
        "n": "{{pipeline_param.n}}", "f": "{{ pipeline_param.f }}", "b": "{{pipeline_param.b}}",
        "s": "{{pipeline_param.s}}",
        "text": "n={{pipeline_param.n}} f={{pipeline_param.f}} b={{pipeline_param.b}} s={{pipeline_param.s}}"
    });
    let rendered = render(config, json!({ "n": 100, "f": 2.5, "b": true, "s": "x" }));
    assert_eq!(
        rendered,
        Ok(json!({
            "n": 100, "f": 2.5, "b": true, "s": "x", "text": "n=100 f=2.5 b=true s=x"
        }))
    );
}

#[test]
fn adjacent_placeholders_and_unicode() {
    let rendered = render(
        json!({ "k": "→{{pipeline_param.a}}{{pipeline_param.b}}é", "ü": ["{{pipeline_param.a}}"] }),
        json!({ "a": "日本", "b": 7 }),
    );
    assert_eq!(rendered, Ok(json!({ "k": "→日本7é", "ü": ["日本"] })));
}

#[test]
fn other_namespaces_broken_references_and_keys_are_kept_verbatim() {
    let config = json!({
        "message_template": "New {{event.name}} for {{ pipeline_param.team }}",
        "broken": ["{{pipeline_param.}}", "{{pipeline_param.a-b}}", "{{pipeline_param.a.b}}", "{{pipeline_param.x"],
        "{{pipeline_param.team}}": "object keys are never substituted"
    });
    let plan = Plan::compile(config);
    assert_eq!(plan.keys().collect::<Vec<_>>(), ["team"]);
    assert_eq!(plan.malformed().len(), 4);
    assert_eq!(plan.malformed()[1].path.to_string(), "config.broken[1]");
    let rendered = plan
        .render(&params(json!({ "team": "growth" })))
        .map(Cow::into_owned);
    assert_eq!(
        rendered,
        Ok(json!({
            "message_template": "New {{event.name}} for growth",
            "broken": ["{{pipeline_param.}}", "{{pipeline_param.a-b}}", "{{pipeline_param.a.b}}", "{{pipeline_param.x"],
            "{{pipeline_param.team}}": "object keys are never substituted"
        }))
    );
}

#[test]
fn values_are_inserted_literally_and_never_rescanned() {
    let nasty = "q\"uote \\ back\u{0}nul\n{{pipeline_param.b}}\u{1f}";
    let config = json!({ "whole": "{{pipeline_param.a}}", "inside": "<{{pipeline_param.a}}>" });
    let rendered = render(config, json!({ "a": nasty, "b": "SHOULD NOT APPEAR" }))
        .expect("all parameters are defined");
    assert_eq!(rendered["whole"], json!(nasty));
    assert_eq!(rendered["inside"], json!(format!("<{nasty}>")));
    let text = serde_json::to_string(&rendered).expect("serialises");
    assert!(!text.contains("SHOULD NOT APPEAR"));
    assert_eq!(serde_json::from_str::<Value>(&text).ok(), Some(rendered));
}

#[test]
fn every_missing_key_is_reported_with_every_path() {
    let plan = Plan::compile(json!({
        "a": "{{pipeline_param.zeta}}",
        "list": [{ "x": "id={{pipeline_param.alpha}}" }, "{{pipeline_param.zeta}}"],
        "ok": "{{pipeline_param.present}}"
    }));
    let err = plan
        .render(&params(json!({ "present": 1 })))
        .expect_err("two keys are missing");
    let Some(err) = err.missing() else {
        panic!("fails on missing keys: {err}");
    };
    let found: Vec<String> = err
        .references()
        .iter()
        .map(|m| format!("{} {}", m.key, m.path))
        .collect();
    assert_eq!(
        found,
        [
            "alpha config.list[0].x",
            "zeta config.a",
            "zeta config.list[1]"
        ]
    );
    assert_eq!(
        err.keys().map(ParamKey::as_str).collect::<Vec<_>>(),
        ["alpha", "zeta"]
    );
}

#[test]
fn a_config_without_placeholders_is_borrowed() {
    let config = json!({ "a": [1, {"b": "{{event.x}}"}], "c": {} });
    let plan = Plan::compile(config.clone());
    assert!(!plan.has_placeholders());
    let rendered = plan.render(&Parameters::new());
    assert!(matches!(rendered, Ok(Cow::Borrowed(v)) if *v == config));
}

#[test]
fn empty_containers_and_scalars_survive() {
    let config = json!({ "o": {}, "a": [], "n": null, "x": [{}, [], "{{pipeline_param.k}}"] });
    assert_eq!(
        render(config, json!({ "k": false })),
        Ok(json!({ "o": {}, "a": [], "n": null, "x": [{}, [], false] }))
    );
    assert_eq!(render(json!({}), json!({})), Ok(json!({})));
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
    let rendered = render(config, json!({ "leaf": 1 })).expect("renders");
    let mut node = &rendered;
    for i in (0..64).rev() {
        node = if i % 2 == 0 { &node["k"] } else { &node[0] };
    }
    assert_eq!(*node, json!(1));
}

#[test]
fn works_with_plain_maps_and_reports_unused_keys() {
    let plan = Plan::compile(json!({ "a": "{{pipeline_param.a}}" }));
    let mut hash = HashMap::new();
    hash.insert("a".to_owned(), ParamValue::Number(Number::from(1)));
    assert_eq!(
        plan.render(&hash).map(Cow::into_owned),
        Ok(json!({ "a": 1 }))
    );
    let mut tree = BTreeMap::new();
    tree.insert("a", ParamValue::from("x"));
    assert_eq!(
        plan.render(&tree).map(Cow::into_owned),
        Ok(json!({ "a": "x" }))
    );

    let defined = params(json!({ "a": 1, "b": 2, "c": 3 }));
    let unused: Vec<_> = plan.unused_keys(&defined).map(ParamKey::as_str).collect();
    assert_eq!(unused, ["b", "c"]);
}

#[test]
fn plans_are_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Plan>();
}

// ---- properties -------------------------------------------------------------------------

pub(super) const KEYS: [&str; 4] = ["a", "b_2", "Key", "x"];

fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,6}",
        any::<String>().prop_map(|s| s.chars().take(6).collect()),
        prop::sample::select(KEYS.to_vec()).prop_map(|k| format!("{{{{pipeline_param.{k}}}}}")),
        prop::sample::select(KEYS.to_vec()).prop_map(|k| format!("{{{{  pipeline_param.{k} }}}}")),
        Just("{{event.name}}".to_owned()),
        Just("{{pipeline_param.}}".to_owned()),
        Just("{{".to_owned()),
        Just("}}".to_owned()),
        Just("\"\\\n".to_owned()),
    ]
}

pub(super) fn string_value() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..4).prop_map(|parts| parts.concat())
}

pub(super) fn config() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        string_value().prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(string_value(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

pub(super) fn param_value() -> impl Strategy<Value = ParamValue> {
    prop_oneof![
        string_value().prop_map(ParamValue::String),
        any::<i64>().prop_map(|n| ParamValue::Number(n.into())),
        any::<f64>()
            .prop_filter_map("finite", Number::from_f64)
            .prop_map(ParamValue::Number),
        any::<bool>().prop_map(ParamValue::Bool),
    ]
}

pub(super) fn all_params() -> impl Strategy<Value = Parameters> {
    prop::collection::vec(param_value(), KEYS.len()).prop_map(|values| {
        KEYS.iter()
            .zip(values)
            .map(|(k, v)| (ParamKey::scanned(k), v))
            .collect()
    })
}

/// Whether any string in `value` still holds a valid `pipeline_param` placeholder.
fn has_placeholder(value: &Value) -> bool {
    match value {
        Value::String(s) => scan(s).has_params(),
        Value::Array(items) => items.iter().any(has_placeholder),
        Value::Object(members) => members.values().any(has_placeholder),
        _ => false,
    }
}

/// Parameter values without braces, so rendered output cannot hold a placeholder by insertion.
fn brace_free(params: &Parameters) -> bool {
    params
        .iter()
        .all(|(_, v)| !matches!(v, ParamValue::String(s) if s.contains('{') || s.contains('}')))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn rendering_with_every_key_succeeds_and_round_trips_as_json(
        config in config(), params in all_params()
    ) {
        let plan = Plan::compile(config);
        let rendered = plan.render(&params);
        prop_assert!(rendered.is_ok());
        let rendered = rendered.unwrap_or_default();
        let text = serde_json::to_string(&*rendered);
        prop_assert!(text.is_ok());
        let parsed: Option<Value> = serde_json::from_str(&text.unwrap_or_default()).ok();
        prop_assert_eq!(parsed.as_ref(), Some(&*rendered));
    }

    #[test]
    fn rendering_with_every_key_leaves_no_placeholder(
        config in config(), params in all_params().prop_filter("no braces", brace_free)
    ) {
        let plan = Plan::compile(config);
        let rendered = plan.render(&params).map(Cow::into_owned);
        prop_assert!(matches!(rendered, Ok(ref v) if !has_placeholder(v)));
    }

    #[test]
    fn rendering_is_deterministic(config in config(), params in all_params()) {
        let once = Plan::compile(config.clone()).render(&params).map(Cow::into_owned);
        let plan = Plan::compile(config);
        prop_assert_eq!(&once, &plan.render(&params).map(Cow::into_owned));
        prop_assert_eq!(&once, &plan.render(&params).map(Cow::into_owned));
    }

    #[test]
    fn a_missing_key_fails_the_render_and_is_named(
        config in config(), params in all_params(), drop in prop::sample::select(KEYS.to_vec())
    ) {
        let plan = Plan::compile(config);
        let partial: Parameters = params.iter()
            .filter(|(k, _)| k.as_str() != drop)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let referenced = plan.keys().any(|k| k == drop);
        match plan.render(&partial) {
            Ok(_) => prop_assert!(!referenced),
            Err(err) => {
                prop_assert!(referenced);
                let err = err.missing().cloned().unwrap_or_else(|| MissingParameters(Vec::new()));
                prop_assert!(err.keys().all(|k| k.as_str() == drop));
                let paths = plan.references().filter(|(k, _)| k.as_str() == drop).count();
                prop_assert_eq!(err.references().len(), paths);
            }
        }
    }

    #[test]
    fn compiling_arbitrary_text_never_panics(text in any::<String>(), tail in string_value()) {
        let value = Value::String(format!("{text}{tail}"));
        let plan = Plan::compile(value);
        let _ = plan.render(&Parameters::new());
    }
}
