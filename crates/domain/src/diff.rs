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
    let mut patch = if patch_bound(&masked_from, &masked_to) <= MAX_FINE_PATCH_BYTES {
        json_patch::diff(&masked_from, &masked_to)
    } else {
        // Every operation of a fine-grained patch spells out its whole path:
        // a config with a long path above many changed items would make a
        // patch of gigabytes. Past the bound, one `replace` of the whole
        // config says the same thing in the size of the config.
        Patch(vec![PatchOperation::Replace(ReplaceOperation {
            path: PointerBuf::new(),
            value: masked_to,
        })])
    };
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

/// The JSON Patch between two **rendered** configs (placeholders
/// substituted), shown without a secret: which values changed is decided on
/// the configs in clear (`from`, `to`), and what an operation shows comes
/// from `masked_to`, the same config as `to` with its secrets masked. A
/// credential that changed is therefore a `replace` with `"***"`, even
/// where both sides read `"***"` once masked; one that did not change is no
/// operation at all. `masked_to` must have `to`'s shape (masking replaces
/// values, never removes them).
///
/// Past [`MAX_FINE_PATCH_BYTES`], as for [`diff_configs`], the patch is one
/// `replace` of the whole (masked) config.
///
/// ```
/// use integrations_domain::diff::diff_rendered;
/// use serde_json::json;
///
/// let from = json!({ "pixel_id": "1", "access_token": "EAAB-old", "batch_size": 50 });
/// let to = json!({ "pixel_id": "1", "access_token": "EAAB-new", "batch_size": 100 });
/// let masked_to = json!({ "pixel_id": "1", "access_token": "***", "batch_size": 100 });
/// let patch = diff_rendered(&from, &to, &masked_to);
/// assert_eq!(serde_json::to_value(&patch).unwrap(), json!([
///     { "op": "replace", "path": "/access_token", "value": "***" },
///     { "op": "replace", "path": "/batch_size", "value": 100 }
/// ]));
/// ```
pub fn diff_rendered(from: &Value, to: &Value, masked_to: &Value) -> Patch {
    if patch_bound(from, to) > MAX_FINE_PATCH_BYTES {
        return Patch(vec![PatchOperation::Replace(ReplaceOperation {
            path: PointerBuf::new(),
            value: masked_to.clone(),
        })]);
    }
    let mut changes = json_patch::diff(from, to);
    for operation in &mut changes.0 {
        let (path, value) = match operation {
            PatchOperation::Add(op) => (&op.path, &mut op.value),
            PatchOperation::Replace(op) => (&op.path, &mut op.value),
            PatchOperation::Test(op) => (&op.path, &mut op.value),
            PatchOperation::Remove(_) | PatchOperation::Move(_) | PatchOperation::Copy(_) => {
                continue;
            }
        };
        *value = path
            .resolve(masked_to)
            .cloned()
            .unwrap_or_else(|_| Value::String(MASK.to_owned()));
    }
    changes
}

/// The largest fine-grained patch [`diff_configs`] computes, judged by an upper
/// bound on its size estimated before computing it: 16 MiB (a config is at
/// most 1 MiB, so an ordinary patch is far below it). Past it, the diff is one
/// `replace` of the whole config.
pub const MAX_FINE_PATCH_BYTES: u64 = 16 * 1024 * 1024;

