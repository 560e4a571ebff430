//! Secret config fields (SPEC §10): which values are credentials, masking them
//! in responses, and keeping them when a client echoes the mask back.

use serde_json::{Map, Value};

use crate::catalog::Vendor;
use crate::json_path::JsonPath;
use crate::substitution::scan::scan;
use crate::validate::{ConfigProblem, Problem};

/// What every secret value is replaced with in responses; sent back in a new
/// revision, it means "keep the current value".
pub const MASK: &str = "***";

/// Whether `value` is exactly one `{{pipeline_param.KEY}}` placeholder. Such a
/// value names a parameter rather than holding a credential, so it is never
/// masked or encrypted.
pub fn is_reference(value: &Value) -> bool {
    matches!(value, Value::String(text) if scan(text).whole().is_some())
}

/// Whether a secret field's value holds a credential that must be masked or
/// encrypted: anything but null and a whole-value placeholder.
pub fn holds_secret(value: &Value) -> bool {
    !value.is_null() && !is_reference(value)
}

/// Replaces the value of every secret field of `vendor` in `config` with
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
    for key in vendor.secret_keys() {
        if let Some(value) = config.get_mut(key) {
            if holds_secret(value) {
                *value = Value::String(MASK.to_owned());
            }
        }
    }
}

/// For every secret field of `vendor` whose value in `config` is exactly
/// [`MASK`], puts back the value the same field has in `previous` (the
/// template's latest revision), so a client can round-trip a config it read
/// without losing or leaking a credential.
///
/// # Errors
/// A [`Problem::NothingToKeep`] for each masked field that `previous` lacks (or
/// when there is no previous revision); `config` is then left unchanged.
pub fn keep_echoed(
    vendor: &Vendor,
    config: &mut Map<String, Value>,
    previous: Option<&Map<String, Value>>,
) -> Result<(), Vec<ConfigProblem>> {
    let mut kept = Vec::new();
    let mut problems = Vec::new();
    for key in vendor.secret_keys() {
        if config.get(key).and_then(Value::as_str) != Some(MASK) {
            continue;
        }
        match previous
            .and_then(|p| p.get(key))
            .filter(|v| holds_secret(v))
        {
            Some(value) => kept.push((key, value.clone())),
            None => problems.push(ConfigProblem::new(
                JsonPath::key(key),
                Problem::NothingToKeep,
            )),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    for (key, value) in kept {
        config.insert(key.to_owned(), value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;
    use serde_json::json;

    fn meta() -> &'static Vendor {
        catalog::vendor("meta_capi").expect("meta_capi is in the catalog")
    }

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn masks_secret_values_but_not_references_or_nulls() {
        let mut config = object(json!({
            "pixel_id": "123", "access_token": "EAAB-canary", "batch_size": 100
        }));
        mask(meta(), &mut config);
        assert_eq!(config["access_token"], json!(MASK));
        assert_eq!(config["pixel_id"], json!("123"));

        for kept in [json!("{{ pipeline_param.meta_token }}"), Value::Null] {
            let mut config = object(json!({ "access_token": kept.clone() }));
            mask(meta(), &mut config);
            assert_eq!(config["access_token"], kept);
        }
        // Text around a placeholder may itself be a credential: it is masked.
        let mut config = object(json!({ "access_token": "Bearer-{{pipeline_param.t}}" }));
        mask(meta(), &mut config);
        assert_eq!(config["access_token"], json!(MASK));
    }

    #[test]
    fn echoed_mask_keeps_the_previous_value() {
        let previous = object(json!({ "pixel_id": "1", "access_token": "old-secret" }));
        let mut config = object(json!({ "pixel_id": "2", "access_token": "***" }));
        assert_eq!(keep_echoed(meta(), &mut config, Some(&previous)), Ok(()));
        assert_eq!(config["access_token"], json!("old-secret"));
        assert_eq!(config["pixel_id"], json!("2"));
    }

    #[test]
    fn echoed_mask_without_a_previous_value_is_a_problem_and_changes_nothing() {
        for previous in [None, Some(object(json!({ "pixel_id": "1" })))] {
            let mut config = object(json!({ "access_token": "***" }));
            let problems = keep_echoed(meta(), &mut config, previous.as_ref()).unwrap_err();
            assert_eq!(problems.len(), 1);
            assert_eq!(problems[0].path.to_string(), "config.access_token");
            assert_eq!(problems[0].problem, Problem::NothingToKeep);
            assert_eq!(config["access_token"], json!("***"));
        }
    }

    #[test]
    fn a_new_value_replaces_the_secret() {
        let previous = object(json!({ "access_token": "old" }));
        let mut config = object(json!({ "access_token": "new" }));
        assert_eq!(keep_echoed(meta(), &mut config, Some(&previous)), Ok(()));
        assert_eq!(config["access_token"], json!("new"));
    }
}
