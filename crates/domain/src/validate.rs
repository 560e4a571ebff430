//! Validating a revision's config against its vendor's fields (docs/api.md, "Revisions").
//!
//! Every problem is reported, each with its path, so a client can fix a config
//! in one round trip, up to [`MAX_PROBLEMS`]: the rest are counted, not
//! listed. Checking a config takes time and memory linear in its size,
//! whatever its shape.

use std::fmt;
use std::ops::Deref;

use serde_json::{Map, Value};

use crate::catalog::{ConfigField, FieldType, Vendor};
use crate::json_path::{JsonPath, Place, Step};
use crate::substitution::scan::scan;

/// The deepest nesting a config may have; the config object itself is level 1.
pub const MAX_CONFIG_DEPTH: usize = 64;

/// The most problems a validation lists (and an error response shows); the
/// rest are only counted (see `docs/decisions.md`).
pub const MAX_PROBLEMS: usize = 100;

/// What is wrong with one value of a config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The config is not a JSON object.
    NotAnObject,
    /// The config nests deeper than [`MAX_CONFIG_DEPTH`].
    TooDeep,
    /// A required field is absent, null or an empty string.
    Required,
    /// The value does not have the field's declared type.
    WrongType(FieldType),
    /// A `select` value outside the field's options.
    NotAnOption(Vec<String>),
    /// Text that starts like a `pipeline_param` reference but is not a valid one.
    MalformedPlaceholder(String),
    /// A secret field was sent as `"***"` but there is no earlier value to keep.
    NothingToKeep,
    /// An object whose values are secrets holds more than
    /// [`MAX_SECRET_SUB_KEYS`](crate::secrets::MAX_SECRET_SUB_KEYS) of them.
    TooManySecrets,
}

impl Problem {
    /// A short machine-readable code (`required`, `invalid_type`…), for error details.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::NotAnObject | Self::WrongType(_) => "invalid_type",
            Self::TooDeep => "too_deep",
            Self::Required => "required",
            Self::NotAnOption(_) => "not_an_option",
            Self::MalformedPlaceholder(_) => "malformed_placeholder",
            Self::NothingToKeep => "no_previous_secret",
            Self::TooManySecrets => "too_many",
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAnObject => f.write_str("must be a JSON object"),
            Self::TooDeep => write!(f, "must not nest deeper than {MAX_CONFIG_DEPTH} levels"),
            Self::Required => f.write_str("is required"),
            Self::WrongType(expected) => f.write_str(match expected {
                FieldType::String | FieldType::Secret | FieldType::Textarea | FieldType::Select => {
                    "must be a string"
                }
                FieldType::Number => "must be a number",
                FieldType::Integer => "must be an integer",
                FieldType::Boolean => "must be true or false",
                FieldType::Object => "must be a JSON object",
                FieldType::Array => "must be a JSON array",
            }),
            Self::NotAnOption(options) => write!(f, "must be one of: {}", options.join(", ")),
            Self::MalformedPlaceholder(text) => write!(
                f,
                "holds the malformed placeholder '{text}': write {{{{pipeline_param.KEY}}}} \
                 with a KEY of 1 to 64 letters, digits or underscores"
            ),
            Self::NothingToKeep => f.write_str(
                "is \"***\" (keep the current secret) but the template has no earlier value for it",
            ),
            Self::TooManySecrets => write!(
                f,
                "must not hold more than {} values (each is a secret)",
                crate::secrets::MAX_SECRET_SUB_KEYS
            ),
        }
    }
}

/// One problem and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The value at fault (`config.pixel_id`).
    pub path: JsonPath,
    /// What is wrong with it.
    pub problem: Problem,
}

impl ConfigProblem {
    pub(crate) const fn new(path: JsonPath, problem: Problem) -> Self {
        Self { path, problem }
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.path, self.problem)
    }
}

/// The problems found in a config: the first [`MAX_PROBLEMS`], in field
/// order, and how many more there are. Derefs to the listed ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigProblems {
    listed: Vec<ConfigProblem>,
    more: usize,
}

