//! Fuzzing the substitution engine with hostile configs and parameter maps.
//!
//! For every generated case: compiling, validating and rendering never panic;
//! a render either succeeds with output within the limit that is valid JSON,
//! equal to the `Value` form and exactly as long as `render_size` said, or
//! fails with `TooLarge` (the size over the limit) or `Missing`; and the bytes
//! allocated during a render stay within a small multiple of the limit,
//! measured with a counting global allocator (current and peak bytes). That
//! is why this is a test binary of its own, with a single test: nothing else
//! allocates while a render is measured.
//!
//! A few seconds by default; `PROPTEST_CASES=100000 cargo test --release -p
//! integrations-domain --test render_fuzz` (or `just fuzz-render`) for a long run.

#![expect(
    clippy::expect_used,
    reason = "tests: a broken fixture must fail the test at once"
)]

use std::borrow::Cow;

use integrations_domain::substitution::{Plan, RenderError, RenderLimits};
use integrations_domain::{
    MAX_PROBLEMS, ParamKey, ParamValue, Parameters, catalog, validate_config,
};
use peak_alloc::PeakAlloc;
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Map, Number, Value};

#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

/// What a render may allocate besides its output: the resolved values, and
/// allocator bookkeeping of a few small vectors.
const SLACK: usize = 64 * 1024;

/// Keys placeholders use; a parameter map defines each with a high
/// probability, and never `missing`.
const KEYS: [&str; 7] = ["a", "b", "big", "q", "n", "_", "K_9"];

fn long_key() -> String {
    "k".repeat(64)
}

/// Text with quotes, backslashes, control characters, unicode and braces far
/// more often than chance.
fn nasty_text() -> impl Strategy<Value = String> {
    let c = prop_oneof![
        4 => any::<char>(),
        2 => (0_u8..0x20).prop_map(char::from),
        3 => prop::sample::select(vec!['"', '\\', '/', '\u{7f}', 'é', '🎉', '{', '}', '.', ' ', '\u{202e}']),
    ];
    prop::collection::vec(c, 0..16).prop_map(|chars| chars.into_iter().collect())
}

fn key_name() -> impl Strategy<Value = String> {
    prop_oneof![
        30 => prop::sample::select(KEYS.to_vec()).prop_map(str::to_owned),
        3 => Just(long_key()),
        1 => Just("missing".to_owned()),
    ]
}

/// One piece of a config string.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => nasty_text(),
        4 => key_name().prop_map(|k| format!("{{{{pipeline_param.{k}}}}}")),
        2 => key_name().prop_map(|k| format!("{{{{ \tpipeline_param.{k} \n}}}}")),
        // Malformed references, terminated or not.
        3 => prop::sample::select(vec![
            "{{pipeline_param.", "{{pipeline_param.}}", "{{pipeline_param.a-b}}", "{{pipeline_param.a.b}}",
            "{{ pipeline_param", "{{pipeline_param.x", "{{pipeline_param.é}}", "{{{pipeline_param.a}",
        ]).prop_map(str::to_owned),
        1 => Just(format!("{{{{pipeline_param.{}}}}}", "k".repeat(65))),
        // Other namespaces and stray braces stay verbatim.
        1 => prop::sample::select(vec!["{{event.name}}", "{{", "}}", "{{{{", "}}}}"]).prop_map(str::to_owned),
    ]
}

/// A config string: a few pieces, or one piece repeated many times (wide).
fn config_string() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::collection::vec(piece(), 0..6).prop_map(|pieces| pieces.concat()),
        1 => (piece(), 1_usize..3_000).prop_map(|(piece, times)| piece.repeat(times)),
    ]
}

fn number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<i64>().prop_map(Number::from),
        any::<u64>().prop_map(Number::from),
        any::<f64>().prop_filter_map("finite", Number::from_f64),
    ]
}

