//! Pipeline parameters: the values a pipeline supplies for the
//! `{{pipeline_param.KEY}}` references of the revisions it pins.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Number, Value};

/// A parameter key: 1 to 64 ASCII letters, digits or underscores.
///
/// ```
/// use integrations_domain::ParamKey;
/// assert!(ParamKey::parse("ga4_measurement_id").is_ok());
/// assert!(ParamKey::parse("ga4-id").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ParamKey(Box<str>);

/// Why a string is not a parameter key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a valid parameter key: use 1 to 64 letters, digits or underscores")]
pub struct ParamKeyError(pub String);

impl ParamKey {
    /// The longest key, in bytes (all key characters are ASCII).
    pub const MAX_LEN: usize = 64;

    /// Whether `byte` may appear in a key.
    pub const fn is_key_byte(byte: u8) -> bool {
        byte.is_ascii_alphanumeric() || byte == b'_'
    }

    /// Checks a key.
    ///
    /// # Errors
    /// [`ParamKeyError`] when it is empty, longer than 64 bytes or holds another character.
    pub fn parse(raw: &str) -> Result<Self, ParamKeyError> {
        if (1..=Self::MAX_LEN).contains(&raw.len()) && raw.bytes().all(Self::is_key_byte) {
            Ok(Self(raw.into()))
        } else {
            Err(ParamKeyError(raw.chars().take(80).collect()))
        }
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A key the placeholder scanner already matched against the key grammar.
    pub(crate) fn scanned(key: &str) -> Self {
        debug_assert!(Self::parse(key).is_ok(), "{key}");
        Self(key.into())
    }
}

impl Borrow<str> for ParamKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ParamKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ParamKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// A parameter value: a string, a number or a boolean (never null, an object or an array).
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// Text; interpolated as-is.
    String(String),
    /// A JSON number; a whole-value placeholder keeps it a number.
    Number(Number),
    /// A boolean; a whole-value placeholder keeps it a boolean.
    Bool(bool),
}

impl ParamValue {
    /// The value as a JSON value.
    pub fn to_json(&self) -> Value {
        match self {
            Self::String(s) => Value::String(s.clone()),
            Self::Number(n) => Value::Number(n.clone()),
            Self::Bool(b) => Value::Bool(*b),
        }
    }

    /// Appends the value's text, as interpolated inside a longer string:
    /// strings as-is, numbers and booleans as their JSON text.
    pub fn push_text(&self, out: &mut String) {
        match self {
            Self::String(s) => out.push_str(s),
            Self::Number(n) => {
                use fmt::Write as _;
                // Writing to a String cannot fail.
                let _ = write!(out, "{n}");
            }
            Self::Bool(true) => out.push_str("true"),
            Self::Bool(false) => out.push_str("false"),
        }
    }

    /// An upper bound on the bytes [`ParamValue::push_text`] appends (for reserving capacity).
    pub(crate) fn text_len_hint(&self) -> usize {
        match self {
            Self::String(s) => s.len(),
            Self::Number(_) => 24,
            Self::Bool(_) => 5,
        }
    }
}

impl TryFrom<Value> for ParamValue {
    type Error = &'static str;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        match value {
            Value::String(s) => Ok(Self::String(s)),
            Value::Number(n) => Ok(Self::Number(n)),
            Value::Bool(b) => Ok(Self::Bool(b)),
            Value::Null | Value::Array(_) | Value::Object(_) => {
                Err("a parameter value must be a string, a number or a boolean")
            }
        }
    }
}

impl From<&str> for ParamValue {
    fn from(value: &str) -> Self {
        Self::String(value.to_owned())
    }
}

impl Serialize for ParamValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::String(s) => serializer.serialize_str(s),
            Self::Number(n) => n.serialize(serializer),
            Self::Bool(b) => serializer.serialize_bool(*b),
        }
    }
}