impl ConfigProblems {
    /// The problems listed (at most [`MAX_PROBLEMS`]).
    pub fn listed(&self) -> &[ConfigProblem] {
        &self.listed
    }

    /// How many problems were found beyond those listed.
    pub const fn more(&self) -> usize {
        self.more
    }

    /// How many problems were found in all.
    pub fn total(&self) -> usize {
        self.listed.len() + self.more
    }

    /// How many more problems may be listed.
    fn room(&self) -> usize {
        MAX_PROBLEMS.saturating_sub(self.listed.len())
    }

    /// Lists `problem`, or counts it once the list is full.
    fn push(&mut self, problem: ConfigProblem) {
        if self.room() > 0 {
            self.listed.push(problem);
        } else {
            self.more += 1;
        }
    }

    fn single(problem: ConfigProblem) -> Self {
        Self {
            listed: vec![problem],
            more: 0,
        }
    }
}

impl Deref for ConfigProblems {
    type Target = [ConfigProblem];

    fn deref(&self) -> &[ConfigProblem] {
        &self.listed
    }
}

impl IntoIterator for ConfigProblems {
    type Item = ConfigProblem;
    type IntoIter = std::vec::IntoIter<ConfigProblem>;

    /// The listed problems.
    fn into_iter(self) -> Self::IntoIter {
        self.listed.into_iter()
    }
}

