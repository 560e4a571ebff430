//! Benchmarks of the `{{pipeline_param.KEY}}` substitution engine.
//!
//! - `compile/<size>`: [`Plan::compile`] of a config (the clone of the input is not timed).
//! - `render/<size>`: [`Plan::render`] of a plan compiled once: the event processor's hot path.
//! - `e2e/<size>/<engine>`: the same config and parameters through our engine (a
//!   `serde_json::Value` out) and through general template engines (the config
//!   written as a JSON text template, compiled once outside the loop, rendered,
//!   then parsed with `serde_json::from_str::<Value>`).
//!
//! Before anything is timed, every engine's parsed output is asserted equal to
//! our rendered value for every size, so the comparison is like for like.
//!
//! See `docs/performance.md` for the numbers and how to reproduce them.

#![expect(
    clippy::expect_used,
    reason = "a benchmark's fixtures are known good: a failure is a bug in the bench and should stop it loudly"
)]

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use integrations_domain::substitution::Plan;
use integrations_domain::{ParamValue, Parameters};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------
// The configs: one description, written out for every engine.
// ---------------------------------------------------------------------------

/// A config with its placeholders, from which every engine's input is written.
enum Tpl {
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

enum Part {
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
fn config(name: &str, blocks: usize, slots: usize, mapping_rows: usize, extras: bool) -> Tpl {
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
fn parameters(slots: usize) -> Parameters {
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

// ---------------------------------------------------------------------------
// Writing a config for each engine.
// ---------------------------------------------------------------------------

/// Our engine's input: a JSON value with `{{pipeline_param.KEY}}` strings.
fn to_value(tpl: &Tpl) -> Value {
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

/// How a template engine writes a JSON text template.
trait Dialect {
    /// Static JSON text, with the engine's delimiters made literal.
    fn literal(&self, json: &str, out: &mut String);
    /// A whole-value placeholder: the parameter as a JSON value of its own type.
    fn whole(&self, key: &str, value: &ParamValue, out: &mut String);
    /// A JSON string (quotes included) with placeholders inside text.
    fn text(&self, parts: &[Part], out: &mut String);
}

/// Writes a template, coalescing adjacent static text into one chunk.
struct Writer<'d> {
    dialect: &'d dyn Dialect,
    params: &'d Parameters,
    out: String,
    pending: String,
}

impl Writer<'_> {
    fn flush(&mut self) {
        if !self.pending.is_empty() {
            self.dialect.literal(&self.pending, &mut self.out);
            self.pending.clear();
        }
    }

    fn write(&mut self, tpl: &Tpl) {
        match tpl {
            Tpl::Lit(value) => self
                .pending
                .push_str(&serde_json::to_string(value).expect("serialisable")),
            Tpl::Whole { key, .. } => {
                self.flush();
                let value = self.params.get(key).expect("every key has a value");
                self.dialect.whole(key, value, &mut self.out);
            }
            Tpl::Text(parts) => {
                self.flush();
                self.dialect.text(parts, &mut self.out);
            }
            Tpl::Obj(members) => {
                self.pending.push('{');
                for (i, (key, member)) in members.iter().enumerate() {
                    if i > 0 {
                        self.pending.push(',');
                    }
                    self.pending
                        .push_str(&serde_json::to_string(key).expect("serialisable"));
                    self.pending.push(':');
                    self.write(member);
                }
                self.pending.push('}');
            }
            Tpl::Arr(items) => {
                self.pending.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.pending.push(',');
                    }
                    self.write(item);
                }
                self.pending.push(']');
            }
        }
    }
}

fn template(tpl: &Tpl, dialect: &dyn Dialect, params: &Parameters) -> String {
    let mut writer = Writer {
        dialect,
        params,
        out: String::new(),
        pending: String::new(),
    };
    writer.write(tpl);
    writer.flush();
    writer.out
}

/// Appends `s` escaped for the inside of a JSON string (no quotes).
fn push_json_escaped(out: &mut String, s: &str) {
    let mut run = 0;
    for (i, byte) in s.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[run..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{byte:04x}");
        } else {
            out.push_str(escape);
        }
        run = i + 1;
    }
    out.push_str(&s[run..]);
}

/// minijinja with JSON auto-escaping: `{{ x }}` writes `x` as a JSON value of
/// its own type (strings quoted and escaped); embedded placeholders are one
/// concatenation expression, so the whole string is escaped once.
struct MiniJinja;

