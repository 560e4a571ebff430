//! Secret config values: which positions of a config hold credentials,
//! masking them in responses, keeping them when a client echoes the mask back,
//! and what a stored config holds in their place.
//!
//! A secret position is either a field of type `secret` (`access_token`) or
//! one value of an `object` field whose values are declared secret
//! (`headers.Authorization` of the webhook vendor). This module only reads and
//! rewrites JSON: sealing and opening happen outside the domain.

mod version;

use serde_json::{Map, Value};

use crate::catalog::Vendor;
use crate::json_path::{JsonPath, PathSegment};
use crate::substitution::scan::scan;
use crate::validate::{ConfigProblem, Problem};

pub use version::{LEGACY_PREFIX, SEALED_PREFIX, SecretVersion, StoredSecret, same_version};

/// The most values an object field whose values are secrets may hold (the
/// webhook's `headers`): each is sealed, stored and opened on its own, so their
/// number bounds the work of every write and render (see `docs/decisions.md`).
pub const MAX_SECRET_SUB_KEYS: usize = 100;

/// What every secret value is replaced with in responses; sent back in a new
/// revision, it means "keep the current value".
pub const MASK: &str = "***";

/// Whether `value` is exactly one `{{pipeline_param.KEY}}` placeholder. Such a
/// value names a parameter rather than holding a credential, so it is never
/// masked or encrypted.
pub fn is_reference(value: &Value) -> bool {
    matches!(value, Value::String(text) if scan(text).whole().is_some())
}

/// Whether a secret position's value holds a credential that must be masked or
/// encrypted: anything but null and a whole-value placeholder.
pub fn holds_secret(value: &Value) -> bool {
    !value.is_null() && !is_reference(value)
}

/// Where one secret sits in a config: a `secret` field, or one value of an
/// object field whose values are secrets.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretPath {
    field: String,
    sub_key: Option<String>,
}

impl SecretPath {
    /// The top-level field `field`.
    pub fn field(field: &str) -> Self {
        Self {
            field: field.to_owned(),
            sub_key: None,
        }
    }

    /// The value under `sub_key` of the object field `field`.
    pub fn sub_key(field: &str, sub_key: &str) -> Self {
        Self {
            field: field.to_owned(),
            sub_key: Some(sub_key.to_owned()),
        }
    }

    /// The JSON Pointer (RFC 6901) of the position: `/access_token`,
    /// `/headers/X-Api-Key` (`~` and `/` escaped). This is the field path a
    /// sealed value is bound to.
    ///
    /// ```
    /// use integrations_domain::secrets::SecretPath;
    ///
    /// assert_eq!(SecretPath::field("access_token").pointer(), "/access_token");
    /// assert_eq!(SecretPath::sub_key("headers", "a/b~c").pointer(), "/headers/a~1b~0c");
    /// ```
    pub fn pointer(&self) -> String {
        let mut pointer = String::new();
        for token in self.tokens() {
            pointer.push('/');
            pointer.push_str(&token.replace('~', "~0").replace('/', "~1"));
        }
        pointer
    }

    /// The path's tokens: the field, then the sub-key if any.
    pub fn tokens(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.field.as_str()).chain(self.sub_key.as_deref())
    }

    /// The position as error details name it (`config.headers["X-Api-Key"]`).
    pub fn json_path(&self) -> JsonPath {
        let path = JsonPath::key(&self.field);
        match &self.sub_key {
            Some(sub_key) => path.child(PathSegment::Key(sub_key.clone())),
            None => path,
        }
    }

    /// The value at this position of `config`, if there is one.
    pub fn get<'a>(&self, config: &'a Map<String, Value>) -> Option<&'a Value> {
        let value = config.get(&self.field)?;
        match &self.sub_key {
            None => Some(value),
            Some(sub_key) => value.as_object()?.get(sub_key),
        }
    }

    /// The value at this position of `config`, mutably.
    pub fn get_mut<'a>(&self, config: &'a mut Map<String, Value>) -> Option<&'a mut Value> {
        let value = config.get_mut(&self.field)?;
        match &self.sub_key {
            None => Some(value),
            Some(sub_key) => value.as_object_mut()?.get_mut(sub_key),
        }
    }
}

/// Every secret position of `vendor` that `config` fills (null included), in
/// field order, then sub-key order.
///
/// ```
/// use integrations_domain::{catalog, secrets::{secret_paths, SecretPath}};
/// use serde_json::json;
///
/// let webhook = catalog::vendor("webhook").unwrap();
/// let config = json!({ "url": "https://x", "signing_secret": "s", "headers": { "B": "1", "A": "2" } });
/// assert_eq!(secret_paths(webhook, config.as_object().unwrap()), [
///     SecretPath::field("signing_secret"),
///     SecretPath::sub_key("headers", "A"),
///     SecretPath::sub_key("headers", "B"),
/// ]);
/// ```
pub fn secret_paths(vendor: &Vendor, config: &Map<String, Value>) -> Vec<SecretPath> {
    let mut paths: Vec<SecretPath> = vendor
        .secret_keys()
        .filter(|key| config.contains_key(*key))
        .map(SecretPath::field)
        .collect();
    for field in vendor.secret_value_keys() {
        if let Some(Value::Object(members)) = config.get(field) {
            let mut keys: Vec<&String> = members.keys().collect();
            keys.sort_unstable();
            paths.extend(keys.into_iter().map(|key| SecretPath::sub_key(field, key)));
        }
    }
    paths
}