/// A config: deep and wide objects and arrays of hostile strings.
fn config() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        6 => config_string().prop_map(Value::String),
        1 => number().prop_map(Value::Number),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => Just(Value::Null),
    ];
    leaf.prop_recursive(12, 200, 12, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..12).prop_map(Value::Array),
            prop::collection::vec((prop_oneof![nasty_text(), config_string()], inner), 0..12)
                .prop_map(|members| Value::Object(members.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A parameter value: small or huge, nasty, or holding placeholders.
fn param_value() -> impl Strategy<Value = ParamValue> {
    prop_oneof![
        4 => nasty_text().prop_map(ParamValue::String),
        2 => config_string().prop_map(ParamValue::String),
        2 => (prop::sample::select(vec!["x", "\"", "\\", "\n", "\u{1}", "é", "🎉"]), 0_usize..40_000)
            .prop_map(|(unit, times)| ParamValue::String(unit.repeat(times))),
        2 => number().prop_map(ParamValue::Number),
        1 => any::<bool>().prop_map(ParamValue::Bool),
    ]
}

/// A parameter map: most of the keys placeholders use, and up to 150 others.
fn parameters() -> impl Strategy<Value = Parameters> {
    let named = prop::collection::vec(prop::option::weighted(0.97, param_value()), KEYS.len() + 1);
    let many = (0_usize..150, param_value());
    (named, many).prop_map(|(named, (count, filler))| {
        let mut params = Parameters::new();
        let keys = KEYS.iter().map(|k| (*k).to_owned()).chain([long_key()]);
        for (key, value) in keys.zip(named) {
            if let Some(value) = value {
                params.insert(ParamKey::parse(&key).expect("a valid key"), value);
            }
        }
        for i in 0..count {
            params.insert(
                ParamKey::parse(&format!("extra_{i}")).expect("a valid key"),
                filler.clone(),
            );
        }
        params
    })
}

fn limits() -> impl Strategy<Value = RenderLimits> {
    prop_oneof![
        Just(RenderLimits::new(0)),
        Just(RenderLimits::new(64)),
        Just(RenderLimits::new(4 * 1024)),
        Just(RenderLimits::new(64 * 1024)),
        Just(RenderLimits::default()),
    ]
}

/// Runs `render` and returns its result and the most bytes it had allocated
/// at once beyond what was allocated before it.
fn measured<T>(render: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATOR.current_usage();
    ALLOCATOR.reset_peak_usage();
    let result = render();
    let peak = ALLOCATOR.peak_usage().saturating_sub(before);
    (result, peak)
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(128)
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

proptest! {
    #![proptest_config(Config { cases: cases(), max_shrink_iters: 2_000, ..Config::default() })]

    #[test]
    fn hostile_configs_and_parameters_render_within_bounds(
        config in config(),
        params in parameters(),
        limits in limits(),
    ) {
        let limit = to_usize(limits.max_output_bytes);
        for vendor in ["webhook", "meta_capi"] {
            let vendor = catalog::vendor(vendor).expect("in the catalog");
            if let Err(problems) = validate_config(vendor, &config) {
                prop_assert!(problems.len() <= MAX_PROBLEMS);
                prop_assert!(problems.total() >= problems.len());
            }
        }
        let plan = Plan::compile(config);
        prop_assert!(plan.malformed().len() <= MAX_PROBLEMS);
        prop_assert!(plan.malformed_count() >= plan.malformed().len());
        let references = plan.references().count();

        let (text, text_peak) = measured(|| plan.render_json_with(&params, limits));
        let (value, value_peak) = measured(|| {
            plan.render_with(&params, limits).map(|value| matches!(value, Cow::Owned(_)))
        });
        match &text {
            Ok(text) => {
                prop_assert!(text.len() <= limit);
                prop_assert_eq!(plan.render_size(&params).ok(), Some(text.len() as u64));
                let parsed: Value = serde_json::from_str(text).expect("valid JSON");
                let rendered = plan.render_with(&params, limits).expect("renders as text did");
                prop_assert_eq!(&parsed, &*rendered);
                prop_assert_eq!(text, &serde_json::to_string(&*rendered).expect("serialises"));
                prop_assert!(value.is_ok());
                // The text is reserved once, exactly; the rest is the resolved values.
                prop_assert!(text_peak <= text.len() + SLACK, "{} bytes for {}", text_peak, text.len());
                // A `Value` tree takes more room than its JSON text (a BTreeMap
                // node for a one-member object, 32 bytes for a one-byte number),
                // but within a fixed factor of it.
                prop_assert!(value_peak <= 128 * text.len() + SLACK, "{} bytes for {}", value_peak, text.len());
            }
            Err(RenderError::TooLarge { size, limit: refused }) => {
                prop_assert_eq!(*refused, limits.max_output_bytes);
                prop_assert!(*size > limits.max_output_bytes);
                prop_assert_eq!(plan.render_size(&params).ok(), Some(*size));
                prop_assert_eq!(
                    value.as_ref().err(),
                    Some(&RenderError::TooLarge { size: *size, limit: *refused })
                );
                // Refused by arithmetic: nothing near the output's size.
                prop_assert!(text_peak <= SLACK, "{} bytes allocated to refuse", text_peak);
                prop_assert!(value_peak <= SLACK, "{} bytes allocated to refuse", value_peak);
            }
            Err(RenderError::Missing(missing)) => {
                prop_assert!(plan.keys().any(|key| key == "missing" || params.get(key).is_none()));
                prop_assert!(missing.references().len() <= references);
                prop_assert_eq!(value.as_ref().err(), text.as_ref().err());
                // The error lists each reference once: its cost follows the
                // config, never the parameter values.
                prop_assert!(text_peak <= SLACK + 256 * references, "{} bytes", text_peak);
                prop_assert!(value_peak <= SLACK + 256 * references, "{} bytes", value_peak);
            }
        }
    }
}
