//! Revision diffs as RFC 6902 JSON Patch, with secret values hidden.

use json_patch::jsonptr::PointerBuf;
use json_patch::{Patch, PatchOperation, ReplaceOperation};
use serde_json::Value;

use crate::catalog::Vendor;
use crate::secrets::{self, MASK};

/// The JSON Patch that turns config `from` into config `to`, both as stored.
///
/// Secret positions of `vendor` (secret fields, and the values of objects
/// whose values are secrets) never show their values: a secret that was added
/// appears as `add` of `"***"`, a removed one as `remove`, and a changed one as
/// `replace` with `"***"` — so a reader learns *that* a credential changed,
/// never what it was or became. Whether it changed is decided by version id
/// ([`secrets::same_version`]): a value entered again shows as changed even
/// when its text is the same, a value carried over (an echoed `"***"`, a
/// restore) as unchanged; plaintexts are never compared. A placeholder in a
/// secret position is a name, not a credential, and is shown.
///
/// ```
/// use integrations_domain::{catalog, diff::diff_configs};
/// use serde_json::json;
///
/// let meta = catalog::vendor("meta_capi").unwrap();
/// let patch = diff_configs(
///     meta,
///     &json!({ "pixel_id": "1", "access_token": "enc:v2:VERSION1", "batch_size": 50 }),
///     &json!({ "pixel_id": "1", "access_token": "enc:v2:VERSION2", "batch_size": 100 }),
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
    let (Value::Object(from), Value::Object(to)) = (from, to) else {
        return patch;
    };
    for path in secrets::secret_paths(vendor, from) {
        let (Some(before), Some(after)) = (path.get(from), path.get(to)) else {
            continue;
        };
        if secrets::holds_secret(before)
            && secrets::holds_secret(after)
            && !secrets::same_version(before, after)
        {
            patch.0.push(PatchOperation::Replace(ReplaceOperation {
                path: PointerBuf::from_tokens(path.tokens()),
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
    fn secrets_are_compared_by_version_never_by_text() {
        let one = json!({ "access_token": "enc:v2:VERSION1" });
        // Carried over (echo, restore): the same version, unchanged.
        assert_eq!(patch(&one, &one.clone()), json!([]));
        // Entered again: a new version, changed — whatever the plaintext.
        assert_eq!(
            patch(&one, &json!({ "access_token": "enc:v2:VERSION2" })),
            json!([{ "op": "replace", "path": "/access_token", "value": "***" }])
        );
        // A value sealed inline before version ids, and its carried-over reference.
        let legacy = json!({ "access_token": "enc:v1:1a2b3c4d:AAECAwQFBgcICQoLDA0ODxAREhMU" });
        let carried = json!({ "access_token": "enc:v2:v1-AAECAwQFBgcICQoL" });
        assert_eq!(patch(&legacy, &carried), json!([]));
        assert_eq!(
            patch(&legacy, &one),
            json!([{ "op": "replace", "path": "/access_token", "value": "***" }])
        );
    }

    #[test]
    fn secret_sub_keys_are_diffed_one_by_one() {
        let webhook = catalog::vendor("webhook").expect("webhook is in the catalog");
        let from = json!({ "headers": {
            "Kept": "enc:v2:K", "Changed": "enc:v2:C1", "Gone": "enc:v2:G", "Named": "{{pipeline_param.a}}"
        } });
        let to = json!({ "headers": {
            "Kept": "enc:v2:K", "Changed": "enc:v2:C2", "New": "enc:v2:N", "Named": "{{pipeline_param.b}}"
        } });
        let patch = serde_json::to_value(diff_configs(webhook, &from, &to)).expect("serialises");
        let mut ops: Vec<String> = patch
            .as_array()
            .expect("an array")
            .iter()
            .map(|op| {
                format!(
                    "{} {} {}",
                    op["op"].as_str().unwrap_or_default(),
                    op["path"].as_str().unwrap_or_default(),
                    op["value"]
                )
            })
            .collect();
        ops.sort();
        assert_eq!(
            ops,
            [
                "add /headers/New \"***\"",
                "remove /headers/Gone null",
                "replace /headers/Changed \"***\"",
                "replace /headers/Named \"{{pipeline_param.b}}\"",
            ]
        );
        assert!(!patch.to_string().contains("enc:"), "{patch}");
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