/// Whether `path` lies in a secret position of `vendor`: at or under a
/// secret field, or under a field whose every value is secret (a webhook's
/// `headers`), as [`mask`] masks them.
///
/// ```
/// use integrations_domain::{JsonPath, catalog, secrets};
/// use integrations_domain::json_path::PathSegment;
///
/// let hook = catalog::vendor("webhook").unwrap();
/// let header = JsonPath::key("headers").child(PathSegment::Key("X-Api-Key".into()));
/// assert!(secrets::is_secret_position(hook, &header));
/// assert!(!secrets::is_secret_position(hook, &JsonPath::key("headers")));
/// assert!(!secrets::is_secret_position(hook, &JsonPath::key("url")));
/// ```
pub fn is_secret_position(vendor: &Vendor, path: &JsonPath) -> bool {
    let segments = path.segments();
    let Some(PathSegment::Key(field)) = segments.first() else {
        return false;
    };
    vendor.secret_keys().any(|key| key == field.as_str())
        || (segments.len() > 1 && vendor.secret_value_keys().any(|key| key == field.as_str()))
}

/// Replaces the value of every secret position of `vendor` in `config` with
/// [`MASK`] (null values and placeholders stay as they are).
///
/// ```
/// use integrations_domain::{catalog, secrets};
/// use serde_json::json;
///
/// let meta = catalog::vendor("meta_capi").unwrap();
/// let mut config = json!({ "pixel_id": "123", "access_token": "EAABsb…" });
/// secrets::mask(meta, config.as_object_mut().unwrap());
/// assert_eq!(config, json!({ "pixel_id": "123", "access_token": "***" }));
/// ```
pub fn mask(vendor: &Vendor, config: &mut Map<String, Value>) {
    fn mask_value(value: &mut Value) {
        if holds_secret(value) {
            *value = Value::String(MASK.to_owned());
        }
    }
    for key in vendor.secret_keys() {
        if let Some(value) = config.get_mut(key) {
            mask_value(value);
        }
    }
    for key in vendor.secret_value_keys() {
        if let Some(Value::Object(members)) = config.get_mut(key) {
            members.values_mut().for_each(mask_value);
        }
    }
}

/// For every secret position of `vendor` whose value in `config` is exactly
/// [`MASK`], puts back the value the same position has in `previous` (the
/// template's latest revision, as stored), so a client can round-trip a config
/// it read without losing or leaking a credential. Returns the positions it
/// filled that way.
///
/// # Errors
/// A [`Problem::NothingToKeep`] for each masked position that `previous` lacks
/// (or when there is no previous revision); `config` is then left unchanged.
pub fn keep_echoed(
    vendor: &Vendor,
    config: &mut Map<String, Value>,
    previous: Option<&Map<String, Value>>,
) -> Result<Vec<SecretPath>, Vec<ConfigProblem>> {
    let mut kept = Vec::new();
    let mut problems = Vec::new();
    for path in secret_paths(vendor, config) {
        if path.get(config).and_then(Value::as_str) != Some(MASK) {
            continue;
        }
        match previous
            .and_then(|p| path.get(p))
            .filter(|v| holds_secret(v))
        {
            Some(value) => kept.push((path, value.clone())),
            None => problems.push(ConfigProblem::new(path.json_path(), Problem::NothingToKeep)),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut echoed = Vec::with_capacity(kept.len());
    for (path, value) in kept {
        if let Some(slot) = path.get_mut(config) {
            *slot = value;
        }
        echoed.push(path);
    }
    Ok(echoed)
}

/// An object field whose values are secrets holds at most
/// [`MAX_SECRET_SUB_KEYS`] values (one problem at the field otherwise), each a
/// string (a credential, a placeholder, or `"***"`): one problem per other value.
pub(crate) fn value_type_problems(
    vendor: &Vendor,
    config: &Map<String, Value>,
) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    for field in vendor.secret_value_keys() {
        if let Some(Value::Object(members)) = config.get(field) {
            if members.len() > MAX_SECRET_SUB_KEYS {
                problems.push(ConfigProblem::new(
                    JsonPath::key(field),
                    Problem::TooManySecrets,
                ));
            }
            for (key, value) in members {
                if !value.is_string() {
                    problems.push(ConfigProblem::new(
                        SecretPath::sub_key(field, key).json_path(),
                        Problem::WrongType(crate::catalog::FieldType::Secret),
                    ));
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests;