/// Checks a config against a vendor's fields: it must be an object nesting at
/// most [`MAX_CONFIG_DEPTH`] levels; required fields present (not null, not
/// `""`); declared types respected; `select` values among the options; the
/// values of an object whose values are secrets are strings; no malformed
/// `pipeline_param` reference anywhere. A value that is exactly one
/// `{{pipeline_param.KEY}}` placeholder satisfies any type. Keys the vendor
/// does not declare are allowed.
///
/// # Errors
/// The problems found ([`ConfigProblems`]), in field order, each with its
/// path: the first [`MAX_PROBLEMS`] listed, the rest counted.
///
/// ```
/// use integrations_domain::{catalog, validate_config};
/// use serde_json::json;
///
/// let meta = catalog::vendor("meta_capi").unwrap();
/// let problems = validate_config(meta, &json!({ "pixel_id": 123, "batch_size": "{{pipeline_param.batch}}" }))
///     .unwrap_err();
/// let found: Vec<String> = problems.iter().map(ToString::to_string).collect();
/// assert!(found.contains(&"config.pixel_id must be a string".to_owned()));
/// assert!(found.contains(&"config.access_token is required".to_owned()));
/// ```
pub fn validate_config(vendor: &Vendor, config: &Value) -> Result<(), ConfigProblems> {
    let members = object_within_depth(config)?;
    let mut problems = check_fields(vendor, members, Stage::Stored);
    find_malformed(config, &Place::root(), &mut problems);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Checks a **rendered** config — every placeholder substituted with a
/// pipeline's values — against the vendor's fields, by the rules of
/// [`validate_config`] applied to the values that will be delivered: a
/// `number` field filled with `"abc"` is a problem, and so is a `select`
/// filled with a value outside its options. Nothing is exempt as a
/// placeholder any more, and the text of substituted values is data (a
/// value that looks like a placeholder is not reported as malformed).
///
/// This is the check a rollout runs before it re-pins a pipeline, and the
/// one an event processor can run before it delivers. Secret values may be
/// masked (`"***"`) or in clear: a secret field only needs a string.
///
/// # Errors
/// The problems found, as for [`validate_config`].
///
/// ```
/// use integrations_domain::{catalog, validate_rendered};
/// use serde_json::json;
///
/// let meta = catalog::vendor("meta_capi").unwrap();
/// let rendered = json!({ "pixel_id": "123", "access_token": "***", "batch_size": "abc" });
/// let problems = validate_rendered(meta, &rendered).unwrap_err();
/// assert_eq!(problems[0].to_string(), "config.batch_size must be an integer");
/// ```
pub fn validate_rendered(vendor: &Vendor, config: &Value) -> Result<(), ConfigProblems> {
    let members = object_within_depth(config)?;
    let problems = check_fields(vendor, members, Stage::Rendered);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// The config's members, when it is an object nesting at most
/// [`MAX_CONFIG_DEPTH`] levels (else that one problem).
fn object_within_depth(config: &Value) -> Result<&Map<String, Value>, ConfigProblems> {
    let Value::Object(members) = config else {
        return Err(ConfigProblems::single(ConfigProblem::new(
            JsonPath::root(),
            Problem::NotAnObject,
        )));
    };
    if nests_deeper_than(config, MAX_CONFIG_DEPTH) {
        return Err(ConfigProblems::single(ConfigProblem::new(
            JsonPath::root(),
            Problem::TooDeep,
        )));
    }
    Ok(members)
}

/// Which config is checked: a stored one may hold placeholders in place of
/// values; a rendered one holds the values themselves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Stored,
    Rendered,
}

/// The problems of the vendor's declared fields, then of the values of its
/// objects of secrets, in that order.
fn check_fields(vendor: &Vendor, members: &Map<String, Value>, stage: Stage) -> ConfigProblems {
    let mut problems = ConfigProblems::default();
    for field in &vendor.config_fields {
        if let Some(problem) = check_field(field, members, stage) {
            problems.push(ConfigProblem::new(JsonPath::key(&field.key), problem));
        }
    }
    for problem in crate::secrets::value_type_problems(vendor, members) {
        problems.push(problem);
    }
    problems
}

fn check_field(field: &ConfigField, config: &Map<String, Value>, stage: Stage) -> Option<Problem> {
    let value = match config.get(&field.key) {
        None | Some(Value::Null) => return field.required.then_some(Problem::Required),
        Some(Value::String(s)) if s.trim().is_empty() && field.required => {
            return Some(Problem::Required);
        }
        Some(value) => value,
    };
    if stage == Stage::Stored && crate::secrets::is_reference(value) {
        return None;
    }
    let type_ok = match field.field_type {
        FieldType::String | FieldType::Secret | FieldType::Textarea | FieldType::Select => {
            value.is_string()
        }
        FieldType::Number => value.is_number(),
        FieldType::Integer => value.is_i64() || value.is_u64(),
        FieldType::Boolean => value.is_boolean(),
        FieldType::Object => value.is_object(),
        FieldType::Array => value.is_array(),
    };
    if !type_ok {
        return Some(Problem::WrongType(field.field_type));
    }
    match (&field.options, value) {
        (Some(options), Value::String(s)) if !options.iter().any(|o| o == s) => {
            Some(Problem::NotAnOption(options.clone()))
        }
        _ => None,
    }
}

/// Whether `value` nests deeper than `max` levels (a scalar is level 0).
fn nests_deeper_than(value: &Value, max: usize) -> bool {
    let children: Box<dyn Iterator<Item = &Value>> = match value {
        Value::Object(members) => Box::new(members.values()),
        Value::Array(items) => Box::new(items.iter()),
        _ => return false,
    };
    max == 0
        || children
            .into_iter()
            .any(|child| nests_deeper_than(child, max - 1))
}

/// Records every malformed reference under `value`; past the cap, counts
/// them without allocating anything for them.
fn find_malformed(value: &Value, place: &Place<'_>, problems: &mut ConfigProblems) {
    match value {
        Value::String(text) => {
            let scan = scan(text);
            let found = scan.malformed_at.len();
            let listed = found.min(problems.room());
            for snippet in scan.malformed().take(listed) {
                problems.push(ConfigProblem::new(
                    place.path().clone(),
                    Problem::MalformedPlaceholder(snippet.to_owned()),
                ));
            }
            problems.more += found - listed;
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                find_malformed(item, &Place::child(place, Step::Index(i)), problems);
            }
        }
        Value::Object(members) => {
            for (key, member) in members {
                find_malformed(member, &Place::child(place, Step::Key(key)), problems);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests;