impl Dialect for MiniJinja {
    fn literal(&self, json: &str, out: &mut String) {
        if json.contains("{{") || json.contains("{%") || json.contains("{#") {
            let _ = write!(out, "{{% raw %}}{json}{{% endraw %}}");
        } else {
            out.push_str(json);
        }
    }

    fn whole(&self, key: &str, _: &ParamValue, out: &mut String) {
        let _ = write!(out, "{{{{ {key} }}}}");
    }

    fn text(&self, parts: &[Part], out: &mut String) {
        out.push_str("{{ ");
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                out.push_str(" ~ ");
            }
            match part {
                // A JSON string literal is also a valid minijinja string literal.
                Part::Lit(literal) => {
                    out.push_str(&serde_json::to_string(literal).expect("serialisable"));
                }
                Part::Param(key) => out.push_str(key),
            }
        }
        out.push_str(" }}");
    }
}

/// A Mustache-style engine (handlebars, upon) with a JSON-string escape hook:
/// strings are quoted in the template, numbers and booleans are not.
struct Mustache {
    open: &'static str,
    close: &'static str,
    /// How a literal `{{` is written.
    literal_open: &'static str,
    /// How a literal `}}` is written, if it must be escaped.
    literal_close: Option<&'static str>,
}

impl Mustache {
    fn placeholder(&self, key: &str, out: &mut String) {
        out.push_str(self.open);
        out.push_str(key);
        out.push_str(self.close);
    }
}

impl Dialect for Mustache {
    fn literal(&self, json: &str, out: &mut String) {
        let mut rest = json;
        while let Some(at) = rest.find(['{', '}']) {
            let (text, tail) = rest.split_at(at);
            out.push_str(text);
            if let Some(tail) = tail.strip_prefix("{{") {
                out.push_str(self.literal_open);
                rest = tail;
            } else if let (Some(tail), Some(close)) = (tail.strip_prefix("}}"), self.literal_close)
            {
                out.push_str(close);
                rest = tail;
            } else {
                out.push_str(&tail[..1]);
                rest = &tail[1..];
            }
        }
        out.push_str(rest);
    }

    fn whole(&self, key: &str, value: &ParamValue, out: &mut String) {
        let quoted = matches!(value, ParamValue::String(_));
        if quoted {
            out.push('"');
        }
        self.placeholder(key, out);
        if quoted {
            out.push('"');
        }
    }

    fn text(&self, parts: &[Part], out: &mut String) {
        out.push('"');
        for part in parts {
            match part {
                Part::Lit(literal) => {
                    let mut escaped = String::new();
                    push_json_escaped(&mut escaped, literal);
                    self.literal(&escaped, out);
                }
                Part::Param(key) => self.placeholder(key, out),
            }
        }
        out.push('"');
    }
}

const HANDLEBARS: Mustache = Mustache {
    open: "{{",
    close: "}}",
    literal_open: "\\{{",
    literal_close: None,
};

const UPON: Mustache = Mustache {
    open: "{{ ",
    close: " }}",
    literal_open: "{{ \"{{\" }}",
    literal_close: Some("{{ \"}}\" }}"),
};