impl<'de> Deserialize<'de> for ParamValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::try_from(Value::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

/// The longest parameter value a write may set: 8 KiB (8,192 bytes) of UTF-8
/// text. Numbers and booleans are far shorter. See `docs/decisions.md`.
pub const MAX_PARAM_VALUE_BYTES: usize = 8_192;

/// The most parameters one pipeline may define. See `docs/decisions.md`.
pub const MAX_PARAMS: usize = 100;

/// A parameter map over a size limit ([`Parameters::check_limits`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamProblem {
    /// A string value longer than [`MAX_PARAM_VALUE_BYTES`].
    #[error("parameters.{key} is {len} bytes long: a parameter value may be at most {max} bytes", max = MAX_PARAM_VALUE_BYTES)]
    TooLong {
        /// The parameter.
        key: ParamKey,
        /// The value's length in bytes of UTF-8.
        len: usize,
    },
    /// More than [`MAX_PARAMS`] keys.
    #[error("parameters holds {count} keys: a pipeline may define at most {max}", max = MAX_PARAMS)]
    TooMany {
        /// How many keys the map holds.
        count: usize,
    },
}

impl ParamProblem {
    /// Where the problem is, as a field path of a pipeline body:
    /// `parameters.KEY` for a value, `parameters` for the map.
    pub fn field(&self) -> String {
        match self {
            Self::TooLong { key, .. } => format!("parameters.{key}"),
            Self::TooMany { .. } => "parameters".to_owned(),
        }
    }

    /// A short machine-readable code: `too_long` or `too_many`.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::TooLong { .. } => "too_long",
            Self::TooMany { .. } => "too_many",
        }
    }
}

/// A pipeline's parameters: validated keys to values. Serialises as a JSON object.
///
/// Deserialising checks keys and value types only, never sizes, so a stored
/// map written before the size limits existed still loads; a write checks
/// [`Parameters::check_limits`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Parameters(BTreeMap<ParamKey, ParamValue>);

