//! The benchmark configs: one description of each config, written out as our
//! engine's input here and as each template engine's input in `dialects`.

use std::fmt::Write as _;

use integrations_domain::Parameters;
use serde_json::{Value, json};

/// A config with its placeholders, from which every engine's input is written.
pub(crate) enum Tpl {
    /// Static JSON (strings may hold non-parameter braces such as `{{event.name}}`).
    Lit(Value),
    /// A string that is exactly one placeholder; the result keeps the parameter's type.
    Whole {
        key: String,
        spaced: bool,
    },
    /// A string with placeholders inside text.
    Text(Vec<Part>),
    Obj(Vec<(&'static str, Tpl)>),
    Arr(Vec<Tpl>),
}

pub(crate) enum Part {
    Lit(&'static str),
    Param(String),
}

const VENDORS: [&str; 8] = [
    "ga4",
    "meta_capi",
    "tiktok_events",
    "snowflake",
    "bigquery",
    "amplitude",
    "braze",
    "webhook",
];

const FIELDS: [&str; 12] = [
    "event_name",
    "user_id",
    "session_id",
    "page_url",
    "referrer",
    "currency",
    "value",
    "items",
    "campaign",
    "device_type",
    "country",
    "consent",
];

fn whole(key: String, spaced: bool) -> Tpl {
    Tpl::Whole { key, spaced }
}

/// One mapping row: static, with a non-parameter `{{event.…}}` brace in every third row.
fn mapping_row(k: usize) -> Tpl {
    let field = FIELDS[k % FIELDS.len()];
    let from = if k % 3 == 0 {
        format!("{{{{event.{field}}}}}")
    } else {
        format!("$.properties.{field}")
    };
    Tpl::Lit(json!({
        "from": from,
        "to": format!("params.{field}_{k}"),
        "required": k % 4 == 0,
        "max_length": 64 + k,
    }))
}

/// One destination block with exactly five placeholders: two embedded (one a
/// number) in the endpoint, a whole string (quote, backslash, tab, non-ASCII),
/// a whole number (an integer or a float) and a whole boolean.
/// `extras` adds static retry and header settings.
fn destination(j: usize, slot: usize, mapping_rows: usize, extras: bool) -> Tpl {
    let sizing = if slot % 2 == 0 {
        ("max_events", whole(format!("batch_{slot}"), false))
    } else {
        ("sample_rate", whole(format!("rate_{slot}"), false))
    };
    let mut members = vec![
        ("id", Tpl::Lit(json!(format!("dest_{j:03}")))),
        ("vendor", Tpl::Lit(json!(VENDORS[j % VENDORS.len()]))),
        ("enabled", Tpl::Lit(json!(j % 5 != 0))),
        (
            "endpoint",
            Tpl::Text(vec![
                Part::Lit("https://"),
                Part::Param(format!("host_{slot}")),
                Part::Lit(":"),
                Part::Param(format!("port_{slot}")),
                Part::Lit("/v2/events?source=pipeline"),
            ]),
        ),
        (
            "auth",
            Tpl::Obj(vec![
                ("type", Tpl::Lit(json!("bearer"))),
                ("token", whole(format!("token_{slot}"), true)),
                ("refresh_before_s", Tpl::Lit(json!(300))),
            ]),
        ),
        (
            "batching",
            Tpl::Obj(vec![
                sizing,
                ("flush_interval_ms", Tpl::Lit(json!(2000))),
                ("compress", Tpl::Lit(json!(true))),
            ]),
        ),
        ("debug", whole(format!("debug_{slot}"), false)),
        (
            "mapping",
            Tpl::Arr((0..mapping_rows).map(|k| mapping_row(j + k)).collect()),
        ),
    ];
    if extras {
        members.push((
            "retry",
            Tpl::Lit(json!({
                "max_attempts": 3,
                "backoff_ms": [100, 400, 1600],
                "on_status": [429, 500, 502, 503],
            })),
        ));
        members.push((
            "headers",
            Tpl::Lit(json!({
                "Content-Type": "application/json",
                "X-Trace-Id": "{{event.trace_id}}",
            })),
        ));
    }
    Tpl::Obj(members)
}

/// A config of `blocks` destinations (5 placeholders each), keys reused every `slots` blocks.
pub(crate) fn config(
    name: &str,
    blocks: usize,
    slots: usize,
    mapping_rows: usize,
    extras: bool,
) -> Tpl {
    Tpl::Obj(vec![
        ("schema_version", Tpl::Lit(json!(3))),
        ("name", Tpl::Lit(json!(name))),
        ("timeout_ms", Tpl::Lit(json!(5000))),
        (
            "destinations",
            Tpl::Arr(
                (0..blocks)
                    .map(|j| destination(j, j % slots, mapping_rows, extras))
                    .collect(),
            ),
        ),
    ])
}

/// Values for every key a config with `slots` slots references.
pub(crate) fn parameters(slots: usize) -> Parameters {
    let mut map = serde_json::Map::new();
    for s in 0..slots {
        map.insert(
            format!("host_{s}"),
            json!(format!("collect-{s}.eu.example.com")),
        );
        map.insert(format!("port_{s}"), json!(8443 + s));
        map.insert(format!("token_{s}"), json!(format!("tok\"{s}\\x\té")));
        map.insert(format!("batch_{s}"), json!(100 + 50 * s));
        // Exact in binary and never integral, so every engine writes the same number.
        map.insert(
            format!("rate_{s}"),
            json!([0.5, 0.25, 0.125, 0.0625][s % 4]),
        );
        map.insert(format!("debug_{s}"), json!(s % 3 == 0));
    }
    serde_json::from_value(Value::Object(map)).expect("valid parameters")
}

/// Our engine's input: a JSON value with `{{pipeline_param.KEY}}` strings.
pub(crate) fn to_value(tpl: &Tpl) -> Value {
    match tpl {
        Tpl::Lit(value) => value.clone(),
        Tpl::Whole { key, spaced: true } => {
            Value::String(format!("{{{{ pipeline_param.{key} }}}}"))
        }
        Tpl::Whole { key, spaced: false } => Value::String(format!("{{{{pipeline_param.{key}}}}}")),
        Tpl::Text(parts) => {
            let mut text = String::new();
            for part in parts {
                match part {
                    Part::Lit(literal) => text.push_str(literal),
                    Part::Param(key) => {
                        let _ = write!(text, "{{{{pipeline_param.{key}}}}}");
                    }
                }
            }
            Value::String(text)
        }
        Tpl::Obj(members) => Value::Object(
            members
                .iter()
                .map(|(key, member)| ((*key).to_owned(), to_value(member)))
                .collect(),
        ),
        Tpl::Arr(items) => Value::Array(items.iter().map(to_value).collect()),
    }
}