/// An upper bound on the bytes of the patch `json_patch::diff` makes from
/// `from` to `to`: at most one operation per value of either side, each with
/// a path no longer than the longest path there is and a value no larger
/// than `to`'s whole text. Linear in the size of the configs; allocates nothing.
fn patch_bound(from: &Value, to: &Value) -> u64 {
    /// (values, longest path in bytes, text bytes) of `value` below a path of `depth_bytes`.
    fn walk(value: &Value, depth_bytes: u64, acc: &mut (u64, u64, u64)) {
        acc.0 += 1;
        acc.1 = acc.1.max(depth_bytes);
        match value {
            Value::Object(members) => {
                for (key, member) in members {
                    // `/` plus the key, escapes included at most doubling it.
                    let step = 1 + 2 * key.len() as u64;
                    acc.2 += step + 2;
                    walk(member, depth_bytes + step, acc);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let step = 1 + (u64::from(i.max(1).ilog10()) + 1);
                    acc.2 += 1;
                    walk(item, depth_bytes + step, acc);
                }
            }
            Value::String(text) => acc.2 += 2 * text.len() as u64 + 2,
            _ => acc.2 += 24,
        }
    }
    let mut from_acc = (0, 0, 0);
    let mut to_acc = (0, 0, 0);
    walk(from, 0, &mut from_acc);
    walk(to, 0, &mut to_acc);
    let operations = from_acc.0 + to_acc.0;
    let longest_path = from_acc.1.max(to_acc.1);
    // Per operation: its path, a little JSON around it; the values written are
    // at most `to`'s text in all (each value of `to` is written at most once
    // per operation that adds or replaces it, and those do not overlap).
    operations
        .saturating_mul(longest_path + 32)
        .saturating_add(to_acc.2)
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

    /// An editor's config with a long path above many changed items: the
    /// fine-grained patch would repeat the 100 KB path 50,000 times (5 GB).
    /// The diff answers one whole-config `replace` instead, which still
    /// applies to give the target.
    #[test]
    fn a_patch_that_would_repeat_a_long_path_is_one_replace() {
        let key = "k".repeat(100_000);
        let from = json!({ key.clone(): vec![0; 50_000] });
        let to = json!({ key: vec![1; 50_000] });
        assert!(patch_bound(&from, &to) > MAX_FINE_PATCH_BYTES);
        let webhook = catalog::vendor("webhook").expect("webhook is in the catalog");
        let patch = diff_configs(webhook, &from, &to);
        assert_eq!(patch.0.len(), 1);
        let mut doc = from.clone();
        json_patch::patch(&mut doc, &patch).expect("the patch applies");
        assert_eq!(doc, to);
    }

    #[test]
    fn the_bound_holds_for_ordinary_patches() {
        let from = json!({ "pixel_id": "1", "events": ["a", "b"], "x": { "y": 1 }, "deep": [[{"a": "b"}]] });
        let to = json!({ "pixel_id": "2", "events": ["b", "c", "d"], "x": { "z": null }, "deep": [[{"a": "c"}], 3] });
        let actual = serde_json::to_vec(&json_patch::diff(&from, &to))
            .expect("serialises")
            .len() as u64;
        assert!(
            actual <= patch_bound(&from, &to),
            "{actual} > {}",
            patch_bound(&from, &to)
        );
        assert!(patch_bound(&from, &to) < MAX_FINE_PATCH_BYTES);
    }

    mod rendered {
        use proptest::prelude::*;
        use serde_json::{Value, json};

        use super::super::diff_rendered;

        /// Masks every string that starts with `s:` (a secret, for these tests).
        fn masked(value: &Value) -> Value {
            match value {
                Value::String(text) if text.starts_with("s:") => json!("***"),
                Value::Array(items) => Value::Array(items.iter().map(masked).collect()),
                Value::Object(members) => Value::Object(
                    members
                        .iter()
                        .map(|(k, v)| (k.clone(), masked(v)))
                        .collect(),
                ),
                other => other.clone(),
            }
        }

        fn patch(from: &Value, to: &Value) -> Value {
            serde_json::to_value(diff_rendered(from, to, &masked(to))).expect("serialises")
        }

        #[test]
        fn an_unchanged_secret_is_no_operation_and_a_changed_one_shows_masked() {
            let from = json!({ "token": "s:a", "keys": { "k": "s:b" }, "n": 1 });
            assert_eq!(patch(&from, &from), json!([]));
            let to = json!({ "token": "s:a", "keys": { "k": "s:c", "new": "s:d" }, "n": 1 });
            assert_eq!(
                patch(&from, &to),
                json!([
                    { "op": "replace", "path": "/keys/k", "value": "***" },
                    { "op": "add", "path": "/keys/new", "value": "***" },
                ])
            );
        }

        fn config() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                "s:[a-c]{1,2}".prop_map(Value::from),
                "[a-c]{1,2}".prop_map(Value::from),
                (0..3_i64).prop_map(Value::from),
            ];
            leaf.prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    prop::collection::btree_map("[a-d]", inner, 0..4)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        /// Whether `value` holds a secret (an `s:` string) anywhere.
        fn holds_secret(value: &Value) -> bool {
            match value {
                Value::String(text) => text.starts_with("s:"),
                Value::Array(items) => items.iter().any(holds_secret),
                Value::Object(members) => members.values().any(holds_secret),
                _ => false,
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// No operation ever shows a secret, and the patch is empty
            /// exactly when the configs in clear are equal.
            #[test]
            fn no_operation_shows_a_secret(
                from in prop::collection::btree_map("[a-d]", config(), 0..4),
                to in prop::collection::btree_map("[a-d]", config(), 0..4),
            ) {
                let from = Value::Object(from.into_iter().collect());
                let to = Value::Object(to.into_iter().collect());
                let found = patch(&from, &to);
                prop_assert!(!holds_secret(&found), "{found}");
                prop_assert_eq!(found.as_array().is_some_and(Vec::is_empty), from == to);
            }
        }
    }
}
