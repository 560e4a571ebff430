//! Benchmarks of the `{{pipeline_param.KEY}}` substitution engine.
//!
//! - `compile/<size>`: [`Plan::compile`] of a config (the clone of the input is not timed).
//! - `render/<size>`: [`Plan::render`] of a plan compiled once, to a `serde_json::Value`.
//! - `render_json/<size>`: [`Plan::render_json`] of the same plan, to compact JSON text.
//! - `e2e/<size>/<engine>`: the same config and parameters through our engine and
//!   through general template engines (the config written as a JSON text
//!   template, compiled once outside the loop). Two pairs compare like with like:
//!   - `ours_json` (`render_json`, a `String` of valid JSON) against
//!     `<engine>_text` (the engine's render to a `String`, not parsed);
//!   - `ours` (`render`, a `serde_json::Value`) against `<engine>` (the
//!     engine's render, then `serde_json::from_str::<Value>`).
//! - `floor/<size>/clone_output`: a deep copy (and drop) of the rendered value, for
//!   reference: what building any fresh `serde_json::Value` of that shape costs.
//! - `hostile/…`: the worst cases we know how to build, to show the limits hold
//!   (time linear in the input, refusals before any allocation):
//!   - `validate/unterminated_1mib`, `compile/unterminated_1mib`: a 1 MiB config
//!     string of `{{pipeline_param.x` repeated (58,000 malformed references;
//!     quadratic before the snippet search was bounded);
//!   - `validate/malformed_1mib`, `compile/malformed_1mib`: 1 MiB of closed
//!     but malformed `{{pipeline_param.-}}`;
//!   - `compile/deep_paths_1mib`: 64 levels of 8 KiB keys above 20,000
//!     placeholders (each placeholder's path is shared, not copied);
//!   - `render_json/refused_too_large`, `render/refused_too_large`: 20,000 ×
//!     `{{pipeline_param.big}}` with an 8 KiB `big` (160 MB if rendered),
//!     refused by arithmetic.
//!
//! Before anything is timed, every engine's parsed output is asserted equal to
//! our rendered value, and our JSON text equal to `serde_json::to_string` of it
//! (and to parse back to it), for every size, so the comparison is like for like.
//!
//! See `docs/performance.md` for the numbers and how to reproduce them.

#![expect(
    clippy::expect_used,
    reason = "a benchmark's fixtures are known good: a failure is a bug in the bench and should stop it loudly"
)]

// A bench's crate root resolves `mod` paths next to itself, like a `mod.rs`.
#[path = "substitution/configs.rs"]
mod configs;
#[path = "substitution/dialects.rs"]
mod dialects;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use integrations_domain::substitution::Plan;
use integrations_domain::{ParamKey, Parameters, catalog, validate_config};
use serde_json::{Value, json};

use configs::{Tpl, config, parameters, to_value};
use dialects::{HANDLEBARS, MiniJinja, UPON, push_json_escaped, template, upon_json_text};

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

    let mut render_json = c.benchmark_group("render_json");
    for fixture in fixtures {
        let plan = Plan::compile(fixture.config.clone());
        render_json.bench_function(fixture.size, |b| {
            b.iter(|| {
                plan.render_json(black_box(&fixture.params))
                    .expect("complete")
            });
        });
    }
    render_json.finish();

    // Rendering for a reader who may not see secret parameters: every other
    // referenced key is hidden; the report of what was masked is part of the
    // cost. Compare with `render/<size>` (the goal: under 25 % more).
    let mut render_masked = c.benchmark_group("render_masked");
    for fixture in fixtures {
        let plan = Plan::compile(fixture.config.clone());
        let hidden: Vec<String> = plan.keys().step_by(2).map(str::to_owned).collect();
        let is_hidden = |key: &ParamKey| hidden.iter().any(|h| h == key.as_str());
        render_masked.bench_function(fixture.size, |b| {
            b.iter(|| {
                let shown = plan
                    .render_masked(black_box(&fixture.params), is_hidden)
                    .expect("complete");
                (shown, plan.hidden_references(is_hidden).count())
            });
        });
    }
    render_masked.finish();

    // Not a goal: a reference point. Deep-copying and dropping the rendered
    // value is the least any render that returns a fresh `serde_json::Value` costs.
    let mut floor = c.benchmark_group("floor");
    for fixture in fixtures {
        let plan = Plan::compile(fixture.config.clone());
        let rendered = plan.render(&fixture.params).expect("complete").into_owned();
        floor.bench_function(format!("{}/clone_output", fixture.size), |b| {
            b.iter(|| black_box(&rendered).clone());
        });
    }
    floor.finish();
}

/// A config whose `payload_template` is `unit` repeated to about 1 MiB.
fn one_mib_of(unit: &str) -> Value {
    json!({ "url": "https://example.com", "payload_template": unit.repeat(1_048_576 / unit.len()) })
}

/// 64 levels of 8 KiB keys above 20,000 whole placeholders (about 1 MiB).
fn deep_paths() -> Value {
    let mut config = Value::Array(vec![json!("{{pipeline_param.a}}"); 20_000]);
    for level in 0..63 {
        let key = format!("{level:02}{}", "k".repeat(8_190));
        config = json!({ key: config });
    }
    config
}