/// upon's default formatter: values as text, strings escaped for the inside of a JSON string.
fn upon_json_text(f: &mut upon::fmt::Formatter<'_>, value: &upon::Value) -> upon::fmt::Result {
    match value {
        upon::Value::String(s) => {
            let mut escaped = String::with_capacity(s.len() + 8);
            push_json_escaped(&mut escaped, s);
            f.write_str(&escaped)?;
        }
        upon::Value::Integer(n) => write!(f, "{n}")?,
        upon::Value::Float(n) => write!(f, "{n}")?,
        upon::Value::Bool(b) => write!(f, "{b}")?,
        _ => return Err(upon::fmt::Error::from("not a scalar")),
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The benchmarks.
// ---------------------------------------------------------------------------

struct Fixture {
    size: &'static str,
    tpl: Tpl,
    config: Value,
    params: Parameters,
}

fn fixtures() -> Vec<Fixture> {
    [
        ("small", config("GA4", 1, 1, 1, false), parameters(1)),
        (
            "medium",
            config("Marketing fan-out", 4, 4, 2, true),
            parameters(4),
        ),
        (
            "large",
            config("Warehouse sync", 100, 25, 1, true),
            parameters(25),
        ),
    ]
    .into_iter()
    .map(|(size, tpl, params)| Fixture {
        size,
        config: to_value(&tpl),
        tpl,
        params,
    })
    .collect()
}

fn describe(fixture: &Fixture, plan: &Plan) {
    let text = serde_json::to_string(&fixture.config).expect("serialisable");
    eprintln!(
        "substitution bench: {:<6} config {:>6} bytes (compact JSON), {:>3} placeholders, {:>3} distinct keys",
        fixture.size,
        text.len(),
        plan.references().count(),
        plan.keys().len(),
    );
}

fn bench_compile_and_render(c: &mut Criterion, fixtures: &[Fixture]) {
    let mut compile = c.benchmark_group("compile");
    for fixture in fixtures {
        compile.bench_function(fixture.size, |b| {
            b.iter_batched(
                || fixture.config.clone(),
                |config| Plan::compile(black_box(config)),
                BatchSize::SmallInput,
            );
        });
    }
    compile.finish();

    let mut render = c.benchmark_group("render");
    for fixture in fixtures {
        let plan = Plan::compile(fixture.config.clone());
        render.bench_function(fixture.size, |b| {
            b.iter(|| plan.render(black_box(&fixture.params)).expect("complete"));
        });
    }
    render.finish();
}

/// Checks that every engine's output equals ours; then, if `timed`, benchmarks them.
fn bench_e2e(c: &mut Criterion, fixture: &Fixture, timed: bool) {
    let Fixture {
        size, tpl, params, ..
    } = fixture;
    let plan = Plan::compile(fixture.config.clone());
    let ours = plan.render(params).expect("complete").into_owned();
    if !timed {
        describe(fixture, &plan);
    }
    assert!(!ours.to_string().contains("pipeline_param"));

    let mut env = minijinja::Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Json);
    env.add_template_owned("config.json", template(tpl, &MiniJinja, params))
        .expect("minijinja template compiles");
    let minijinja_template = env.get_template("config.json").expect("added");
    let minijinja_ctx = minijinja::Value::from(minijinja::value::Serde(params));
    let minijinja = || -> Value {
        let text = minijinja_template
            .render(minijinja_ctx.clone())
            .expect("renders");
        serde_json::from_str(&text).expect("valid JSON")
    };

    let mut handlebars = handlebars::Handlebars::new();
    handlebars.register_escape_fn(|s| {
        let mut escaped = String::with_capacity(s.len() + 8);
        push_json_escaped(&mut escaped, s);
        escaped
    });
    handlebars
        .register_template_string("config", template(tpl, &HANDLEBARS, params))
        .expect("handlebars template compiles");
    let handlebars_ctx = handlebars::Context::wraps(params).expect("serialisable");
    let handlebars = || -> Value {
        let text = handlebars
            .render_with_context("config", &handlebars_ctx)
            .expect("renders");
        serde_json::from_str(&text).expect("valid JSON")
    };

    let mut upon_engine = upon::Engine::new();
    upon_engine.set_default_formatter(&upon_json_text);
    let upon_template = upon_engine
        .compile(template(tpl, &UPON, params))
        .expect("upon template compiles");
    let upon_ctx = upon::to_value(params).expect("serialisable");
    let upon = || -> Value {
        let text = upon_template
            .render_from(&upon_engine, &upon_ctx)
            .to_string()
            .expect("renders");
        serde_json::from_str(&text).expect("valid JSON")
    };

    // Like for like, or nothing is timed.
    assert_eq!(minijinja(), ours, "minijinja differs on {size}");
    assert_eq!(handlebars(), ours, "handlebars differs on {size}");
    assert_eq!(upon(), ours, "upon differs on {size}");
    if !timed {
        return;
    }

    let mut group = c.benchmark_group(format!("e2e/{size}"));
    group.bench_function("ours", |b| {
        b.iter(|| plan.render(black_box(params)).expect("complete"));
    });
    group.bench_function("minijinja", |b| b.iter(minijinja));
    group.bench_function("handlebars", |b| b.iter(handlebars));
    group.bench_function("upon", |b| b.iter(upon));
    group.finish();
}

fn benches(c: &mut Criterion) {
    let fixtures = fixtures();
    for timed in [false, true] {
        for fixture in &fixtures {
            bench_e2e(c, fixture, timed);
        }
    }
    bench_compile_and_render(c, &fixtures);
}

fn config_criterion() -> Criterion {
    Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = substitution;
    config = config_criterion();
    targets = benches
}
criterion_main!(substitution);
