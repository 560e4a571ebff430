//! Revision diffs as RFC 6902 JSON Patch (SPEC §11), with secret values hidden.

use json_patch::jsonptr::PointerBuf;
use json_patch::{Patch, PatchOperation, ReplaceOperation};
use serde_json::Value;

use crate::catalog::Vendor;
use crate::secrets::{self, MASK};

/// The JSON Patch that turns config `from` into config `to`.
///
/// Secret fields of `vendor` never show their values: a secret that was added
/// appears as `add` of `"***"`, a removed one as `remove`, and a changed one as
/// `replace` with `"***"` — so a reader learns *that* a credential changed,
/// never what it was or became. A placeholder in a secret field is a name, not
/// a credential, and is shown.
///
/// ```
/// use integrations_domain::{catalog, diff::diff_configs};
/// use serde_json::json;
///
/// let meta = catalog::vendor("meta_capi").unwrap();
/// let patch = diff_configs(
///     meta,
///     &json!({ "pixel_id": "1", "access_token": "old", "batch_size": 50 }),
///     &json!({ "pixel_id": "1", "access_token": "new", "batch_size": 100 }),
/// );
/// assert_eq!(serde_json::to_value(&patch).unwrap(), json!([
///     { "op": "replace", "path": "/batch_size", "value": 100 },
///     { "op": "replace", "path": "/access_token", "value": "***" }
/// ]));
/// ```
pub fn diff_configs(vendor: &Vendor, from: &Value, to: &Value) -> Patch {
    let (mut masked_from, mut masked_to) = (from.clone(), to.clone());
    for config in [&mut masked_from, &mut masked_to] {
        if let Value::Object(members) = config {
            secrets::mask(vendor, members);
        }
    }
    let mut patch = json_patch::diff(&masked_from, &masked_to);
    // Both sides masked to "***" hide a change of the credential itself: report it.
    for key in vendor.secret_keys() {
        let (Some(before), Some(after)) = (from.get(key), to.get(key)) else {
            continue;
        };
        if before != after && secrets::holds_secret(before) && secrets::holds_secret(after) {
            patch.0.push(PatchOperation::Replace(ReplaceOperation {
                path: PointerBuf::from_tokens([key]),
                value: Value::String(MASK.to_owned()),
            }));
        }
    }
    patch
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;
    use serde_json::json;

    fn patch(from: &Value, to: &Value) -> Value {
        let meta = catalog::vendor("meta_capi").expect("meta_capi is in the catalog");
        serde_json::to_value(diff_configs(meta, from, to)).expect("a patch serialises")
    }

    #[test]
    fn identical_configs_have_an_empty_patch() {
        let config =
            json!({ "pixel_id": "1", "access_token": "secret", "nested": { "a": [1, 2] } });
        assert_eq!(patch(&config, &config), json!([]));
    }

    #[test]
    fn nested_changes_use_json_pointers() {
        assert_eq!(
            patch(
                &json!({ "nested": { "a/b": [1, 2] }, "gone": true }),
                &json!({ "nested": { "a/b": [1, 3] }, "new": "x" })
            ),
            json!([
                { "op": "replace", "path": "/nested/a~1b/1", "value": 3 },
                { "op": "add", "path": "/new", "value": "x" },
                { "op": "remove", "path": "/gone" }
            ])
        );
    }

    #[test]
    fn secrets_are_reported_without_their_values() {
        let added = patch(&json!({}), &json!({ "access_token": "canary-1" }));
        assert_eq!(
            added,
            json!([{ "op": "add", "path": "/access_token", "value": "***" }])
        );
        let removed = patch(&json!({ "access_token": "canary-1" }), &json!({}));
        assert_eq!(
            removed,
            json!([{ "op": "remove", "path": "/access_token" }])
        );
        let to_reference = patch(
            &json!({ "access_token": "canary-1" }),
            &json!({ "access_token": "{{pipeline_param.token}}" }),
        );
        assert_eq!(
            to_reference,
            json!([{ "op": "replace", "path": "/access_token", "value": "{{pipeline_param.token}}" }])
        );
        let from_reference = patch(
            &json!({ "access_token": "{{pipeline_param.token}}" }),
            &json!({ "access_token": "canary-2" }),
        );
        assert_eq!(
            from_reference,
            json!([{ "op": "replace", "path": "/access_token", "value": "***" }])
        );
        for text in [added, removed, from_reference] {
            assert!(!text.to_string().contains("canary"));
        }
    }

    #[test]
    fn applying_the_patch_to_the_source_gives_the_target_for_non_secret_fields() {
        let from = json!({ "pixel_id": "1", "events": ["a", "b"], "x": { "y": 1 } });
        let to = json!({ "pixel_id": "2", "events": ["b"], "x": { "z": null } });
        let meta = catalog::vendor("meta_capi").expect("meta_capi is in the catalog");
        let mut doc = from.clone();
        json_patch::patch(&mut doc, &diff_configs(meta, &from, &to)).expect("the patch applies");
        assert_eq!(doc, to);
    }
}