impl Parameters {
    /// No parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a parameter, returning the value it replaced.
    pub fn insert(&mut self, key: ParamKey, value: ParamValue) -> Option<ParamValue> {
        self.0.insert(key, value)
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&ParamValue> {
        self.0.get(key)
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &ParamKey> {
        self.0.keys()
    }

    /// Key-value pairs, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&ParamKey, &ParamValue)> {
        self.0.iter()
    }

    /// How many parameters are set.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Checks the size limits a write must respect: at most [`MAX_PARAMS`]
    /// keys, and no string value longer than [`MAX_PARAM_VALUE_BYTES`].
    ///
    /// ```
    /// use integrations_domain::param::{MAX_PARAM_VALUE_BYTES, Parameters};
    /// use serde_json::json;
    ///
    /// let big: Parameters = serde_json::from_value(json!({ "big": "x".repeat(MAX_PARAM_VALUE_BYTES + 1) }))?;
    /// let problems = big.check_limits().unwrap_err();
    /// assert_eq!((problems[0].field().as_str(), problems[0].code()), ("parameters.big", "too_long"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// Every problem: [`ParamProblem::TooMany`] first, then each value
    /// [`ParamProblem::TooLong`], in key order.
    pub fn check_limits(&self) -> Result<(), Vec<ParamProblem>> {
        let mut problems = Vec::new();
        if self.0.len() > MAX_PARAMS {
            problems.push(ParamProblem::TooMany {
                count: self.0.len(),
            });
        }
        for (key, value) in &self.0 {
            // Numbers and booleans are at most a few dozen bytes of text.
            if let ParamValue::String(text) = value {
                if text.len() > MAX_PARAM_VALUE_BYTES {
                    problems.push(ParamProblem::TooLong {
                        key: key.clone(),
                        len: text.len(),
                    });
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

impl FromIterator<(ParamKey, ParamValue)> for Parameters {
    fn from_iter<I: IntoIterator<Item = (ParamKey, ParamValue)>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

/// A pipeline's secret parameters as stored: each key and the version id of
/// its sealed value (the value itself lives sealed beside the pipeline, and
/// no response ever shows it). Serialises as `{"KEY": "enc:v2:<version>"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretParameters(BTreeMap<ParamKey, crate::secrets::SecretVersion>);

impl SecretParameters {
    /// No secret parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a key's version, returning the one it replaced.
    pub fn insert(
        &mut self,
        key: ParamKey,
        version: crate::secrets::SecretVersion,
    ) -> Option<crate::secrets::SecretVersion> {
        self.0.insert(key, version)
    }

    /// The version of `key`'s value, if set.
    pub fn get(&self, key: &str) -> Option<&crate::secrets::SecretVersion> {
        self.0.get(key)
    }

    /// Whether `key` is set.
    pub fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &ParamKey> {
        self.0.keys()
    }

    /// Keys and versions, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&ParamKey, &crate::secrets::SecretVersion)> {
        self.0.iter()
    }

    /// How many are set.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The map as every response shows it: each key, its value
    /// [`MASK`](crate::secrets::MASK).
    pub fn masked(&self) -> serde_json::Map<String, Value> {
        self.0
            .keys()
            .map(|key| (key.as_str().to_owned(), Value::from(crate::secrets::MASK)))
            .collect()
    }

    /// The keys added, removed, or given another value (another version)
    /// from `before` to `self`, sorted: what an audit entry lists.
    ///
    /// ```
    /// use integrations_domain::param::{ParamKey, SecretParameters};
    /// use integrations_domain::secrets::SecretVersion;
    ///
    /// let v = |s| SecretVersion::parse(s).unwrap();
    /// let k = |s| ParamKey::parse(s).unwrap();
    /// let before: SecretParameters = [(k("kept"), v("1")), (k("changed"), v("2")), (k("gone"), v("3"))].into_iter().collect();
    /// let after: SecretParameters = [(k("kept"), v("1")), (k("changed"), v("4")), (k("new"), v("5"))].into_iter().collect();
    /// let changed = after.changed_from(&before);
    /// assert_eq!(changed.iter().map(ParamKey::as_str).collect::<Vec<_>>(), ["changed", "gone", "new"]);
    /// ```
    pub fn changed_from(&self, before: &Self) -> Vec<ParamKey> {
        let mut keys: Vec<ParamKey> = self
            .0
            .iter()
            .filter(|(key, version)| before.0.get(*key) != Some(*version))
            .map(|(key, _)| key.clone())
            .chain(
                before
                    .0
                    .keys()
                    .filter(|key| !self.0.contains_key(*key))
                    .cloned(),
            )
            .collect();
        keys.sort();
        keys
    }
}

impl FromIterator<(ParamKey, crate::secrets::SecretVersion)> for SecretParameters {
    fn from_iter<I: IntoIterator<Item = (ParamKey, crate::secrets::SecretVersion)>>(
        iter: I,
    ) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl Serialize for SecretParameters {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(
            self.0
                .iter()
                .map(|(key, version)| (key.as_str(), version.reference())),
        )
    }
}

impl<'de> Deserialize<'de> for SecretParameters {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = BTreeMap::<ParamKey, String>::deserialize(deserializer)?;
        raw.into_iter()
            .map(|(key, reference)| {
                reference
                    .strip_prefix("enc:v2:")
                    .and_then(crate::secrets::SecretVersion::parse)
                    .map(|version| (key, version))
                    .ok_or_else(|| {
                        serde::de::Error::custom(
                            "a secret parameter is stored as a reference `enc:v2:<version>`",
                        )
                    })
            })
            .collect()
    }
}

/// Parameter values looked up in a pipeline's plain parameters, then in its
/// opened secret parameters: the one namespace placeholders resolve from (a
/// key is never in both).
#[derive(Debug, Clone, Copy)]
pub struct WithSecrets<'a> {
    /// The plain parameters.
    pub plain: &'a Parameters,
    /// The secret parameters, opened (each a string value).
    pub secret: &'a Parameters,
}

impl ParamLookup for WithSecrets<'_> {
    fn param(&self, key: &str) -> Option<&ParamValue> {
        self.plain.param(key).or_else(|| self.secret.param(key))
    }
}

/// Anything the substitution engine can look parameter values up in. Implemented
/// for [`Parameters`] and for plain maps, so an event processor can keep its
/// parameters in whatever map it already has.
pub trait ParamLookup {
    /// The value of `key`, if set.
    fn param(&self, key: &str) -> Option<&ParamValue>;

    /// Appends to `found` the value of each of `keys` (sorted ascending), in
    /// order. The default looks each key up; [`Parameters`] overrides it with
    /// one merge walk over both sorted lists.
    fn params_sorted<'a>(&'a self, keys: &[ParamKey], found: &mut Vec<Option<&'a ParamValue>>) {
        found.extend(keys.iter().map(|key| self.param(key.as_str())));
    }
}

impl ParamLookup for Parameters {
    fn param(&self, key: &str) -> Option<&ParamValue> {
        self.0.get(key)
    }

    fn params_sorted<'a>(&'a self, keys: &[ParamKey], found: &mut Vec<Option<&'a ParamValue>>) {
        let mut entries = self.0.iter().peekable();
        for key in keys {
            while entries.next_if(|(defined, _)| *defined < key).is_some() {}
            found.push(
                entries
                    .next_if(|(defined, _)| *defined == key)
                    .map(|(_, value)| value),
            );
        }
    }
}

impl<K: Borrow<str> + Ord> ParamLookup for BTreeMap<K, ParamValue> {
    fn param(&self, key: &str) -> Option<&ParamValue> {
        self.get(key)
    }
}

impl<K: Borrow<str> + Eq + std::hash::Hash, S: BuildHasher> ParamLookup
    for HashMap<K, ParamValue, S>
{
    fn param(&self, key: &str) -> Option<&ParamValue> {
        self.get(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_follow_the_spec_pattern() {
        for good in ["a", "A_1", "_", &"k".repeat(64)] {
            assert!(ParamKey::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "a.b", "a-b", "a b", "é", &"k".repeat(65), "{{x}}"] {
            assert!(ParamKey::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parameters_accept_only_scalars() {
        let ok: Result<Parameters, _> =
            serde_json::from_value(json!({"s": "x", "n": 1.5, "i": -3, "b": true}));
        assert_eq!(ok.map(|p| p.len()).ok(), Some(4));
        for bad in [
            json!({"k": null}),
            json!({"k": [1]}),
            json!({"k": {"a": 1}}),
            json!({"bad-key": 1}),
            json!([1]),
        ] {
            assert!(
                serde_json::from_value::<Parameters>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn sorted_lookup_matches_single_lookups() {
        let params: Parameters =
            serde_json::from_value(json!({ "b": 1, "d": 2, "f": 3, "A": 4 })).expect("valid");
        let keys: Vec<ParamKey> = ["A", "a", "b", "c", "f", "z"]
            .iter()
            .map(|k| ParamKey::scanned(k))
            .collect();
        let mut merged = Vec::new();
        params.params_sorted(&keys, &mut merged);
        let single: Vec<_> = keys.iter().map(|k| params.param(k.as_str())).collect();
        assert_eq!(merged, single);
        assert_eq!(merged.iter().filter(|v| v.is_some()).count(), 3);
    }

    #[test]
    fn limits_allow_up_to_8_kib_and_100_keys() {
        let at_limit: Parameters = (0..MAX_PARAMS)
            .map(|i| {
                (
                    ParamKey::scanned(&format!("k{i}")),
                    ParamValue::String("é".repeat(MAX_PARAM_VALUE_BYTES / 2)),
                )
            })
            .collect();
        assert_eq!(at_limit.check_limits(), Ok(()));

        let mut over = at_limit.clone();
        over.insert(ParamKey::scanned("k100"), ParamValue::Bool(true));
        over.insert(
            ParamKey::scanned("k7"),
            ParamValue::String(format!("{}x", "é".repeat(MAX_PARAM_VALUE_BYTES / 2))),
        );
        let problems = over.check_limits().unwrap_err();
        let found: Vec<(String, &str)> = problems.iter().map(|p| (p.field(), p.code())).collect();
        assert_eq!(
            found,
            [
                ("parameters".to_owned(), "too_many"),
                ("parameters.k7".to_owned(), "too_long")
            ]
        );
        assert_eq!(
            problems[1].to_string(),
            "parameters.k7 is 8193 bytes long: a parameter value may be at most 8192 bytes"
        );
    }

    #[test]
    fn stored_parameters_over_the_limits_still_deserialise() {
        let stored = json!({ "big": "x".repeat(MAX_PARAM_VALUE_BYTES * 4) });
        let params: Parameters = serde_json::from_value(stored).expect("loads");
        assert!(params.check_limits().is_err());
    }

    #[test]
    fn values_render_as_text() {
        let mut out = String::new();
        for v in [
            ParamValue::from("a\"b"),
            ParamValue::Number(Number::from(-7)),
            ParamValue::Bool(false),
        ] {
            v.push_text(&mut out);
        }
        assert_eq!(out, "a\"b-7false");
    }
}