fn bench_hostile(c: &mut Criterion) {
    let webhook = catalog::vendor("webhook").expect("in the catalog");
    let mut group = c.benchmark_group("hostile");
    for (name, unit) in [
        ("unterminated_1mib", "{{pipeline_param.x"),
        ("malformed_1mib", "{{pipeline_param.-}}"),
    ] {
        let config = one_mib_of(unit);
        let problems = validate_config(webhook, &config).expect_err("malformed");
        assert_eq!(problems.len(), 100);
        assert!(problems.more() > 50_000);
        group.bench_function(format!("validate/{name}"), |b| {
            b.iter(|| validate_config(webhook, black_box(&config)));
        });
        group.bench_function(format!("compile/{name}"), |b| {
            b.iter_batched(
                || config.clone(),
                |config| Plan::compile(black_box(config)),
                BatchSize::LargeInput,
            );
        });
    }
    let deep = deep_paths();
    assert!(serde_json::to_string(&deep).expect("serialisable").len() > 500_000);
    group.bench_function("compile/deep_paths_1mib", |b| {
        b.iter_batched(
            || deep.clone(),
            |config| Plan::compile(black_box(config)),
            BatchSize::LargeInput,
        );
    });

    let attack = Plan::compile(json!({ "url": "{{pipeline_param.big}}".repeat(20_000) }));
    let big: Parameters =
        serde_json::from_value(json!({ "big": "x".repeat(8_192) })).expect("valid");
    assert!(attack.render_json(&big).is_err());
    group.bench_function("render_json/refused_too_large", |b| {
        b.iter(|| attack.render_json(black_box(&big)).expect_err("too large"));
    });
    group.bench_function("render/refused_too_large", |b| {
        b.iter(|| attack.render(black_box(&big)).expect_err("too large"));
    });
    group.finish();
}

/// Checks that every engine's output equals ours; then, if `timed`, benchmarks them.
fn bench_e2e(c: &mut Criterion, fixture: &Fixture, timed: bool) {
    let Fixture {
        size, tpl, params, ..
    } = fixture;
    let plan = Plan::compile(fixture.config.clone());
    let ours = plan.render(params).expect("complete").into_owned();
    let ours_json = plan.render_json(params).expect("complete");
    if !timed {
        describe(fixture, &plan);
    }
    assert!(!ours_json.contains("pipeline_param"));
    assert_eq!(
        ours_json,
        serde_json::to_string(&ours).expect("serialisable"),
        "render_json differs from render on {size}"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&ours_json).expect("valid JSON"),
        ours,
        "render_json does not parse back on {size}"
    );

    let mut env = minijinja::Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Json);
    env.add_template_owned("config.json", template(tpl, &MiniJinja, params))
        .expect("minijinja template compiles");
    let minijinja_template = env.get_template("config.json").expect("added");
    let minijinja_ctx = minijinja::Value::from(minijinja::value::Serde(params));
    let minijinja_text = || -> String {
        minijinja_template
            .render(minijinja_ctx.clone())
            .expect("renders")
    };
    let minijinja = || -> Value { serde_json::from_str(&minijinja_text()).expect("valid JSON") };

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
    let handlebars_text = || -> String {
        handlebars
            .render_with_context("config", &handlebars_ctx)
            .expect("renders")
    };
    let handlebars = || -> Value { serde_json::from_str(&handlebars_text()).expect("valid JSON") };

    let mut upon_engine = upon::Engine::new();
    upon_engine.set_default_formatter(&upon_json_text);
    let upon_template = upon_engine
        .compile(template(tpl, &UPON, params))
        .expect("upon template compiles");
    let upon_ctx = upon::to_value(params).expect("serialisable");
    let upon_text = || -> String {
        upon_template
            .render_from(&upon_engine, &upon_ctx)
            .to_string()
            .expect("renders")
    };
    let upon = || -> Value { serde_json::from_str(&upon_text()).expect("valid JSON") };

    // Like for like, or nothing is timed.
    assert_eq!(minijinja(), ours, "minijinja differs on {size}");
    assert_eq!(handlebars(), ours, "handlebars differs on {size}");
    assert_eq!(upon(), ours, "upon differs on {size}");
    if !timed {
        return;
    }

    let mut group = c.benchmark_group(format!("e2e/{size}"));
    // JSON text out: ours (always valid JSON) against each engine's render alone.
    group.bench_function("ours_json", |b| {
        b.iter(|| plan.render_json(black_box(params)).expect("complete"));
    });
    group.bench_function("minijinja_text", |b| b.iter(minijinja_text));
    group.bench_function("handlebars_text", |b| b.iter(handlebars_text));
    group.bench_function("upon_text", |b| b.iter(upon_text));
    // A `serde_json::Value` out: ours against each engine's render plus a parse.
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
    bench_hostile(c);
}

fn config_criterion() -> Criterion {
    Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        // The HTML plots (plotters) take about 5 s per benchmark, which would
        // more than double the run; the numbers are printed and saved under
        // `target/criterion` either way.
        .without_plots()
}

criterion_group! {
    name = substitution;
    config = config_criterion();
    targets = benches
}
criterion_main!(substitution);
